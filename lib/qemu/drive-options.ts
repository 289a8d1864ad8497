// -drive, -hda..-hdd and a bare image name: QEMU 7.2's drive_new()
// (blockdev.c) for the interface node-kvm's pc machine has, IDE: two buses
// of two units, index = bus * 2 + unit; and the pc machine's claim of those
// four (a drive elsewhere is "orphaned", softmmu/vl.c drive_check_orphaned).
import { QemuOptionError } from './qemu-error';
import { parseCInteger, parseQapiBool, type OptPair } from './qemu-opts';
import type { QemuDrive } from './command';

/** blockdev.c if_name[]: the interfaces QEMU knows. */
const INTERFACES = ['none', 'ide', 'scsi', 'floppy', 'pflash', 'mtd', 'sd', 'virtio', 'xen'];
const IDE_UNITS_PER_BUS = 2;
const PC_IDE_BUSES = 2;

/** drive_new()'s own options; any other key goes to the format driver, which for raw accepts none. */
const DRIVE_KEYS = ['file', 'format', 'if', 'index', 'bus', 'unit', 'media', 'snapshot', 'readonly', 'cache', 'aio', 'discard', 'werror', 'rerror', 'id'];

function numberOption(pairs: Map<string, string>, key: string, fallback: number, location: string): number {
  const text = pairs.get(key);
  if (text === undefined) return fallback;
  const v = parseCInteger(text, false);
  if (v === undefined) throw new QemuOptionError(`Parameter '${key}' expects a number`, location);
  return Number(BigInt.asIntN(32, v));
}

function boolOption(pairs: Map<string, string>, key: string, fallback: boolean, location: string): boolean {
  const text = pairs.get(key);
  if (text === undefined) return fallback;
  const v = parseQapiBool(text);
  if (v === undefined) throw new QemuOptionError(`Parameter '${key}' expects 'on' or 'off'`, location);
  return v;
}

/**
 * The drive for one option (its QemuOpts pairs, later keys winning), given
 * the drives before it; `snapshotAll` is -snapshot. Checks in drive_new()'s
 * order, with its messages.
 */
export function driveOf(list: OptPair[], location: string, before: QemuDrive[], snapshotAll: boolean): QemuDrive {
  const pairs = new Map(list);
  const iface = pairs.get('if') ?? 'ide';
  if (!INTERFACES.includes(iface)) throw new QemuOptionError(`unsupported bus type '${iface}'`, location);
  let bus = numberOption(pairs, 'bus', 0, location);
  let unit = numberOption(pairs, 'unit', -1, location);
  const index = numberOption(pairs, 'index', -1, location);
  if (index !== -1) {
    if (bus !== 0 || unit !== -1) throw new QemuOptionError('index cannot be used with bus and unit', location);
    bus = Math.floor(index / IDE_UNITS_PER_BUS);
    unit = index % IDE_UNITS_PER_BUS;
  }
  const taken = (b: number, u: number) => before.some((d) => d.bus === b && d.unit === u);
  if (unit === -1) {
    unit = 0;
    while (taken(bus, unit)) {
      if (++unit >= IDE_UNITS_PER_BUS) {
        unit -= IDE_UNITS_PER_BUS;
        bus++;
      }
    }
  }
  if (unit >= IDE_UNITS_PER_BUS) throw new QemuOptionError(`unit ${unit} too big (max is ${IDE_UNITS_PER_BUS - 1})`, location);
  if (taken(bus, unit)) throw new QemuOptionError(`drive with bus=${bus}, unit=${unit} (index=${index}) exists`, location);
  const mediaText = pairs.get('media');
  if (mediaText !== undefined && mediaText !== 'disk' && mediaText !== 'cdrom') throw new QemuOptionError(`'${mediaText}' invalid media`, location);
  const media = mediaText === 'cdrom' ? 'cdrom' : 'disk';
  // -snapshot is every drive's default; an explicit snapshot= wins.
  const snapshot = boolOption(pairs, 'snapshot', snapshotAll, location);
  const readOnly = boolOption(pairs, 'readonly', false, location) || media === 'cdrom';
  const file = pairs.get('file');
  const format = pairs.get('format');
  if (file === undefined && format === undefined) throw new QemuOptionError('Must specify either driver or file', location);
  // Formats other than raw are not in node-kvm: QEMU built without them says the same.
  if (format !== undefined && format !== 'raw') throw new QemuOptionError(`Unknown driver '${format}'`, location);
  if (file === undefined) throw new QemuOptionError("A block device must be specified for \"file\"", location);
  const extra = [...pairs.keys()].find((k) => !DRIVE_KEYS.includes(k));
  if (extra !== undefined) throw new QemuOptionError(`Block format 'raw' does not support the option '${extra}'`, location);
  // A snapshot overlay needs a writable node under it (block.c bdrv_open_inherit).
  if (snapshot && readOnly) throw new QemuOptionError('Block node is read-only');
  if (iface !== 'ide' || bus >= PC_IDE_BUSES) {
    throw new QemuOptionError(`machine type does not support if=${iface},bus=${bus},unit=${unit}`, location);
  }
  return { location, file, format: format === 'raw' ? 'raw' : null, bus, unit, index: bus * IDE_UNITS_PER_BUS + unit, media, snapshot, readOnly };
}
