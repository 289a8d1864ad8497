// QEMU 7.2's CPU models on KVM: the CPUID table a vCPU of `-cpu MODEL,...`
// gets. The model's features are expanded and then filtered by what KVM
// supports in QEMU's order (target/i386/cpu.c x86_cpu_realizefn:
// x86_cpu_expand_features, x86_cpu_filter_features, the AMD aliases, the
// physical-address width), and the leaves are built as kvm_arch_init_vcpu
// builds them (./cpu-leaves.ts).
import * as fs from 'fs';
import type { CpuidEntry } from '../kvm/cpuid';
import { physAddrBits } from '../host-limits';
import { checkOptions } from '../options';
import { toUint } from '../util/integers';
import { AMD_ALIASES, AMD_VENDOR, describeFeatureBit, emptyFeatures, FEATURE_WORDS, featureBits, type FeatureWord } from './cpu-features';
import { buildCpuidEntries, type X86CpuState } from './cpu-leaves';
import { CpuModelError, type CpuModelSpec, type CpuPropValue, isParsedCpuModel, parseCpuModel } from './cpu-model-parse';
import { kvmSupportedWord, supportedEntry } from './cpu-supported';

export { CpuModelError, parseCpuModel } from './cpu-model-parse';
export type { CpuModelName, CpuModelSpec, CpuPropValue } from './cpu-model-parse';
export type { X86CpuState } from './cpu-leaves';

interface ModelDefinition {
  family: number; model: number; stepping: number;
  level: number; xlevel: number;
  modelId: string;
  features: Record<string, string>;
}

// builtin_x86_defs[] (QEMU_HW_VERSION "2.5+" is what the pc-i440fx-7.2 model-id says).
const PPRO = 'fpu de pse tsc msr mce cx8 pge cmov pat fxsr mmx sse sse2 pae sep apic';
const DEFINITIONS: Record<'qemu64' | 'kvm64' | 'qemu32', ModelDefinition> = {
  qemu64: {
    family: 15, model: 107, stepping: 1, level: 0xd, xlevel: 0x8000000a, modelId: 'QEMU Virtual CPU version 2.5+',
    features: {
      '1_EDX': `${PPRO} mtrr clflush mca pse36`, '1_ECX': 'pni cx16',
      '8000_0001_EDX': 'lm syscall nx', '8000_0001_ECX': 'lahf-lm svm',
    },
  },
  kvm64: {
    family: 15, model: 6, stepping: 1, level: 0xd, xlevel: 0x80000008, modelId: 'Common KVM processor',
    features: { '1_EDX': `${PPRO} vme mtrr clflush mca pse36`, '1_ECX': 'pni cx16', '8000_0001_EDX': 'lm syscall nx' },
  },
  qemu32: {
    family: 6, model: 6, stepping: 3, level: 4, xlevel: 0x80000004, modelId: 'QEMU Virtual CPU version 2.5+',
    features: { '1_EDX': PPRO, '1_ECX': 'pni' },
  },
};

/**
 * kvm_default_props (target/i386/kvm/kvm-cpu.c), applied to the named models
 * with the in-kernel irqchip: the paravirt features SeaBIOS and Linux use
 * (kvmclock, ...), x2apic on; acpi, monitor and svm off.
 */
const KVM_DEFAULT_PROPS: readonly (readonly [string, boolean])[] = [
  ['kvmclock', true], ['kvm-nopiodelay', true], ['kvm-asyncpf', true], ['kvm-steal-time', true],
  ['kvm-pv-eoi', true], ['kvmclock-stable-bit', true], ['x2apic', true], ['kvm-msi-ext-dest-id', false],
  ['acpi', false], ['monitor', false], ['svm', false],
];

const LM = 1 << 29;
const PSE36 = 1 << 17;
/** TARGET_PHYS_ADDR_SPACE_BITS and TCG_PHYS_ADDR_BITS (target/i386/cpu.h). */
const MAX_PHYS_BITS = 52;
const DEFAULT_PHYS_BITS = 40;

export interface CpuidForModelOptions {
  /** This vCPU's APIC id (leaf 1 EBX[31:24], leaf 0xb EDX, 0x8000001e EAX). */
  apicId: number;
  /** vCPUs in the machine (-smp N). */
  cpuCount: number;
  /** Cores per socket and threads per core (-smp cores=,threads=); 1 each by default, as QEMU's -smp N. */
  cores?: number;
  threads?: number;
  /** The host's processor name for host/max (0x80000002-4; QEMU reads it with CPUID): hostModelId() by default. */
  hostModelId?: string;
  /**
   * The vCPU's TSC frequency in kHz (`vcpu.getTscKhz()`), needed with invtsc: QEMU then adds
   * leaf 0x40000010 (vmware-cpuid-freq) with it.
   */
  tscKhz?: number;
}

const OPTION_KEYS = { apicId: true, cpuCount: true, cores: true, threads: true, hostModelId: true, tscKhz: true } as const;
const CPUID_APM_INVTSC = 1 << 8;

export interface CpuidForModel {
  /** The table for KVM_SET_CPUID2 (vcpu.setCpuid()). */
  entries: CpuidEntry[];
  /**
   * The features asked for and dropped, as QEMU names them (`CPUID.01H:ECX.pni [bit 0]`): those KVM does
   * not support, and explicit ones whose prerequisite is off (QEMU's filtered_features).
   */
  filtered: string[];
  /**
   * QEMU's warnings for this vCPU, without QEMU's "warning: " prefix, in QEMU's order: the -cpu string's own
   * (only when `model` is a string; a parsed spec has them in `spec.warnings`), then the dropped features
   * (QEMU prints these for every vCPU), the phys-bits mismatch and the hyperthreading one (QEMU: once).
   */
  warnings: string[];
  /** The expanded, filtered CPU the entries describe. */
  cpu: X86CpuState;
}

function namesToMask(word: string, list: string): number {
  let mask = 0;
  for (const name of list.split(' ')) {
    const bits = featureBits(name)?.find((b) => b.word.id === word);
    if (!bits) throw new Error(`model table: ${name} is not in ${word}`);
    mask |= bits.mask;
  }
  return mask >>> 0;
}

function vendorString(supported: readonly CpuidEntry[]): string {
  const leaf0 = supportedEntry(supported, 0, 0);
  const bytes = new Uint8Array(12);
  const dv = new DataView(bytes.buffer);
  [leaf0?.ebx ?? 0, leaf0?.edx ?? 0, leaf0?.ecx ?? 0].forEach((w, i) => dv.setUint32(4 * i, w, true));
  return String.fromCharCode(...bytes);
}

/** x86_cpu_version's inverse: family/model/stepping from a CPUID.1 EAX. */
function versionFields(eax: number): { family: number; model: number; stepping: number } {
  const base = (eax >>> 8) & 0xf;
  return {
    family: base === 0xf ? base + ((eax >>> 20) & 0xff) : base,
    model: ((eax >>> 4) & 0xf) | (((eax >>> 16) & 0xf) << 4),
    stepping: eax & 0xf,
  };
}

/** The host's processor name as /proc/cpuinfo gives it (what CPUID 0x80000002-4 says, trimmed). */
export function hostModelId(cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')): string {
  return /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '';
}

function checkCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 0xff) {
    throw new RangeError(`${what} must be an integer from 1 to 255, got ${String(value)}`);
  }
  return value;
}

/**
 * The CPUID table of one vCPU of `model` (a -cpu string, or parseCpuModel()'s result to parse it once
 * for all vCPUs) on
 * a KVM whose KVM_GET_SUPPORTED_CPUID is `supported`. Throws CpuModelError
 * for what QEMU refuses (unknown model or flag, bad value, phys-bits out of
 * range, `enforce` with filtered features).
 */
export function cpuidForModel(supported: readonly CpuidEntry[], model: string | CpuModelSpec, options: CpuidForModelOptions): CpuidForModel {
  const warnings: string[] = [];
  try {
    return buildCpu(supported, model, options, warnings);
  } catch (err) {
    if (err instanceof CpuModelError) err.warnings = warnings;
    throw err;
  }
}

function buildCpu(supported: readonly CpuidEntry[], model: string | CpuModelSpec, options: CpuidForModelOptions, warnings: string[]): CpuidForModel {
  if (!Array.isArray(supported)) throw new TypeError('cpuidForModel expects the supported CPUID entries (kvm.supportedCpuid())');
  const opts = checkOptions(options, OPTION_KEYS, 'cpuidForModel()');
  const apicId = toUint(opts.apicId, 8, 'apicId (an xAPIC id)');
  const cpuCount = checkCount(opts.cpuCount, 'cpuCount');
  const threads = checkCount(opts.threads ?? 1, 'threads');
  const cores = checkCount(opts.cores ?? 1, 'cores');
  if (cpuCount % (cores * threads) !== 0) {
    throw new RangeError(`cpuCount ${cpuCount} is not a whole number of sockets of ${cores} cores × ${threads} threads`);
  }
  if (typeof model !== 'string' && !isParsedCpuModel(model)) {
    throw new TypeError('cpuidForModel expects a -cpu string or what parseCpuModel() returned');
  }
  const spec = typeof model === 'string' ? parseCpuModel(model) : model;
  if (typeof model === 'string') warnings.push(...spec.warnings);
  const filtered: string[] = [];
  const hostBits = physAddrBits(supported);
  const leaf1 = supportedEntry(supported, 1, 0);
  const maxFeatures = spec.model === 'host' || spec.model === 'max';

  // x86_cpu_load_model / max_x86_cpu_initfn: what the model starts from.
  const features = emptyFeatures();
  const user = emptyFeatures();
  const def = maxFeatures ? undefined : DEFINITIONS[spec.model as keyof typeof DEFINITIONS];
  const version = def ?? versionFields(leaf1?.eax ?? 0);
  const cpu: X86CpuState = {
    vendor: vendorString(supported), // accel_uses_host_cpuid(): every model gets the host's vendor
    family: version.family, model: version.model, stepping: version.stepping,
    level: 0, xlevel: 0, levelFunc7: 0,
    modelId: def?.modelId ?? opts.hostModelId ?? hostModelId(),
    features,
    physBits: 0,
    exposeKvm: true,
    apicId, threads, cores, tscKhz: 0,
  };
  const levels: Levels = {
    min: def?.level ?? supportedEntry(supported, 0, 0)?.eax ?? 0,
    minX: def?.xlevel ?? supportedEntry(supported, 0x80000000, 0)?.eax ?? 0,
  };
  const knobs = { enforce: false, check: true, hostPhysBits: maxFeatures, hostPhysBitsLimit: 0 };
  const setFlag = (name: string, on: boolean) => {
    for (const { word, mask } of featureBits(name)!) {
      features[word.id] = on ? (features[word.id] | mask) >>> 0 : (features[word.id] & ~mask) >>> 0;
      user[word.id] = (user[word.id] | mask) >>> 0;
    }
  };
  // A property's setter (x86_cpu_properties and the feature-bit properties); +name / -name set a boolean one.
  const setProp = (name: string, value: CpuPropValue) => {
    if (featureBits(name)) { setFlag(name, value as boolean); return; }
    switch (name) {
      case 'kvm': cpu.exposeKvm = value as boolean; break;
      case 'enforce': knobs.enforce = value as boolean; break;
      case 'check': knobs.check = value as boolean; break;
      case 'host-phys-bits': knobs.hostPhysBits = value as boolean; break;
      case 'host-phys-bits-limit': knobs.hostPhysBitsLimit = value as number; break;
      case 'phys-bits': cpu.physBits = value as number; break;
      case 'level': levels.level = value as number; break;
      case 'xlevel': levels.xlevel = value as number; break;
      case 'min-level': levels.min = value as number; break;
      case 'min-xlevel': levels.minX = value as number; break;
      case 'family': cpu.family = value as number; break;
      case 'model': cpu.model = value as number; break;
      case 'stepping': cpu.stepping = value as number; break;
      case 'vendor': cpu.vendor = value as string; break;
      case 'model-id': cpu.modelId = value as string; break;
    }
  };
  if (def) {
    for (const [word, names] of Object.entries(def.features)) features[word] = namesToMask(word, names);
    for (const [name, on] of KVM_DEFAULT_PROPS) setFlag(name, on);
    features['1_ECX'] = (features['1_ECX'] | 1 << 31) >>> 0; // CPUID_EXT_HYPERVISOR
  }
  for (const [name, value] of spec.props) setProp(name, value);

  // x86_cpu_expand_features: max's host features, +flags, -flags, dependencies, levels.
  if (maxFeatures) {
    for (const w of FEATURE_WORDS) {
      features[w.id] = (features[w.id] | (migratable(w, kvmSupportedWord(supported, w)) & ~user[w.id] & ~(w.noAutoenable ?? 0))) >>> 0;
    }
  }
  for (const name of spec.plus) setProp(name, true);
  for (const name of spec.minus) setProp(name, false);
  if (!cpu.exposeKvm) features.KVM = 0;
  const svmWord = FEATURE_WORDS.find((w) => w.id === 'SVM')!;
  if (!(features['8000_0001_ECX'] & 1 << 2)) { // feature_dependencies: svm → FEAT_SVM; explicit ones count as filtered
    forEachBit(features.SVM & user.SVM, (bit) => {
      filtered.push(describeFeatureBit(svmWord, bit));
      warnings.push(`This feature depends on other features that were not requested: ${describeFeatureBit(svmWord, bit)}`);
    });
    features.SVM = 0;
  }
  adjustLevels(cpu, levels);

  // x86_cpu_filter_features: what KVM cannot give is dropped, with a warning each unless check=off.
  for (const w of FEATURE_WORDS) {
    const missing = (features[w.id] & ~kvmSupportedWord(supported, w)) >>> 0;
    forEachBit(missing, (bit) => {
      filtered.push(describeFeatureBit(w, bit));
      if (knobs.check || knobs.enforce) warnings.push(`host doesn't support requested feature: ${describeFeatureBit(w, bit)}`);
    });
    features[w.id] = (features[w.id] & ~missing) >>> 0;
  }
  if (knobs.enforce && filtered.length > 0) {
    throw new CpuModelError("Host doesn't support requested features", `remove ${filtered.join(', ')} from -cpu, or drop enforce`);
  }
  if (cpu.vendor === AMD_VENDOR) {
    features['8000_0001_EDX'] = ((features['8000_0001_EDX'] & ~AMD_ALIASES) | (features['1_EDX'] & AMD_ALIASES)) >>> 0;
  }
  cpu.physBits = physicalBits(cpu, { hostBits, ...knobs }, warnings);
  if (cpu.exposeKvm && features['8000_0007_EDX'] & CPUID_APM_INVTSC) {
    // tsc_is_stable_and_known(): with invtsc the KVM leaves gain the TSC and APIC bus frequencies.
    if (opts.tscKhz === undefined) throw new TypeError("invtsc needs the vCPU's TSC frequency: pass tscKhz (vcpu.getTscKhz())");
    cpu.tscKhz = toUint(opts.tscKhz, 32, 'tscKhz');
  }
  if (cpu.vendor === AMD_VENDOR && !(features['8000_0001_ECX'] & 1 << 22) && threads > 1) {
    warnings.push(`This family of AMD CPU doesn't support hyperthreading(${threads})\nPlease configure -smp options properly or try enabling topoext feature.`);
  }
  return { entries: buildCpuidEntries(cpu, supported), filtered, warnings, cpu };
}

/** x86_cpu_get_migratable_flags: max/host take only the bits QEMU has a name for and that migrate (not invtsc). */
function migratable(w: FeatureWord, supported: number): number {
  let mask = 0;
  w.names.forEach((name, bit) => { if (name !== null) mask |= 1 << bit; });
  return (supported & mask & ~(w.unmigratable ?? 0)) >>> 0;
}

function forEachBit(mask: number, fn: (bit: number) => void): void {
  for (let bit = 0; bit < 32; bit++) if (mask & (1 << bit)) fn(bit);
}

/** Explicit level/xlevel (unset: automatic) and the minimums the model and its features ask for. */
interface Levels { level?: number; xlevel?: number; min: number; minX: number }

/**
 * full-cpuid-auto-level (x86_cpu_adjust_feat_level): a feature in a leaf
 * raises the minimum level to that leaf, before filtering; an unset level
 * or xlevel takes the minimum.
 */
function adjustLevels(cpu: X86CpuState, levels: Levels): void {
  for (const w of FEATURE_WORDS) {
    if (cpu.features[w.id] === 0 || (w.leaf >= 0x40000000 && w.leaf < 0x80000000)) continue;
    if (w.leaf >= 0x80000000) levels.minX = Math.max(levels.minX, w.leaf);
    else levels.min = Math.max(levels.min, w.leaf);
    if (w.leaf === 7 && w.index === 1) cpu.levelFunc7 = 1;
  }
  if (cpu.features['8000_0001_ECX'] & 1 << 2) levels.minX = Math.max(levels.minX, 0x8000000a); // SVM
  cpu.level = levels.level ?? levels.min;
  cpu.xlevel = levels.xlevel ?? levels.minX;
}

/** The width in 0x80000008 EAX[7:0]: x86_cpu_realizefn and host_cpu_realizefn (target/i386/host-cpu.c). */
function physicalBits(cpu: X86CpuState, host: { hostBits: number; hostPhysBits: boolean; hostPhysBitsLimit: number }, warnings: string[]): number {
  if (!(cpu.features['8000_0001_EDX'] & LM)) {
    if (cpu.physBits !== 0) throw new CpuModelError('phys-bits is not user-configurable in 32 bit', 'leave phys-bits out for a 32-bit CPU, or add +lm');
    return cpu.features['1_EDX'] & PSE36 ? 36 : 32;
  }
  // The warning names the phys-bits property even where host-phys-bits then overrides it.
  const property = cpu.physBits;
  let bits = property;
  if (host.hostPhysBits) {
    bits = host.hostBits;
    if (host.hostPhysBitsLimit && bits > host.hostPhysBitsLimit) bits = host.hostPhysBitsLimit;
  }
  if (property !== 0 && property !== host.hostBits) {
    warnings.push(`Host physical bits (${host.hostBits}) does not match phys-bits property (${property})`);
  }
  if (bits !== 0 && (bits > MAX_PHYS_BITS || bits < 32)) {
    throw new CpuModelError(`phys-bits should be between 32 and ${MAX_PHYS_BITS}  (but is ${bits})`, `give phys-bits a value from 32 to ${MAX_PHYS_BITS}`);
  }
  return bits === 0 ? DEFAULT_PHYS_BITS : bits;
}
