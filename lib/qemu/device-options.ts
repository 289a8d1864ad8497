// -device for the device models node-kvm has, with QEMU 7.2's type names,
// categories and property names (qdev-monitor.c; `-device NAME,help` of this
// host's QEMU), and the `-device help` list in QEMU's format.
import { QemuOptionError } from './qemu-error';
import { parseCInteger, parseQapiBool, qemuStrtosz, type OptPair } from './qemu-opts';
import type { QemuChardev, QemuDeviceOption } from './command';

type PropKind = 'uint32' | 'chardev' | 'str' | 'bool' | 'size';

interface DeviceModel {
  bus: 'ISA' | 'PCI';
  /** QEMU's DeviceCategory (include/hw/qdev-core.h). */
  category: 'Input' | 'Misc';
  desc?: string;
  props: Record<string, PropKind>;
}

export const DEVICE_MODELS: Record<QemuDeviceOption['driver'], DeviceModel> = {
  'isa-debug-exit': { bus: 'ISA', category: 'Misc', props: { iobase: 'uint32', iosize: 'uint32' } },
  'isa-debugcon': { bus: 'ISA', category: 'Misc', props: { chardev: 'chardev', iobase: 'uint32', readback: 'uint32' } },
  'isa-serial': { bus: 'ISA', category: 'Input', props: { baudbase: 'uint32', chardev: 'chardev', index: 'uint32', iobase: 'uint32', irq: 'uint32', wakeup: 'bool' } },
  'pc-testdev': { bus: 'ISA', category: 'Misc', props: {} },
  'pci-testdev': {
    bus: 'PCI', category: 'Misc', desc: 'PCI Test Device',
    props: { 'acpi-index': 'uint32', addr: 'str', failover_pair_id: 'str', membar: 'size', multifunction: 'bool', rombar: 'uint32', romfile: 'str', romsize: 'uint32' },
  },
};

/** Properties every device has (qdev: id, and the bus to plug it in). */
const COMMON_PROPS = ['id', 'bus'];

const isModel = (name: string): name is QemuDeviceOption['driver'] => Object.hasOwn(DEVICE_MODELS, name);

/** One -device, checked against its model as qdev_device_add does, with QEMU's messages. */
export function deviceOf(list: OptPair[], chardevs: QemuChardev[], location: string): QemuDeviceOption {
  const driver = list.find(([k]) => k === 'driver')?.[1];
  if (driver === undefined) throw new QemuOptionError("Parameter 'driver' is missing", location);
  if (!isModel(driver)) throw new QemuOptionError(`'${driver}' is not a valid device model name`, location);
  const model = DEVICE_MODELS[driver];
  const props = list.filter(([k]) => k !== 'driver');
  for (const [key, value] of props) {
    if (COMMON_PROPS.includes(key)) continue;
    const kind = model.props[key];
    if (kind === undefined) throw new QemuOptionError(`Property '${driver}.${key}' not found`, location);
    checkPropValue(key, kind, value, location);
    if (kind === 'chardev' && !chardevs.some((c) => c.id === value)) {
      throw new QemuOptionError(`Property '${driver}.${key}' can't find value '${value}'`, location);
    }
  }
  return { driver, props, location };
}

/** A property value through QEMU's keyval visitor for its type (qapi/qobject-input-visitor.c, qapi-visit-core.c). */
function checkPropValue(key: string, kind: PropKind, value: string, location: string): void {
  if (kind === 'uint32') {
    const v = parseCInteger(value, true);
    if (v === undefined) throw new QemuOptionError(`Parameter '${key}' expects integer`, location);
    if (v < 0n || v > 0xffffffffn) throw new QemuOptionError(`Parameter '${key}' expects uint32_t`, location);
  }
  if (kind === 'size' && typeof qemuStrtosz(value) !== 'object') throw new QemuOptionError(`Parameter '${key}' expects size`, location);
  if (kind === 'bool' && parseQapiBool(value) === undefined) throw new QemuOptionError(`Parameter '${key}' expects 'on' or 'off'`, location);
}

/** qdev-monitor.c's category names, in its order (DEVICE_CATEGORY_*, then the uncategorized). */
const CATEGORIES = ['Controller/Bridge/Hub', 'USB', 'Storage', 'Network', 'Input', 'Display', 'Sound', 'Misc', 'CPU', 'Watchdog'];

/**
 * `-device help` as qdev_print_devinfos prints it: by category, names sorted,
 * each header after a blank line unless it is the first category QEMU has
 * (so with no bridges listed, the text starts with a blank line, as QEMU's would).
 */
export function formatDeviceHelp(): string {
  let out = '';
  CATEGORIES.forEach((category, i) => {
    const names = Object.keys(DEVICE_MODELS).filter((n) => DEVICE_MODELS[n as QemuDeviceOption['driver']].category === category).sort();
    if (names.length === 0) return;
    out += `${i ? '\n' : ''}${category} devices:\n`;
    for (const name of names) {
      const m = DEVICE_MODELS[name as QemuDeviceOption['driver']];
      out += `name "${name}", bus ${m.bus}${m.desc ? `, desc "${m.desc}"` : ''}\n`;
    }
  });
  return out;
}
