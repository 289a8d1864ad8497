// node-kvm-qemu's command line: QEMU 7.2's options (qemu-options.hx) for
// what node-kvm's pc machine can do, parsed as softmmu/vl.c parses them.
// QEMU checks in phases, and the first error of the first phase that has one
// is the one it reports, so this checks in the same order (measured against
// qemu-system-x86_64 7.2, test/fixtures/qemu-cmdline): the option loop (an
// unknown option, a missing argument, QemuOpts syntax, -monitor/-qmp, -h,
// -version, -accel help at once), -machine help, -append/-initrd without
// -kernel, -cpu help, -device help, -rtc, the machine type, -vga, -chardev,
// -drive, -boot, the machine's properties (-m, -smp, ...), the accelerator,
// -serial, -fw_cfg, and -device last.
import { QemuOptionError, type QemuWarning } from './qemu-error';
import { parseKeyval, parseQemuOpts, qemuStrtosz, type OptPair, type OptType } from './qemu-opts';
import { applyMachineProps, MACHINE_TYPES, MachineDict } from './machine-props';
import { driveOf } from './drive-options';
import { CHARDEV_DESC, chardevOf, checkMonitor, serialOf } from './chardev-options';
import { deviceOf } from './device-options';
import {
  acceleratorOf, defaultSerialsAndMonitors, fwCfgOf, LEGACY_ACCEL_KEYS, parseCpu, parseGlobal, rtcBaseOf, traceOf, validateBootOrder,
} from './cmdline-rules';
import type { QemuCommand, QemuGlobal, QemuParseResult } from './command';

/** Options that take an argument (true) or not (false), by QEMU's name (qemu-options.hx). */
const OPTIONS: Record<string, boolean> = {
  machine: true, M: true, accel: true, 'enable-kvm': false, m: true, smp: true, cpu: true, bios: true, L: true,
  drive: true, hda: true, hdb: true, hdc: true, hdd: true, snapshot: false, serial: true, chardev: true, device: true,
  nodefaults: false, display: true, nographic: false, vga: true, 'no-reboot': false, 'no-shutdown': false, S: false,
  s: false, gdb: true, global: true, monitor: true, qmp: true, trace: true, kernel: true, append: true, initrd: true,
  boot: true, name: true, rtc: true, 'no-acpi': false, fw_cfg: true, d: true, D: true, k: true, usb: false,
  h: false, help: false, version: false,
};

/** QemuOpts lists with a description (checked while parsing): util/qemu-config.c, softmmu/vl.c. */
const DESC: Record<string, Record<string, OptType>> = {
  memory: { size: 'size', slots: 'number', maxmem: 'size' },
  trace: { enable: 'string', events: 'string', file: 'string' },
  boot: { order: 'string', once: 'string', menu: 'bool', splash: 'string', 'splash-time': 'number', 'reboot-timeout': 'number', strict: 'bool' },
  rtc: { base: 'string', clock: 'string', driftfix: 'string' },
  fw_cfg: { name: 'string', file: 'string', string: 'string', gen_id: 'string' },
  name: { guest: 'string', process: 'string', 'debug-threads': 'bool' },
};

const isHelp = (v: string | undefined) => v === 'help' || v === '?';

/** DisplayOptions' members common to every display type (qapi/ui.json), the ones -display none takes. */
const DISPLAY_KEYS = ['type', 'full-screen', 'window-close', 'show-cursor', 'gl'];

/** QemuOpts refuses a second set of options with the same id= in one list (qemu_opts_create). */
function withUniqueId(pairs: OptPair[], before: { pairs: OptPair[] }[], list: string, location: string): OptPair[] {
  const idOf = (p: OptPair[]) => p.find(([k]) => k === 'id')?.[1];
  const id = idOf(pairs);
  if (id !== undefined && before.some((b) => idOf(b.pairs) === id)) throw new QemuOptionError(`Duplicate ID '${id}' for ${list}`, location);
  return pairs;
}

/** What the option loop gathers, before the later phases check it. */
export interface RawCommand {
  machine: MachineDict;
  accels: { name: string; props: OptPair[]; location: string }[];
  cpu: string | null;
  dataDirs: string[];
  drives: { pairs: OptPair[]; location: string }[];
  snapshot: boolean;
  chardevs: { pairs: OptPair[]; location: string }[];
  serials: { text: string; location: string }[];
  monitors: { mode: 'readline' | 'control'; text: string; location: string }[];
  devices: { pairs: OptPair[]; location: string }[];
  globals: QemuGlobal[];
  nodefaults: boolean;
  display: string | null;
  nographic: boolean;
  vga: string | null;
  flags: Set<string>;
  gdb: string | null;
  trace: OptPair[];
  boot: OptPair[];
  name: string | null;
  rtcBase: string | null;
  fwCfg: { pairs: OptPair[]; location: string }[];
  logItems: string | null;
  logFile: string | null;
  keyboard: string | null;
  /** Help requests that QEMU answers after reading all options. */
  help: Set<'machine-help' | 'cpu-help' | 'device-help'>;
  warnings: QemuWarning[];
}

function emptyRaw(warnings: QemuWarning[]): RawCommand {
  return {
    machine: new MachineDict(), accels: [], cpu: null, dataDirs: [], drives: [], snapshot: false, chardevs: [], serials: [],
    monitors: [], devices: [], globals: [], nodefaults: false, display: null, nographic: false, vga: null, flags: new Set(),
    gdb: null, trace: [], boot: [], name: null, rtcBase: null, fwCfg: [], logItems: null, logFile: null, keyboard: null,
    help: new Set(), warnings,
  };
}

/** -hda..-hdd, and a bare image name: drive_add(IF_DEFAULT, index, FILE, "media=disk"). */
const HD_INDEX: Record<string, number> = { hda: 0, hdb: 1, hdc: 2, hdd: 3 };

/** Reads one option into `raw`; returns an info request that ends parsing there, as QEMU exits there. */
function readOption(raw: RawCommand, name: string, arg: string, location: string): QemuParseResult | undefined {
  const w = raw.warnings;
  const opts = (implied?: string, desc?: Record<string, OptType>) => parseQemuOpts(arg, { implied, desc }, location, w);
  switch (name) {
    case 'h': case 'help': return { kind: 'help' };
    case 'version': return { kind: 'version' };
    case 'M': case 'machine': {
      const pairs = parseKeyval(arg, 'type', location);
      if (isHelp(pairs.find(([k]) => k === 'type')?.[1])) raw.help.add('machine-help');
      else for (const [k, v] of pairs) raw.machine.set(k, v);
      return undefined;
    }
    case 'accel': {
      const pairs = opts('accel');
      const accel = pairs.find(([k]) => k === 'accel')?.[1];
      if (accel === undefined || isHelp(accel)) return { kind: 'accel-help' };
      raw.accels.push({ name: accel, props: pairs.filter(([k]) => k !== 'accel'), location });
      return undefined;
    }
    // QEMU 7.2 takes -enable-kvm for -machine accel=kvm.
    case 'enable-kvm': raw.machine.set('accel', 'kvm'); return undefined;
    case 'm': {
      // set_memory_options: a size without a suffix is in MiB.
      const pairs = new Map(opts('size', DESC.memory));
      const size = pairs.get('size');
      const bytes = size === undefined ? 0n : qemuStrtosz(size);
      if (typeof bytes === 'object' && bytes.value !== 0n) raw.machine.set('memory.size', /[0-9]$/.test(size!) ? `${size}M` : size!);
      if (pairs.has('maxmem')) raw.machine.set('memory.max-size', pairs.get('maxmem')!);
      if (pairs.has('slots')) raw.machine.set('memory.slots', pairs.get('slots')!);
      return undefined;
    }
    case 'smp': for (const [k, v] of opts('cpus')) raw.machine.set(`smp.${k}`, v); return undefined;
    case 'cpu': if (isHelp(arg)) raw.help.add('cpu-help'); else raw.cpu = arg; return undefined;
    case 'bios': raw.machine.set('firmware', arg); return undefined;
    case 'kernel': case 'append': case 'initrd': raw.machine.set(name, arg); return undefined;
    case 'L': raw.dataDirs.push(arg); return undefined;
    case 'drive': raw.drives.push({ pairs: withUniqueId(opts(), raw.drives, 'drive', location), location }); return undefined;
    case 'hda': case 'hdb': case 'hdc': case 'hdd':
      raw.drives.push({ pairs: [['file', arg], ['index', String(HD_INDEX[name])], ['media', 'disk']], location });
      return undefined;
    case 'snapshot': raw.snapshot = true; return undefined;
    case 'chardev': raw.chardevs.push({ pairs: withUniqueId(opts('backend', CHARDEV_DESC), raw.chardevs, 'chardev', location), location }); return undefined;
    case 'serial': raw.serials.push({ text: arg, location }); return undefined;
    case 'monitor': case 'qmp':
      // monitor_parse() builds the monitor's chardev options at once.
      checkMonitor(arg, location);
      raw.monitors.push({ mode: name === 'qmp' ? 'control' : 'readline', text: arg, location });
      return undefined;
    case 'device': {
      const pairs = opts('driver');
      if (isHelp(pairs.find(([k]) => k === 'driver')?.[1])) raw.help.add('device-help');
      else raw.devices.push({ pairs: withUniqueId(pairs, raw.devices, 'device', location), location });
      return undefined;
    }
    case 'global': raw.globals.push(parseGlobal(arg, location, w)); return undefined;
    case 'nodefaults': raw.nodefaults = true; return undefined;
    case 'display': {
      const pairs = parseKeyval(arg, 'type', location);
      const type = pairs.find(([k]) => k === 'type')?.[1];
      if (type !== 'none') throw new QemuOptionError(`Parameter 'type' does not accept value '${type ?? ''}'`, location);
      const extra = pairs.find(([k]) => !DISPLAY_KEYS.includes(k));
      if (extra) throw new QemuOptionError(`Parameter '${extra[0]}' is unexpected`, location);
      raw.display = type;
      return undefined;
    }
    case 'nographic': raw.nographic = true; return undefined;
    case 'vga': raw.vga = arg; return undefined;
    case 's': raw.gdb = 'tcp::1234'; return undefined;
    case 'gdb': raw.gdb = arg; return undefined;
    case 'trace': raw.trace.push(...opts('enable', DESC.trace)); return undefined;
    case 'boot': raw.boot.push(...opts('order', DESC.boot)); return undefined;
    case 'name': raw.name = new Map(opts('guest', DESC.name)).get('guest') ?? raw.name; return undefined;
    case 'rtc': raw.rtcBase = new Map(opts(undefined, DESC.rtc)).get('base') ?? raw.rtcBase; return undefined;
    case 'fw_cfg': raw.fwCfg.push({ pairs: opts('name', DESC.fw_cfg), location }); return undefined;
    case 'd': raw.logItems = arg; return undefined;
    case 'D': raw.logFile = arg; return undefined;
    case 'k': raw.keyboard = arg; return undefined;
    case 'usb': raw.machine.set('usb', 'on'); return undefined;
    default: raw.flags.add(name); return undefined;
  }
}

/** Reads argv (without the program name) as QEMU's option loop does. */
export function readOptions(argv: string[], warnings: QemuWarning[]): QemuParseResult | RawCommand {
  const raw = emptyRaw(warnings);
  for (let i = 0; i < argv.length; i++) {
    const written = argv[i];
    if (!written.startsWith('-')) {
      raw.drives.push({ pairs: [['file', written], ['index', '0'], ['media', 'disk']], location: written });
      continue;
    }
    // QEMU takes --opt for -opt.
    const name = written.slice(written.startsWith('--') ? 2 : 1);
    const hasArg = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : undefined;
    if (hasArg === undefined) throw new QemuOptionError(`${written}: invalid option`);
    let arg = '';
    let location = written;
    if (hasArg) {
      if (i + 1 >= argv.length) throw new QemuOptionError(`${written}: requires an argument`);
      arg = argv[++i];
      location = `${written} ${arg}`;
    }
    const info = readOption(raw, name, arg, location);
    if (info) return info;
  }
  return raw;
}

/**
 * Parses a QEMU command line (argv without the program name) into what it
 * asks for: a machine to run, or information to print. Throws
 * QemuOptionError with QEMU's text for the error QEMU would report.
 */
export function parseQemuCommandLine(argv: string[]): QemuParseResult {
  const warnings: QemuWarning[] = [];
  try {
    return parseWith(argv, warnings);
  } catch (err) {
    if (err instanceof QemuOptionError) err.warningsBefore = warnings;
    throw err;
  }
}

function parseWith(argv: string[], warnings: QemuWarning[]): QemuParseResult {
  const raw = readOptions(argv, warnings);
  if ('kind' in raw) return raw;
  const dict = raw.machine;
  if (raw.help.has('machine-help')) return { kind: 'machine-help' };
  if (!dict.has('kernel')) {
    if (dict.has('append')) throw new QemuOptionError('-append only allowed with -kernel option');
    if (dict.has('initrd')) throw new QemuOptionError('-initrd only allowed with -kernel option');
  }
  if (raw.help.has('cpu-help')) return { kind: 'cpu-help' };
  if (raw.help.has('device-help')) return { kind: 'device-help' };
  const rtcBase = rtcBaseOf(raw.rtcBase);
  const type = dict.flat.get('type') ?? 'pc';
  if (MACHINE_TYPES[type] === undefined) throw new QemuOptionError('unsupported machine type', null, 'Use -machine help to list supported machines\n');
  const legacyAccel = dict.flat.get('accel');
  const legacyAccelProps: OptPair[] = LEGACY_ACCEL_KEYS.filter((k) => dict.flat.has(k)).map((k) => [k, dict.flat.get(k)!]);
  for (const key of ['type', 'accel', ...LEGACY_ACCEL_KEYS]) dict.flat.delete(key);
  if (raw.vga !== null && raw.vga !== 'std' && raw.vga !== 'none') throw new QemuOptionError(`unknown vga type: ${raw.vga}`);
  const chardevs = raw.chardevs.map((c) => chardevOf(c.pairs, c.location));
  const drives: QemuCommand['drives'] = [];
  for (const d of raw.drives) drives.push(driveOf(d.pairs, d.location, drives, raw.snapshot));
  validateBootOrder(raw.boot);
  const { machine, memory, smp } = applyMachineProps(dict, warnings, MACHINE_TYPES[type]);
  const accelProps = acceleratorOf(raw.accels, legacyAccel, legacyAccelProps, warnings);
  const explicitSerials = raw.serials.flatMap((s) => serialOf(s.text, chardevs, s.location) ?? []);
  const fwCfg = raw.fwCfg.map((f) => fwCfgOf(f.pairs, f.location));
  const devices = raw.devices.map((d) => deviceOf(d.pairs, chardevs, d.location));
  const { serials, monitors } = defaultSerialsAndMonitors(raw, explicitSerials);
  const flat = dict.flat;
  return {
    kind: 'run', machine, accel: 'kvm', accelProps, memory, smp, cpu: parseCpu(raw.cpu ?? 'qemu64'),
    bios: flat.get('firmware') ?? null, dataDirs: raw.dataDirs, kernel: flat.get('kernel') ?? null,
    append: flat.get('append') ?? null, initrd: flat.get('initrd') ?? null, drives, chardevs, serials, monitors, devices,
    globals: raw.globals, display: raw.display === 'none' || raw.nographic ? 'none' : 'default', nographic: raw.nographic,
    vga: raw.vga === 'std' || raw.vga === 'none' ? raw.vga : raw.nodefaults ? 'none' : 'std',
    nodefaults: raw.nodefaults, noReboot: raw.flags.has('no-reboot'), noShutdown: raw.flags.has('no-shutdown'),
    startStopped: raw.flags.has('S'), gdb: raw.gdb, trace: traceOf(raw.trace), boot: raw.boot, name: raw.name, rtcBase,
    noAcpi: raw.flags.has('no-acpi'), fwCfg, log: { items: raw.logItems, file: raw.logFile }, keyboard: raw.keyboard, warnings,
  };
}
