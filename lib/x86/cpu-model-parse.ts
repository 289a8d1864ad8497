// QEMU's -cpu string: MODEL[,+flag][,-flag][,prop=value][,flag]..., read the
// way QEMU 7.2's x86_cpu_parse_featurestr does (target/i386/cpu.c): empty
// items are skipped, '+'/'-' flags are collected apart and applied after the
// properties (so "+x2apic,x2apic=off" ends with x2apic on, with QEMU's
// ambiguity warning), a bare name means name=on, '_' is read as '-'. Values
// are checked here, with QEMU's messages, so a bad string fails before any
// vCPU exists.
import { canonicalFlagName, featureBits, isUnmodelledFlag } from './cpu-features';

/** The models node-kvm builds CPUID for; `-v1` names are QEMU's versioned aliases. */
export const CPU_MODEL_NAMES = ['qemu64', 'kvm64', 'qemu32', 'host', 'max'] as const;
export type CpuModelName = typeof CPU_MODEL_NAMES[number];

/**
 * A bad -cpu string or a CPU the host cannot give. `qemuMessage` is the text
 * QEMU 7.2 prints for it (after "qemu-system-x86_64: "); `message` adds what
 * to do.
 */
export class CpuModelError extends Error {
  readonly qemuMessage: string;
  /** The warnings QEMU prints before this error (e.g. the filtered features before `enforce` fails). */
  warnings: readonly string[] = [];
  constructor(qemuMessage: string, advice: string) {
    super(`${qemuMessage} (${advice})`);
    this.name = 'CpuModelError';
    this.qemuMessage = qemuMessage;
  }
}

/** A property value as the CPU object takes it. */
export type CpuPropValue = boolean | number | string;

export interface CpuModelSpec {
  /** The canonical model name (a `-v1` alias resolved). */
  model: CpuModelName;
  /** QEMU's QOM type name, for messages: `qemu64-x86_64-cpu`. */
  typeName: string;
  /** `+flag`s then `-flag`s, canonical names, in the order given. */
  plus: readonly string[];
  minus: readonly string[];
  /** `name=value` items (a bare name is `name=on`), canonical names, in the order given. */
  props: readonly (readonly [string, CpuPropValue])[];
  /** QEMU's warnings about the string itself (ambiguous +flag / flag=value). */
  warnings: readonly string[];
}

type PropKind = 'bool' | 'uint32' | 'uint8' | 'vendor' | 'string' | { min: number; max: number };

/** The CPU properties node-kvm honours, with QEMU's types (x86_cpu_properties, x86_cpu_initfn). */
const PROPS: Record<string, PropKind> = {
  'kvm': 'bool', 'enforce': 'bool', 'check': 'bool', 'host-phys-bits': 'bool',
  'phys-bits': 'uint32', 'host-phys-bits-limit': 'uint8',
  'level': 'uint32', 'xlevel': 'uint32', 'min-level': 'uint32', 'min-xlevel': 'uint32',
  // x86_cpuid_version_set_family/model/stepping: family ≤ 0xff + 0xf.
  'family': { min: 0, max: 0xff + 0xf }, 'model': { min: 0, max: 0xff }, 'stepping': { min: 0, max: 0xf },
  'vendor': 'vendor', 'model-id': 'string',
};

/** Properties QEMU has that change CPUID in ways node-kvm does not build. */
const UNMODELLED_PROPS = new Set([
  'pmu', 'l3-cache', 'migratable', 'tsc-frequency', 'vmware-cpuid-freq', 'legacy-cache', 'host-cache-info',
  'full-cpuid-auto-level', 'cpuid-0xb', 'vendor-cpuid-only', 'level-func7', 'xlevel2', 'min-xlevel2',
  'apic-id', 'intel-pt-auto-level', 'lbr-fmt',
]);

const MODELLED = 'node-kvm models the CPUs qemu64 (the default), kvm64, qemu32, host and max';

function resolveModelName(name: string): CpuModelName {
  const base = name.endsWith('-v1') ? name.slice(0, -3) : name;
  if ((CPU_MODEL_NAMES as readonly string[]).includes(base) && !(name !== base && (base === 'host' || base === 'max'))) {
    return base as CpuModelName;
  }
  throw new CpuModelError(`unable to find CPU model '${name}'`, MODELLED);
}

/** qapi_bool_parse's spellings. */
function parseBool(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (['on', 'yes', 'true', 'y'].includes(v)) return true;
  if (['off', 'no', 'false', 'n'].includes(v)) return false;
  return undefined;
}

/** qemu_strtou64 with base 0: decimal, 0x hex or 0-prefixed octal. */
function parseUint(value: string): number | undefined {
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(value)) return undefined;
  const n = /^0[0-7]+$/.test(value) ? parseInt(value, 8) : Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseValue(typeName: string, name: string, value: string): CpuPropValue {
  const global = `can't apply global ${typeName}.${name}=${value}`;
  const fail = (why: string, advice: string): never => { throw new CpuModelError(`${global}: ${why}`, advice); };
  const kind: PropKind = featureBits(name) ? 'bool' : PROPS[name];
  if (kind === 'bool') {
    return parseBool(value) ?? fail(`Parameter '${name}' expects 'on' or 'off'`, `write ${name}=on or ${name}=off`);
  }
  if (kind === 'string') return value;
  if (kind === 'vendor') {
    return value.length === 12 ? value : fail(`Property '.vendor' doesn't take value '${value}'`, 'a vendor is 12 characters, e.g. vendor=AuthenticAMD');
  }
  const n = parseUint(value) ?? fail(`Parameter '${name}' expects uint64`, `give ${name} an unsigned integer`);
  if (typeof kind === 'object') {
    if (n > kind.max) fail(`Property .${name} doesn't take value ${n} (minimum: ${kind.min}, maximum: ${kind.max})`, `give ${name} a value up to ${kind.max}`);
    return n;
  }
  const max = kind === 'uint8' ? 0xff : 0xffffffff;
  if (n > max) fail(`Parameter '${name}' expects ${kind}_t`, `give ${name} a value up to ${max}`);
  return n;
}

/** QEMU would take it; node-kvm refuses rather than give a vCPU that differs from QEMU's. */
function unmodelled(what: 'feature' | 'property', name: string): CpuModelError {
  return new CpuModelError(`the CPU ${what} '${name}' is not modelled by node-kvm`,
    `node-kvm does not build the CPUID leaves or MSRs it changes; leave it out`);
}

/** A +name / -name: a feature flag or a boolean property (QEMU sets it with object_property_set_bool). */
function checkFlag(typeName: string, name: string): void {
  const kind = PROPS[name];
  if (kind === 'bool') return;
  if (kind !== undefined) {
    // Not a boolean: QEMU's visitor refuses the true/false it is given.
    const qemu = kind === 'uint32' || kind === 'uint8' ? `Parameter '${name}' expects uint64`
      : `Invalid parameter type for '${name}', expected: ${typeof kind === 'object' ? 'integer' : 'string'}`;
    throw new CpuModelError(qemu, `write ${name}=VALUE, not +${name} or -${name}`);
  }
  if (isUnmodelledFlag(name)) throw unmodelled('feature', name);
  if (!featureBits(name)) {
    throw new CpuModelError(`Property '${typeName}.${name}' not found`, 'see `qemu-system-x86_64 -cpu help` for the flag names');
  }
}

function checkProp(typeName: string, name: string, value: string): void {
  if (isUnmodelledFlag(name)) throw unmodelled('feature', name);
  if (UNMODELLED_PROPS.has(name) || name.startsWith('hv-')) throw unmodelled('property', name);
  if (!featureBits(name) && !(name in PROPS)) {
    throw new CpuModelError(`can't apply global ${typeName}.${name}=${value}: Property '${typeName}.${name}' not found`,
      'see `qemu-system-x86_64 -cpu help` for the flag names');
  }
}

/** The specs parseCpuModel made: cpuidForModel takes no other object, so a spec's names are known to be valid. */
const PARSED = new WeakSet<CpuModelSpec>();

export function isParsedCpuModel(spec: unknown): spec is CpuModelSpec {
  return typeof spec === 'object' && spec !== null && PARSED.has(spec as CpuModelSpec);
}

/** Parses QEMU's -cpu string. Throws CpuModelError (QEMU's message) or TypeError. */
export function parseCpuModel(spec: string): CpuModelSpec {
  if (typeof spec !== 'string') throw new TypeError(`a -cpu string must be a string, got ${spec === null ? 'null' : typeof spec}`);
  if (spec === '') throw new CpuModelError('-cpu option cannot be empty', `give a model, e.g. -cpu qemu64; ${MODELLED}`);
  const [name, ...items] = spec.split(',');
  const model = resolveModelName(name);
  const typeName = `${name}-x86_64-cpu`;
  const plus: string[] = [];
  const minus: string[] = [];
  const props: [string, CpuPropValue][] = [];
  const warnings: string[] = [];
  for (const item of items) {
    if (item === '') continue;
    if (item[0] === '+' || item[0] === '-') {
      const flag = canonicalFlagName(item.slice(1));
      checkFlag(typeName, flag);
      (item[0] === '+' ? plus : minus).push(flag);
      continue;
    }
    const eq = item.indexOf('=');
    const prop = canonicalFlagName(eq < 0 ? item : item.slice(0, eq));
    const value = eq < 0 ? 'on' : item.slice(eq + 1);
    checkProp(typeName, prop, value);
    for (const [list, sign] of [[plus, '+'], [minus, '-']] as const) {
      if (list.includes(prop)) warnings.push(`Ambiguous CPU model string. Don't mix both "${sign}${prop}" and "${prop}=${value}"`);
    }
    props.push([prop, parseValue(typeName, prop, value)]);
  }
  if (warnings.length > 0) warnings.push('Compatibility of ambiguous CPU model strings won\'t be kept on future QEMU versions');
  const freeze = <T>(list: T[]) => Object.freeze(list.map((x) => (Array.isArray(x) ? Object.freeze(x) : x)));
  const parsed: CpuModelSpec = Object.freeze({ model, typeName, plus: freeze(plus), minus: freeze(minus), props: freeze(props), warnings: freeze(warnings) });
  PARSED.add(parsed);
  return parsed;
}
