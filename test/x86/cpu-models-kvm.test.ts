// QEMU's CPU models on real KVM: a vCPU given cpuidForModel's table runs the
// CPUID dump guest (test/guests/cpuid-dump.S) and sees, leaf by leaf, what
// QEMU 7.2's vCPU saw for the same -cpu and -smp on this host
// (test/fixtures/qemu-cpuid/*.txt, whose first line is QEMU's command line).
// The captures come from one host of this kind; the words that come from the
// host and not from the model are carried over to this host from sources
// other than the code under test (see onThisHost). Where QEMU is installed,
// each capture's command line also runs through it here, and the guest must
// see exactly what QEMU's guest sees on this host; on a host whose vendor is
// not the captures' (an Intel one: other leaves, other host words), that live
// comparison is the test, and QEMU must be installed.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Kvm } from '../../lib';
import type { CpuidEntry } from '../../lib/kvm/cpuid';
import { cpuidForModel } from '../../lib/x86/cpu-models';
import { captureCpuArgs, captureQemuCpuid, type CpuidResult, QemuRefusedCpuError, dumpLeaves, formatCpuidDump, parseCpuidDump, runCpuidDump } from '../helpers/cpuid-dump';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'qemu-cpuid');

const dumpOf = (text: string) => parseCpuidDump(text.split('\n').filter((l) => !l.startsWith('#')).join('\n'));

/** A capture: its QEMU arguments, the -cpu string and -smp topology they give, and the dump. */
function loadCapture(file: string) {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8');
  const args = captureCpuArgs(text);
  const smp = /^(\d+),cores=(\d+),threads=(\d+)$/.exec(args[3] ?? '');
  const topology = smp ? { cpuCount: Number(smp[1]), cores: Number(smp[2]), threads: Number(smp[3]) } : { cpuCount: 1 };
  return { args, spec: args[1], topology, dump: dumpOf(text) };
}


/** KVM_GET_SUPPORTED_CPUID of the host the captures were made on. */
const CAPTURE_HOST: CpuidEntry[] = JSON.parse(fs.readFileSync(path.join(DIR, 'kvm-supported-cpuid.json'), 'utf8'));
const REGS = ['eax', 'ebx', 'ecx', 'edx'] as const;
const leafOf = (rows: readonly Omit<CpuidEntry, 'flags'>[], fn: number, index = 0) => rows.find((r) => r.function === fn && r.index === index);
/**
 * Sub-leaf `index` of leaf 0xd was the capture host's own (its KVM rewrites
 * them, see onThisHost): 0 and 1 describe XSAVE itself, a higher one a state
 * component, there iff the host's XCR0 word (0xd.0 EDX:EAX) has its bit.
 */
const CAPTURE_HOST_XSAVE = (index: number): boolean => {
  const d = leafOf(CAPTURE_HOST, 0xd)!;
  return index < 2 || (index < 32 ? (d.eax >>> index) & 1 : (d.edx >>> (index - 32)) & 1) === 1;
};

/** Leaf 0's vendor string in a CPUID table. */
function vendorOf(rows: readonly Omit<CpuidEntry, 'flags'>[]): string {
  const l = leafOf(rows, 0)!;
  return Buffer.from(Uint32Array.of(l.ebx, l.edx, l.ecx).buffer).toString('latin1');
}
/** This host's CPU vendor is the capture host's: the stored captures apply here (moved by onThisHost). */
const CAPTURES_APPLY = /^vendor_id\s*:\s*(\S+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] === vendorOf(CAPTURE_HOST);
/** qemu-system-x86_64 runs here: every capture's command line runs through it too. */
const QEMU_INSTALLED = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/**
 * The bits of 0x80000008 EBX (AMD's numbering) that QEMU 7.2 has names for:
 * `-cpu host`/`max` show the host's supported word with only these (QEMU
 * drops what it cannot name). Each name is checked against QEMU's own
 * `-cpu help` (cpu-help.txt), so the table cannot claim a bit QEMU lacks.
 */
const QEMU_8000_0008_EBX: Readonly<Record<string, number>> = {
  clzero: 0, xsaveerptr: 2, wbnoinvd: 9, ibpb: 12, ibrs: 14, 'amd-stibp': 15, 'amd-ssbd': 24, 'virt-ssbd': 25, 'amd-no-ssb': 26,
};
const QEMU_8000_0008_EBX_MASK = Object.values(QEMU_8000_0008_EBX).reduce((m, bit) => m | (1 << bit), 0);

/** The words `-cpu host`/`max` take from KVM's supported table (leaf 0's maximum, the signatures, the maximum extended leaf; 0x80000008 EBX masked to QEMU's names). */
const PASSED_THROUGH: readonly { fn: number; reg: 'eax' | 'ebx'; mask: number }[] = [
  { fn: 0, reg: 'eax', mask: -1 }, { fn: 1, reg: 'eax', mask: -1 }, { fn: 0x80000000, reg: 'eax', mask: -1 },
  { fn: 0x80000001, reg: 'eax', mask: -1 }, { fn: 0x80000008, reg: 'ebx', mask: QEMU_8000_0008_EBX_MASK },
];

/** What this host contributes to every vCPU's CPUID, whatever table the VMM sets. */
interface HostWords {
  /** KVM_GET_SUPPORTED_CPUID here */
  supported: CpuidEntry[];
  /** KVM_GET_TSC_KHZ of a new vCPU here */
  tscKhz: number;
  /** leaf 7.0 as this KVM rewrites it (PVM puts the host's there), or null when it keeps the table's */
  leaf7: CpuidResult | null;
  /** leaf 0xd's sub-leaves (XSAVE state) as this KVM rewrites them, whatever the table says, or null when it keeps the table's */
  leafD: CpuidResult[] | null;
}

/**
 * A capture, moved to this host: the words QEMU took from the capture host
 * take this host's values, each from a source outside the code under test.
 * - Leaf 7.0 (for models that reach leaf 7): a KVM that rewrites it (this
 *   kind's PVM, see the fixtures' README) shows QEMU's and our guests the same
 *   host words: they are what it showed a guest given KVM's own supported
 *   table (HostWords.leaf7).
 * - Leaf 0xd (XSAVE components and sizes): the same kind of KVM shows the
 *   host's XSAVE sub-leaves to every guest, even one whose leaves end below
 *   0xd (the captures' qemu32 shows them too): this host's (HostWords.leafD).
 *   A sub-leaf of a component this host lacks is not rewritten: it is KVM's
 *   answer from the table. In a model's range that is the capture's value
 *   unless the capture host rewrote it (a component it had, AVX-512 on the
 *   Zen 5): QEMU only lists components the host has, so zeros here.
 * - A leaf above its class's maximum (basic, hypervisor, extended) is KVM's
 *   out-of-range answer: zeros for an AMD-vendor guest, else the maximum
 *   basic leaf's row of the same index, as moved here (an Intel-vendor
 *   qemu64 shows 0xd.0 at 0xe.0 and at 0x8000000b).
 * - `-cpu host`/`max` pass the host's maximum basic leaf and signature
 *   through (leaf 0, leaf 1 and 0x80000001 EAX): where the capture has the
 *   capture host's supported word, this host's supported word.
 * - 0x40000010 EAX, where the KVM leaves reach it, is the vCPU's TSC frequency, KVM_GET_TSC_KHZ.
 */
function onThisHost(dump: CpuidResult[], spec: string, host: HostWords): string {
  const passthrough = /^(host|max)\b/.test(spec);
  const maxLeaf = leafOf(dump, 0)!.eax; // a model whose leaves end below 7 (qemu32) sees no leaf 7 at all
  const intelOutOfRange = !['AuthenticAMD', 'HygonGenuine'].includes(vendorOf(dump));
  const rewrittenHere = (index: number) => {
    const now = host.leafD ? leafOf(host.leafD, 0xd, index) : undefined;
    return now && REGS.some((k) => now[k] !== 0) ? now : undefined;
  };
  /** Above its class's maximum (KVM's classes: basic, each 0x100 of the hypervisor range, 0x80000000, 0xc0000000), so not in QEMU's table. */
  const outOfRange = (fn: number): boolean => {
    const cls = fn >= 0x40000000 && fn <= 0x4fffffff ? (fn & 0xffffff00) >>> 0 : fn >= 0xc0000000 ? 0xc0000000 : (fn & 0x80000000) >>> 0;
    const top = leafOf(dump, cls);
    return !top || fn > top.eax;
  };
  const zeros = (r: CpuidResult): CpuidResult => ({ ...r, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  const inRange = (r: CpuidResult): CpuidResult => {
    const out = { ...r };
    if (r.function === 7 && r.index === 0 && host.leaf7) Object.assign(out, { eax: host.leaf7.eax, ebx: host.leaf7.ebx, ecx: host.leaf7.ecx, edx: host.leaf7.edx });
    const pass = passthrough && r.index === 0 ? PASSED_THROUGH.find((p) => p.fn === r.function) : undefined;
    if (pass) {
      const was = leafOf(CAPTURE_HOST, r.function);
      const now = leafOf(host.supported, r.function);
      if (was && now && out[pass.reg] === (was[pass.reg] & pass.mask) >>> 0) out[pass.reg] = (now[pass.reg] & pass.mask) >>> 0;
    }
    // (in range: the KVM leaves reach it; else outOfRange() gave KVM's out-of-range answer)
    if (r.function === 0x40000010 && r.index === 0) out.eax = host.tscKhz;
    return out;
  };
  const moved = (r: CpuidResult): CpuidResult => {
    const now = r.function === 0xd ? rewrittenHere(r.index) : undefined;
    if (now) return { ...r, eax: now.eax, ebx: now.ebx, ecx: now.ecx, edx: now.edx };
    if (outOfRange(r.function)) {
      if (!intelOutOfRange) return zeros(r);
      const top = leafOf(dump, maxLeaf, r.index);
      return top ? { ...moved(top), function: r.function } : zeros(r);
    }
    if (r.function === 0xd && host.leafD && CAPTURE_HOST_XSAVE(r.index)) return zeros(r);
    return inRange(r);
  };
  return formatCpuidDump(dump.map((row) => {
    const r = moved(row);
    for (const k of REGS) r[k] >>>= 0;
    return r;
  }));
}

/** The dumps: the .txt files that start with QEMU's command line (not messages.txt, cpu-help.txt). */
const CAPTURES = fs.readdirSync(DIR)
  .filter((f) => f.endsWith('.txt') && fs.readFileSync(path.join(DIR, f), 'utf8').startsWith('# qemu-system-x86_64 '))
  .sort();

describeKvm('CPU models on KVM: the guest sees what QEMU\'s guest saw', () => {
  let kvm: Kvm;
  let tscKhz: number;
  let host: HostWords;
  beforeAll(() => {
    kvm = Kvm.open();
    const vm = kvm.createVm();
    tscKhz = vm.createVcpu(0).getTscKhz();
    vm.close();
    // leaf 7.0 with every bit KVM offers cleared: a KVM that keeps the table shows zeros
    const supported = kvm.supportedCpuid();
    const probe = supported.map((e) => (e.function === 7 && e.index === 0 ? { ...e, eax: 0, ebx: 0, ecx: 0, edx: 0 } : e));
    const seen = leafOf(runCpuidDump(kvm, probe, [{ function: 7, index: 0 }]), 7)!;
    const rewrites = REGS.some((k) => seen[k] !== 0);
    // leaf 0xd left out of the table: a KVM that keeps the table shows zeros (each sub-leaf the dumps hold)
    const xsave = dumpLeaves().filter((l) => l.function === 0xd);
    const noXsave = supported.filter((e) => e.function !== 0xd);
    const rewritesD = runCpuidDump(kvm, noXsave, xsave).some((r) => REGS.some((k) => r[k] !== 0));
    host = {
      supported, tscKhz,
      leaf7: rewrites ? leafOf(runCpuidDump(kvm, supported, [{ function: 7, index: 0 }]), 7)! : null,
      leafD: rewritesD ? runCpuidDump(kvm, supported, xsave) : null,
    };
  });
  afterAll(() => kvm.close());

  test('the captures cover the models', () => {
    expect(CAPTURES).toEqual(expect.arrayContaining([
      'qemu64.txt', 'kvm64.txt', 'qemu32.txt', 'max-no-arch-cap.txt', 'host-no-arch-cap.txt', 'qemu64-invtsc.txt',
      'qemu64-intel.txt', 'qemu64-intel-smp6.txt', 'qemu32-intel.txt', // vendor=GenuineIntel: leaves 2 and 4, KVM's out-of-range answer
    ]));
  });

  test('the 0x80000008 EBX names the captures are moved with are QEMU 7.2\'s (its -cpu help)', () => {
    const help = fs.readFileSync(path.join(DIR, 'cpu-help.txt'), 'utf8').split(/\s+/);
    for (const name of Object.keys(QEMU_8000_0008_EBX)) expect(help).toContain(name);
    // and the bits QEMU dropped on the capture host are not among them (its supported word against the captures' max)
    const max = loadCapture('max-no-arch-cap.txt').dump;
    expect(leafOf(max, 0x80000008)!.ebx).toBe((leafOf(CAPTURE_HOST, 0x80000008)!.ebx & QEMU_8000_0008_EBX_MASK) >>> 0);
  });

  // On a host of another vendor the captures do not apply, and QEMU must be here: the live tests say so when it is not.
  if (CAPTURES_APPLY) test.each(CAPTURES)('%s', (file) => {
    const { spec, topology, dump } = loadCapture(file);
    const { entries } = cpuidForModel(kvm.supportedCpuid(), spec, { apicId: 0, hostModelId: 'AMD EPYC', tscKhz, ...topology });
    expect(formatCpuidDump(runCpuidDump(kvm, entries, dumpLeaves()))).toBe(onThisHost(dump, spec, host));
  });

  (QEMU_INSTALLED || !CAPTURES_APPLY ? test.each(CAPTURES) : test.skip.each(CAPTURES))('%s: what QEMU\'s guest sees on this host, leaf for leaf', (file) => {
    const { args, spec, topology } = loadCapture(file);
    const { entries } = cpuidForModel(kvm.supportedCpuid(), spec, { apicId: 0, tscKhz, ...topology });
    const seen = runCpuidDump(kvm, entries, dumpLeaves());
    let qemu: string;
    try {
      qemu = captureQemuCpuid(args); // the capture's own command line, run now
    } catch (e) {
      if (!(e instanceof QemuRefusedCpuError)) throw e;
      // QEMU cannot run this CPU on this host's KVM (as `-cpu max` cannot on the capture host, see the
      // fixtures' README): nothing to compare with; node-kvm's vCPU still ran it, with the vendor asked for or the host's.
      process.stderr.write(`${file}: QEMU could not run it here, so only node-kvm's run is checked: ${e.message}\n`);
      expect(vendorOf(seen)).toBe(/vendor=(\w+)/.exec(spec)?.[1] ?? vendorOf(kvm.supportedCpuid()));
      return;
    }
    expect(formatCpuidDump(seen)).toBe(formatCpuidDump(dumpOf(qemu)));
  });

  test('qemu64: the leaves SeaBIOS reads, as in the pc reset-state dump; no fd or mapping is left behind', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const leaves = [0, 1, 0x40000000, 0x40000001, 0x40000010, 0x40000100, 0x80000000, 0x80000001, 0x80000008].map((f) => ({ function: f, index: 0 }));
    const seen = runCpuidDump(kvm, cpuidForModel(kvm.supportedCpuid(), 'qemu64', { apicId: 0, cpuCount: 1 }).entries, leaves);
    const line = (r: CpuidResult) => [r.function, r.eax, r.ebx, r.ecx, r.edx].map((v) => v.toString(16).toUpperCase().padStart(8, '0')).join(' ').replace(' ', ': ');
    if (CAPTURES_APPLY) {
      const text = fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', 'qemu-pc', 'pci-cmos', 'reset-state-m128-pci-cmos-cpuid-dump.txt'), 'utf8');
      const fixture = text.slice(text.indexOf('CPUID leaf')).split('\n').slice(1).filter((l) => /^[0-9A-F]{8}:/.test(l));
      expect(seen.map(line)).toEqual(fixture);
    } else { // the reset-state dump is of the capture host's kind: QEMU's qemu64 here instead
      const qemu = dumpOf(captureQemuCpuid(['-cpu', 'qemu64']));
      expect(seen.map(line)).toEqual(leaves.map((l) => line(leafOf(qemu, l.function)!)));
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });
});
