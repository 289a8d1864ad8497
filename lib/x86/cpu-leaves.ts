// The CPUID leaves of an expanded, filtered x86 CPU, built as QEMU 7.2 does:
// the values of cpu_x86_cpuid (target/i386/cpu.c) and the entries of
// kvm_arch_init_vcpu (target/i386/kvm/kvm.c): the KVM leaves, then every
// basic leaf up to `level`, then every extended leaf up to `xlevel`, with the
// subleaf loops and the omitted all-zero leaves of that function.
import type { CpuidEntry } from '../kvm/cpuid';
import { AMD_VENDOR } from './cpu-features';
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX, supportedEntry } from './cpu-supported';

export interface X86CpuState {
  /** 12 characters: leaf 0 EBX, EDX, ECX. */
  vendor: string;
  family: number; model: number; stepping: number;
  level: number; xlevel: number; levelFunc7: number;
  /** Up to 48 characters (0x80000002-4); longer is cut, as QEMU does. */
  modelId: string;
  /** Feature words by FeatureWord id (cpu-features.ts). */
  features: Record<string, number>;
  /** 0x80000008 EAX[7:0]. */
  physBits: number;
  /** `kvm=on`: the KVM leaves 0x40000000/0x40000001 are present. */
  exposeKvm: boolean;
  apicId: number; threads: number; cores: number;
  /** The TSC frequency for leaf 0x40000010; 0: no such leaf. */
  tscKhz: number;
}

type Regs = Pick<CpuidEntry, 'eax' | 'ebx' | 'ecx' | 'edx'>;
const ZERO: Regs = { eax: 0, ebx: 0, ecx: 0, edx: 0 };

const INTEL_VENDOR = 'GenuineIntel';
const KVM_CPUID_SIGNATURE = 0x40000000;
const KVM_CPUID_FEATURES = 0x40000001;
/** KVM_STATEFUL_FUNC | KVM_STATE_READ_NEXT: the flags QEMU gives leaf 2. */
const LEAF2_FLAGS = 6;
/** KVM_CPUID_SIGNATURE | 0x10: the TSC and APIC bus frequencies in kHz (QEMU's vmware-cpuid-freq). */
const KVM_CPUID_TIMING = 0x40000010;
/** KVM_APIC_BUS_FREQUENCY (1 GHz) in kHz. */
const APIC_BUS_KHZ = 1000000;
const CPUID_HT = 1 << 28;
const CPUID_EXT2_LM = 1 << 29;
const CPUID_7_0_ECX_LA57 = 1 << 16;
const CPUID_EXT3_CMP_LEG = 1 << 1;

function le32(text: string, at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | (text.charCodeAt(at + i) & 0xff);
  return v >>> 0;
}

function bitsFor(count: number): number {
  return count <= 1 ? 0 : Math.ceil(Math.log2(count));
}

/** Topology from the APIC id (hw/i386/topology.h): SMT bits, core bits, the package offset. */
function topology(cpu: X86CpuState) {
  const smtBits = bitsFor(cpu.threads);
  const coreBits = bitsFor(cpu.cores);
  return {
    smtBits, pkgOffset: smtBits + coreBits,
    perPkg: cpu.threads * cpu.cores,
    coreId: (cpu.apicId >>> smtBits) & ((1 << coreBits) - 1),
  };
}

/**
 * QEMU's legacy AMD caches (legacy_l1d_cache_amd, legacy_l1i_cache_amd,
 * legacy_l2_cache_amd, legacy_l3_cache) as CPUID 0x8000001d encodes them
 * (encode_cache_cpuid8000001d): type | level | self-init, line size,
 * associativity, sets, and which are shared by the package (L3) or a core.
 */
const AMD_CACHES = [
  { eax: 0x121, ebx: 0x0040003f, ecx: 0x1ff, edx: 1, shared: 'core' },
  { eax: 0x122, ebx: 0x0040003f, ecx: 0x1ff, edx: 1, shared: 'core' },
  { eax: 0x043, ebx: 0x03c0003f, ecx: 0x1ff, edx: 0, shared: 'core' },
  { eax: 0x163, ebx: 0x03c0003f, ecx: 0x3fff, edx: 6, shared: 'package' },
] as const;

/**
 * The legacy caches QEMU's leaf 4 describes (legacy_l1d_cache, legacy_l1i_cache,
 * legacy_l2_cache, legacy_l3_cache as encode_cache_cpuid4 writes them): 32 KiB
 * 8-way L1s, a 4 MiB 16-way L2, a 16 MiB 16-way inclusive L3, 64-byte lines.
 * EAX[25:14] (APIC ids sharing the cache, less one) is added per topology:
 * QEMU 7.2 counts one for the L1s, the core's threads for L2, the package's
 * APIC id range for L3.
 */
const CPUID4_CACHES = [
  { eax: 0x121, ebx: 0x01c0003f, ecx: 0x3f, edx: 1, shared: 'thread' },
  { eax: 0x122, ebx: 0x01c0003f, ecx: 0x3f, edx: 1, shared: 'thread' },
  { eax: 0x143, ebx: 0x03c0003f, ecx: 0xfff, edx: 1, shared: 'core' },
  { eax: 0x163, ebx: 0x03c0003f, ecx: 0x3fff, edx: 6, shared: 'package' },
] as const;

/** Leaf 2's one-byte descriptors of the same caches, as cpuid2_cache_descriptor finds them: L1D 0x2c, L1I 0x30, L2 0x7d (2 MiB 8-way, legacy_l2_cache_cpuid2), L3 0x4d. */
const CPUID2_DESCRIPTORS: Regs = { eax: 1, ebx: 0, ecx: 0x4d, edx: 0x2c << 16 | 0x30 << 8 | 0x7d };

/** cpu_x86_cpuid(index, count) for the leaves QEMU fills on KVM. */
function leafValue(cpu: X86CpuState, supported: readonly CpuidEntry[], leaf: number, index: number): Regs {
  const f = cpu.features;
  const topo = topology(cpu);
  const vendor = { ebx: le32(cpu.vendor, 0), edx: le32(cpu.vendor, 4), ecx: le32(cpu.vendor, 8) };
  switch (leaf) {
    case 0: return { eax: cpu.level, ...vendor };
    case 1: {
      const ebx = (cpu.apicId << 24 | 8 << 8 | (topo.perPkg > 1 ? topo.perPkg << 16 : 0)) >>> 0; // CLFLUSH line 8 qwords
      const edx = (f['1_EDX'] | (topo.perPkg > 1 ? CPUID_HT : 0)) >>> 0;
      return { eax: cpuVersion(cpu), ebx, ecx: f['1_ECX'], edx };
    }
    // Leaves 2 and 4 describe the caches to all but AMD guests (vendor-cpuid-only, on since pc-6.1, empties them there).
    case 2: return cpu.vendor === AMD_VENDOR ? ZERO : CPUID2_DESCRIPTORS;
    case 4: {
      const cache = CPUID4_CACHES[index];
      if (cpu.vendor === AMD_VENDOR || !cache) return ZERO;
      const sharing = cache.shared === 'package' ? (1 << topo.pkgOffset) - 1 : cache.shared === 'core' ? cpu.threads - 1 : 0;
      return { eax: (cache.eax | sharing << 14 | (cpu.cores - 1) << 26) >>> 0, ebx: cache.ebx, ecx: cache.ecx, edx: cache.edx };
    }
    case 5: return { eax: 0, ebx: 0, ecx: 3, edx: 0 }; // MONITOR/MWAIT: CPUID_MWAIT_EMX | CPUID_MWAIT_IBE
    case 6: return { ...ZERO, eax: f['6_EAX'] };
    case 7:
      if (index === 0) return { eax: cpu.levelFunc7, ebx: f['7_0_EBX'], ecx: f['7_0_ECX'], edx: f['7_0_EDX'] };
      return index === 1 ? { ...ZERO, eax: f['7_1_EAX'] } : ZERO;
    case 0xb: {
      // Extended topology: SMT then core level; ECX[15:8] is the level type, EDX the x2APIC id.
      const level = index === 0 ? { eax: topo.smtBits, ebx: cpu.threads, type: 1 }
        : index === 1 ? { eax: topo.pkgOffset, ebx: topo.perPkg, type: 2 } : { eax: 0, ebx: 0, type: 0 };
      return { eax: level.eax, ebx: level.ebx & 0xffff, ecx: (index & 0xff) | level.type << 8, edx: cpu.apicId };
    }
    case 0xd: return xsaveLeaf(cpu, supported, index);
    case 0x80000000: return { eax: cpu.xlevel, ...vendor };
    case 0x80000001: {
      const ecx = (f['8000_0001_ECX'] | (topo.perPkg > 1 && cpu.vendor !== INTEL_VENDOR ? CPUID_EXT3_CMP_LEG : 0)) >>> 0;
      return { eax: cpuVersion(cpu), ebx: 0, ecx, edx: f['8000_0001_EDX'] };
    }
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const id = cpu.modelId.slice(0, 48).padEnd(48, '\0');
      const at = (leaf - 0x80000002) * 16;
      return { eax: le32(id, at), ebx: le32(id, at + 4), ecx: le32(id, at + 8), edx: le32(id, at + 12) };
    }
    case 0x80000005:
      // L1 TLBs and the legacy AMD L1 caches (64 KiB, 2-way, 64-byte lines), whatever the vendor (in QEMU 7.2).
      return { eax: 0x01ff01ff, ebx: 0x01ff01ff, ecx: 0x40020140, edx: 0x40020140 };
    case 0x80000006:
      // L2 TLB, L2 512 KiB 16-way, L3 16 MiB (l3-cache=on).
      return { eax: 0, ebx: 0x42004200, ecx: 0x02008140, edx: 0x00808140 };
    case 0x80000007: return { ...ZERO, edx: f['8000_0007_EDX'] };
    case 0x80000008: {
      const virt = f['8000_0001_EDX'] & CPUID_EXT2_LM ? (f['7_0_ECX'] & CPUID_7_0_ECX_LA57 ? 57 : 48) << 8 : 0;
      const ecx = topo.perPkg > 1 ? (topo.pkgOffset << 12 | (topo.perPkg - 1)) >>> 0 : 0;
      return { eax: cpu.physBits | virt, ebx: f['8000_0008_EBX'], ecx, edx: 0 };
    }
    case 0x8000000a:
      // SVM: revision 1, 16 ASIDs (QEMU's constants), the SVM features.
      return f['8000_0001_ECX'] & 1 << 2 ? { eax: 1, ebx: 0x10, ecx: 0, edx: f.SVM } : ZERO;
    case 0x8000001d: {
      const cache = AMD_CACHES[index];
      if (!cache) return ZERO;
      const sharing = cache.shared === 'package' ? topo.perPkg - 1 : cpu.threads - 1;
      return { eax: (cache.eax | sharing << 14) >>> 0, ebx: cache.ebx, ecx: cache.ecx, edx: cache.edx };
    }
    case 0x8000001e:
      // encode_topo_cpuid8000001e: APIC id, threads per core and core id, node (= package) id.
      return { eax: cpu.apicId, ebx: ((cpu.threads - 1) << 8 | topo.coreId) >>> 0, ecx: (cpu.apicId >>> topo.pkgOffset) & 0xff, edx: 0 };
    default: return ZERO; // PMU 0xa and the leaves of unmodelled features
  }
}

/** x86_cpu_version: family (with the extended family above 15), model (with the extended model), stepping. */
function cpuVersion(cpu: X86CpuState): number {
  let eax = cpu.family > 0x0f ? 0xf00 | (cpu.family - 0x0f) << 20 : cpu.family << 8;
  eax |= (cpu.model & 0x0f) << 4 | (cpu.model >>> 4) << 16;
  return (eax | cpu.stepping) >>> 0;
}

/**
 * Leaf 0xd when the CPU has xsave: the user components KVM supports among
 * those QEMU enables for the CPU's features, sizes and offsets from KVM
 * (kvm_cpu_xsave_init reads them from the host).
 */
function xsaveLeaf(cpu: X86CpuState, supported: readonly CpuidEntry[], index: number): Regs {
  if (!(cpu.features['1_ECX'] & 1 << 26)) return ZERO;
  const mask = xsaveComponents(cpu) & (supportedEntry(supported, 0xd, 0)?.eax ?? 0);
  if (index === 0) {
    let size = 0x240; // legacy area + XSAVE header
    for (let i = 2; i < 32; i++) {
      const c = supportedEntry(supported, 0xd, i);
      if (mask & (1 << i) && c) size = Math.max(size, c.eax + c.ebx);
    }
    return { eax: mask >>> 0, ebx: size, ecx: size, edx: 0 };
  }
  if (index === 1) return { ...ZERO, eax: cpu.features.XSAVE };
  if (index >= 32 || !(mask & (1 << index))) return ZERO;
  const c = supportedEntry(supported, 0xd, index);
  return c ? { eax: c.eax, ebx: c.ebx, ecx: c.ecx & 0x3, edx: 0 } : ZERO;
}

/** x86_ext_save_areas: the XCR0 component each feature needs (x87, SSE, AVX, MPX, AVX-512, PKRU). */
function xsaveComponents(cpu: X86CpuState): number {
  const f = cpu.features;
  let m = 0;
  if (f['1_EDX'] & 1 << 0) m |= 1 << 0;
  if (f['1_EDX'] & 1 << 25) m |= 1 << 1;
  if (f['1_ECX'] & 1 << 28) m |= 1 << 2;
  if (f['7_0_EBX'] & 1 << 14) m |= 3 << 3;
  if (f['7_0_EBX'] & 1 << 16) m |= 7 << 5;
  if (f['7_0_ECX'] & 1 << 3) m |= 1 << 9;
  return m >>> 0;
}

function entry(fn: number, index: number, flags: number, r: Regs): CpuidEntry {
  return { function: fn >>> 0, index, flags, eax: r.eax >>> 0, ebx: r.ebx >>> 0, ecx: r.ecx >>> 0, edx: r.edx >>> 0 };
}

const isZero = (r: Regs) => r.eax === 0 && r.ebx === 0 && r.ecx === 0 && r.edx === 0;

/** The kvm_cpuid_entry2 list kvm_arch_init_vcpu hands to KVM_SET_CPUID2. */
export function buildCpuidEntries(cpu: X86CpuState, supported: readonly CpuidEntry[]): CpuidEntry[] {
  const out: CpuidEntry[] = [];
  const SIG = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  if (cpu.exposeKvm) {
    out.push(entry(KVM_CPUID_SIGNATURE, 0, 0, { eax: cpu.tscKhz ? KVM_CPUID_TIMING : KVM_CPUID_FEATURES, ebx: le32('KVMK', 0), ecx: le32('VMKV', 0), edx: le32('M\0\0\0', 0) }));
    out.push(entry(KVM_CPUID_FEATURES, 0, 0, { eax: cpu.features.KVM, ebx: 0, ecx: 0, edx: cpu.features.KVM_HINTS }));
  }
  const value = (leaf: number, index: number) => leafValue(cpu, supported, leaf, index);
  for (let leaf = 0; leaf <= cpu.level; leaf++) {
    switch (leaf) {
      case 2: out.push(entry(2, 0, LEAF2_FLAGS, value(2, 0))); break;
      case 0x1f: break; // only with several dies per package (nr_dies > 1)
      case 4: case 0xb: {
        // Subleaves up to and including the first empty one.
        for (let j = 0; ; j++) {
          const r = value(leaf, j);
          out.push(entry(leaf, j, SIG, r));
          if (leaf === 4 ? r.eax === 0 : (r.ecx & 0xff00) === 0) break;
        }
        break;
      }
      case 0xd: {
        // Every subleaf with EAX ≠ 0; QEMU's loop leaves its slot holding subleaf 63 when that one is empty.
        for (let j = 0; j < 64; j++) {
          const r = value(0xd, j);
          if (r.eax !== 0 || j === 63) out.push(entry(0xd, j, SIG, r));
        }
        break;
      }
      case 7: case 0x14: case 0x1d: case 0x1e: {
        const first = value(leaf, 0);
        out.push(entry(leaf, 0, SIG, first));
        for (let j = 1; j <= first.eax; j++) out.push(entry(leaf, j, SIG, value(leaf, j)));
        break;
      }
      case 0x12: // SGX: subleaves 0, 1 and the first that is not an EPC section
        for (let j = 0; j <= 2; j++) out.push(entry(0x12, j, SIG, value(0x12, j)));
        break;
      default: {
        const r = value(leaf, 0);
        if (!isZero(r)) out.push(entry(leaf, 0, 0, r)); // KVM answers zeros for a missing leaf anyway
      }
    }
  }
  for (let leaf = 0x80000000; leaf <= cpu.xlevel; leaf++) {
    if (leaf === 0x8000001d) {
      for (let j = 0; ; j++) {
        const r = value(leaf, j);
        out.push(entry(leaf, j, SIG, r));
        if (r.eax === 0) break;
      }
      continue;
    }
    const r = value(leaf, 0);
    if (!isZero(r)) out.push(entry(leaf, 0, 0, r));
  }
  if (cpu.tscKhz) out.push(entry(KVM_CPUID_TIMING, 0, 0, { eax: cpu.tscKhz, ebx: APIC_BUS_KHZ, ecx: 0, edx: 0 }));
  return out;
}
