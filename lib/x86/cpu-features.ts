// QEMU 7.2's CPUID feature words and the flag names `-cpu` accepts for their
// bits (target/i386/cpu.c feature_word_info[], in QEMU's FeatureWord order,
// which is also the order of its "host doesn't support requested feature"
// warnings). Only the words node-kvm builds CPUID leaves for are here; the
// VMX capability words are MSRs, not CPUID, and are not modelled.

export type Reg = 'eax' | 'ebx' | 'ecx' | 'edx';

export const AMD_VENDOR = 'AuthenticAMD';
/** CPUID_EXT2_AMD_ALIASES: the leaf 1 EDX bits AMD's spec repeats in 0x80000001 EDX. */
export const AMD_ALIASES = 0x0183f3ff;

export interface FeatureWord {
  /** QEMU's name without the FEAT_ prefix. */
  id: string;
  leaf: number;
  index: number;
  reg: Reg;
  /** Flag name per bit; null where QEMU has none (the bit cannot be named on -cpu). */
  names: readonly (string | null)[];
  /**
   * Bits `max`/`host` do not switch on by themselves (QEMU's
   * no_autoenable_flags; topoext: observed on QEMU 7.2 here, where -cpu max
   * leaves it clear although KVM offers it).
   */
  noAutoenable?: number;
  /** Bits that would tie a guest to this host (unmigratable_flags): max/host leave them off too. */
  unmigratable?: number;
}

/** 32 names from a space-separated list, '-' for a bit without a name. */
function bits(list: string): (string | null)[] {
  const names = list.trim().split(/\s+/).map((n) => (n === '-' ? null : n));
  if (names.length !== 32) throw new Error(`feature word table: ${names.length} names`);
  return names;
}

export const FEATURE_WORDS: readonly FeatureWord[] = [
  { id: '1_EDX', leaf: 1, index: 0, reg: 'edx', names: bits(`
    fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov
    pat pse36 pn clflush - ds acpi mmx fxsr sse sse2 ss ht tm ia64 pbe`) },
  { id: '1_ECX', leaf: 1, index: 0, reg: 'ecx', names: bits(`
    pni pclmulqdq dtes64 monitor ds-cpl vmx smx est tm2 ssse3 cid - fma cx16 xtpr pdcm
    - pcid dca sse4.1 sse4.2 x2apic movbe popcnt tsc-deadline aes xsave - avx f16c rdrand hypervisor`) },
  { id: '7_0_EBX', leaf: 7, index: 0, reg: 'ebx', names: bits(`
    fsgsbase tsc-adjust sgx bmi1 hle avx2 - smep bmi2 erms invpcid rtm - - mpx -
    avx512f avx512dq rdseed adx smap avx512ifma pcommit clflushopt clwb intel-pt avx512pf avx512er
    avx512cd sha-ni avx512bw avx512vl`) },
  { id: '7_0_ECX', leaf: 7, index: 0, reg: 'ecx', names: bits(`
    - avx512vbmi umip pku - waitpkg avx512vbmi2 - gfni vaes vpclmulqdq avx512vnni avx512bitalg - avx512-vpopcntdq -
    la57 - - - - - rdpid - bus-lock-detect cldemote - movdiri movdir64b - sgxlc pks`) },
  { id: '7_0_EDX', leaf: 7, index: 0, reg: 'edx', names: bits(`
    - - avx512-4vnniw avx512-4fmaps fsrm - - - avx512-vp2intersect - md-clear - - - serialize -
    tsx-ldtrk - - arch-lbr - - amx-bf16 avx512-fp16 amx-tile amx-int8 spec-ctrl stibp - arch-capabilities
    core-capability ssbd`) },
  { id: '7_1_EAX', leaf: 7, index: 1, reg: 'eax', names: bits(`
    - - - - avx-vnni avx512-bf16 - - - - - - - - - - - - - - - - - - - - - - - - - -`) },
  { id: '8000_0001_EDX', leaf: 0x80000001, index: 0, reg: 'edx', names: bits(`
    - - - - - - - - - - - syscall - - - -
    - - - - nx - mmxext - - fxsr-opt pdpe1gb rdtscp - lm 3dnowext 3dnow`) },
  { id: '8000_0001_ECX', leaf: 0x80000001, index: 0, reg: 'ecx', noAutoenable: 1 << 22, names: bits(`
    lahf-lm cmp-legacy svm extapic cr8legacy abm sse4a misalignsse 3dnowprefetch osvw ibs xop skinit wdt - lwp
    fma4 tce - nodeid-msr - tbm topoext perfctr-core perfctr-nb - - - - - - -`) },
  { id: '8000_0007_EDX', leaf: 0x80000007, index: 0, reg: 'edx', unmigratable: 1 << 8, names: bits(`
    - - - - - - - - invtsc - - - - - - - - - - - - - - - - - - - - - - -`) },
  { id: '8000_0008_EBX', leaf: 0x80000008, index: 0, reg: 'ebx', names: bits(`
    clzero - xsaveerptr - - - - - - wbnoinvd - - ibpb - ibrs amd-stibp
    - - - - - - - - amd-ssbd virt-ssbd amd-no-ssb - - - - -`) },
  { id: 'KVM', leaf: 0x40000001, index: 0, reg: 'eax', names: bits(`
    kvmclock kvm-nopiodelay kvm-mmu kvmclock kvm-asyncpf kvm-steal-time kvm-pv-eoi kvm-pv-unhalt
    - kvm-pv-tlb-flush - kvm-pv-ipi kvm-poll-control kvm-pv-sched-yield kvm-asyncpf-int kvm-msi-ext-dest-id
    - - - - - - - - kvmclock-stable-bit - - - - - - -`) },
  { id: 'KVM_HINTS', leaf: 0x40000001, index: 0, reg: 'edx', noAutoenable: ~0, names: bits(`
    kvm-hint-dedicated - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -`) },
  { id: 'SVM', leaf: 0x8000000a, index: 0, reg: 'edx', names: bits(`
    npt lbrv svm-lock nrip-save tsc-scale vmcb-clean flushbyasid decodeassists - - pause-filter - pfthreshold avic - v-vmsave-vmload
    vgif - - - - - - - - - - - svme-addr-chk - - -`) },
  { id: 'XSAVE', leaf: 0xd, index: 1, reg: 'eax', names: bits(`
    xsaveopt xsavec xgetbv1 xsaves xfd - - - - - - - - - - - - - - - - - - - - - - - - - - -`) },
  { id: '6_EAX', leaf: 6, index: 0, reg: 'eax', names: bits(`
    - - arat - - - - - - - - - - - - - - - - - - - - - - - - - - - - -`) },
];

/** The bits of one flag: a name can stand for more than one bit (kvmclock is KVM bits 0 and 3). */
export interface FeatureBits { word: FeatureWord; mask: number }

/**
 * Old spellings QEMU keeps as property aliases (target/i386/cpu.c
 * x86_cpu_initfn); '_' is already read as '-' (x86_cpu_parse_featurestr's
 * feat2prop).
 */
const ALIASES: Record<string, string> = {
  'sse3': 'pni', 'pclmuldq': 'pclmulqdq', 'sse4-1': 'sse4.1', 'sse4-2': 'sse4.2', 'xd': 'nx', 'ffxsr': 'fxsr-opt',
  'i64': 'lm',
};

/**
 * Flags QEMU 7.2 knows (`-cpu help`) that node-kvm does not build: the SGX,
 * Intel PT and AMX leaves (0x12, 0x14, 0x1d/0x1e), VIA's leaf 0xc0000001,
 * and the bits of MSR feature words (IA32_ARCH_CAPABILITIES,
 * IA32_CORE_CAPABILITY, IA32_PERF_CAPABILITIES, the vmx-* VMX controls).
 * Asking for one is an error rather than a vCPU that differs from QEMU's.
 */
const UNMODELLED = new Set(`
  sgx sgxlc sgx1 sgx2 sgx-debug sgx-exinfo sgx-kss sgx-mode64 sgx-provisionkey sgx-tokenkey intel-pt intel-pt-lip
  amx-bf16 amx-tile amx-int8 ace2 ace2-en phe phe-en pmm pmm-en xcrypt xcrypt-en xstore xstore-en
  rdctl-no ibrs-all rsba skip-l1dfl-vmentry ssb-no mds-no pschange-mc-no tsx-ctrl taa-no split-lock-detect
  full-width-write`.trim().split(/\s+/));

export function isUnmodelledFlag(name: string): boolean {
  return UNMODELLED.has(name) || name.startsWith('vmx-');
}

const BY_NAME = new Map<string, FeatureBits[]>();
for (const word of FEATURE_WORDS) {
  word.names.forEach((name, bit) => {
    if (name === null) return;
    const list = BY_NAME.get(name) ?? [];
    const same = list.find((b) => b.word === word);
    if (same) same.mask = (same.mask | (1 << bit)) >>> 0;
    else list.push({ word, mask: (1 << bit) >>> 0 });
    BY_NAME.set(name, list);
  });
}

/** QEMU's property name for a flag as written on -cpu ('_' → '-', old aliases). */
export function canonicalFlagName(name: string): string {
  const dashed = name.replace(/_/g, '-');
  return ALIASES[dashed] ?? dashed;
}

/** The bits a flag name sets, or undefined when QEMU has no such flag. */
export function featureBits(name: string): readonly FeatureBits[] | undefined {
  return BY_NAME.get(canonicalFlagName(name));
}

/** All feature words at 0, keyed by id. */
export function emptyFeatures(): Record<string, number> {
  return Object.fromEntries(FEATURE_WORDS.map((w) => [w.id, 0]));
}

/** `CPUID.80000001H:ECX.svm [bit 2]`: QEMU's name of one bit (feature_word_description + mark_unavailable_features). */
export function describeFeatureBit(word: FeatureWord, bit: number): string {
  const name = word.names[bit];
  const leaf = word.leaf.toString(16).toUpperCase().padStart(2, '0');
  return `CPUID.${leaf}H:${word.reg.toUpperCase()}${name === null ? '' : `.${name}`} [bit ${bit}]`;
}
