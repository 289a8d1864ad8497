// The rules of softmmu/vl.c and its helpers that turn the options read into
// a QemuCommand: the accelerator choice, -cpu's split, -global's forms,
// -boot's device letters, -rtc, -fw_cfg, -trace and the default devices
// (qemu_create_default_devices) that -nodefaults, -serial, -monitor and
// -nographic change.
import { QemuOptionError, type QemuWarning } from './qemu-error';
import { parseQemuOpts, type OptPair } from './qemu-opts';
import type { QemuCommand, QemuCpu, QemuGlobal, QemuMonitor, QemuSerialTarget } from './command';
import type { RawCommand } from './cmdline';

/** kvm-accel's properties (accel/kvm/kvm-all.c) and the values kernel-irqchip takes. */
const KVM_ACCEL_PROPS = ['kernel-irqchip', 'kvm-shadow-mem', 'dirty-ring-size', 'notify-vmexit', 'notify-window'];
const KERNEL_IRQCHIP = ['on', 'off', 'split'];

/** -machine keys QEMU 7.2 moves to the accelerator (qemu_apply_legacy_machine_options). */
export const LEGACY_ACCEL_KEYS = ['kernel-irqchip', 'kvm-shadow-mem'];

function checkAccelProp(key: string, value: string, location: string | null, global: boolean): void {
  const prefix = global ? `can't apply global kvm-accel.${key}=${value}: ` : '';
  if (!KVM_ACCEL_PROPS.includes(key)) throw new QemuOptionError(`${prefix}Property 'kvm-accel.${key}' not found`, location);
  if (key === 'kernel-irqchip' && !KERNEL_IRQCHIP.includes(value)) {
    throw new QemuOptionError(`${prefix}Parameter 'kernel-irqchip' does not accept value '${value}'`, location);
  }
}

/**
 * configure_accelerators: each -accel (or -machine accel=A:B) in turn until
 * one works, KVM being node-kvm's only one; those before it are reported
 * and QEMU says it fell back. Returns kvm-accel's properties.
 */
export function acceleratorOf(accels: RawCommand['accels'], legacy: string | undefined, legacyProps: OptPair[], warnings: QemuWarning[]): OptPair[] {
  if (accels.length && legacy !== undefined) throw new QemuOptionError('The -accel and "-machine accel=" options are incompatible');
  const tried = legacy !== undefined
    ? legacy.split(':').map((name) => ({ name, props: [] as OptPair[], location: null as string | null }))
    : accels.length ? accels : [{ name: 'kvm', props: [], location: null }];
  const failed: QemuOptionError[] = [];
  for (const a of tried) {
    if (a.name !== 'kvm') {
      failed.push(new QemuOptionError(`invalid accelerator ${a.name}`, a.location));
      continue;
    }
    for (const [k, v] of a.props) checkAccelProp(k, v, a.location, false);
    for (const [k, v] of legacyProps) checkAccelProp(k, v, null, true);
    for (const f of failed) warnings.push({ severity: 'error', location: f.location, text: f.text, hint: '' });
    if (failed.length) warnings.push({ severity: 'error', location: null, text: 'falling back to KVM', hint: '' });
    return [...legacyProps, ...a.props];
  }
  throw failed.reduceRight((next: QemuOptionError | null, f) => new QemuOptionError(f.text, f.location, '', next), null)!;
}

/** -cpu MODEL[,+flag|-flag|flag|key=value...] as x86_cpu_parse_featurestr splits it (no ",," escape there). */
export function parseCpu(text: string): QemuCpu {
  const [model, ...rest] = text.split(',');
  const settings = rest.filter((s) => s !== '').map((s): QemuCpu['settings'][number] => {
    if (s.startsWith('+')) return { name: s.slice(1), value: 'on', form: 'plus' };
    if (s.startsWith('-')) return { name: s.slice(1), value: 'off', form: 'minus' };
    const eq = s.indexOf('=');
    return eq < 0 ? { name: s, value: 'on', form: 'property' } : { name: s.slice(0, eq), value: s.slice(eq + 1), form: 'property' };
  });
  return { model, text, settings };
}

/** qemu_global_option: DRIVER.PROP=VALUE, or driver=,property=,value= as QemuOpts. */
export function parseGlobal(text: string, location: string, warnings: QemuWarning[]): QemuGlobal {
  const m = /^([^.=]{1,63})\.([^=]{1,63})=/.exec(text);
  if (m) return { driver: m[1], property: m[2], value: text.slice(m[0].length) };
  const pairs = new Map(parseQemuOpts(text, { desc: { driver: 'string', property: 'string', value: 'string' } }, location, warnings));
  const [driver, property, value] = ['driver', 'property', 'value'].map((k) => pairs.get(k));
  if (driver === undefined || property === undefined || value === undefined) {
    throw new QemuOptionError("options 'driver', 'property', and 'value' are required", location);
  }
  return { driver, property, value };
}

/** softmmu/bootdevice.c validate_bootdevices, for -boot order= and once=. */
export function validateBootOrder(boot: OptPair[]): void {
  for (const [key, devices] of boot) {
    if (key !== 'order' && key !== 'once') continue;
    let seen = 0;
    for (const c of devices) {
      const bit = c.charCodeAt(0) - 97;
      if (bit < 0 || bit > 15) throw new QemuOptionError(`Invalid boot device '${c}'`);
      if (seen & (1 << bit)) throw new QemuOptionError(`Boot device '${c}' was given twice`);
      seen |= 1 << bit;
    }
  }
}

/** -rtc base=: node-kvm's clock is the host's, in UTC or local time (a fixed start date is not modelled). */
export function rtcBaseOf(base: string | null): QemuCommand['rtcBase'] {
  if (base === null || base === 'utc' || base === 'localtime') return base ?? 'utc';
  throw new QemuOptionError('invalid datetime format', null, "valid formats: '2006-06-17T16:01:21' or '2006-06-17'\n");
}

/** -fw_cfg (softmmu/vl.c parse_fw_cfg): a name and exactly one of file, string and gen_id. */
export function fwCfgOf(list: OptPair[], location: string): QemuCommand['fwCfg'][number] {
  const p = new Map(list);
  const name = p.get('name');
  const sources = ['file', 'string', 'gen_id'].filter((k) => p.has(k));
  if (name === undefined || sources.length !== 1) {
    throw new QemuOptionError('name, plus exactly one of file, string and gen_id, are needed', location);
  }
  const [source] = sources;
  if (source === 'file') return { name, file: p.get('file')! };
  if (source === 'string') return { name, string: p.get('string')! };
  return { name, genId: p.get('gen_id')! };
}

/** The serial ports and monitors QEMU adds by default (qemu_create_default_devices), after the explicit ones. */
export function defaultSerialsAndMonitors(raw: RawCommand, explicit: QemuSerialTarget[]): { serials: QemuSerialTarget[]; monitors: QemuMonitor[] } {
  const defaultSerial = !raw.nodefaults && raw.serials.length === 0 && !raw.devices.some((d) => d.pairs.some(([k, v]) => k === 'driver' && v === 'isa-serial'));
  const defaultMonitor = !raw.nodefaults && raw.monitors.length === 0;
  const monitors: QemuMonitor[] = raw.monitors.filter((m) => m.text !== 'none').map((m) => ({ mode: m.mode, device: m.text }));
  const serials = [...explicit];
  if (raw.nographic) {
    if (defaultSerial && defaultMonitor) serials.push({ kind: 'mon:stdio' });
    else {
      if (defaultSerial) serials.push({ kind: 'backend', backend: { kind: 'stdio', mux: false } });
      if (defaultMonitor) monitors.push({ mode: 'readline', device: 'stdio' });
    }
  } else {
    if (defaultSerial) serials.push({ kind: 'backend', backend: { kind: 'vc', mux: false } });
    if (defaultMonitor) monitors.push({ mode: 'readline', device: 'vc:80Cx24C' });
  }
  return { serials, monitors };
}

/** -trace enable=PATTERN (also the implied form) and file=PATH; later file= wins. */
export function traceOf(pairs: OptPair[]): QemuCommand['trace'] {
  return {
    patterns: pairs.filter(([k]) => k === 'enable').map(([, v]) => v),
    file: pairs.filter(([k]) => k === 'file').map(([, v]) => v).pop() ?? null,
  };
}
