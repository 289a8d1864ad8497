// QEMU's CPU models on real KVM: a vCPU given cpuidForModel's table runs the
// CPUID dump guest (test/guests/cpuid-dump.S) and sees, leaf by leaf, what
// QEMU 7.2's vCPU saw for the same -cpu and -smp on this host
// (test/fixtures/qemu-cpuid/*.txt, whose first line is QEMU's command line).
import * as fs from 'fs';
import * as path from 'path';
import { Kvm } from '../../lib';
import { cpuidForModel } from '../../lib/x86/cpu-models';
import { dumpLeaves, formatCpuidDump, parseCpuidDump, runCpuidDump } from '../helpers/cpuid-dump';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'qemu-cpuid');

/** A capture: the -cpu string and -smp topology of its command line, and the dump. */
function loadCapture(file: string) {
  const text = fs.readFileSync(path.join(DIR, file), 'utf8');
  const cmdline = text.split('\n')[0];
  const spec = /-cpu (.*?) (?:-smp|-m) /.exec(cmdline)![1];
  const smp = /-smp (\d+),cores=(\d+),threads=(\d+)/.exec(cmdline);
  const topology = smp ? { cpuCount: Number(smp[1]), cores: Number(smp[2]), threads: Number(smp[3]) } : { cpuCount: 1 };
  const dump = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return { spec, topology, dump: formatCpuidDump(parseCpuidDump(dump)) };
}

/** The dumps: the .txt files that start with QEMU's command line (not messages.txt, cpu-help.txt). */
const CAPTURES = fs.readdirSync(DIR)
  .filter((f) => f.endsWith('.txt') && fs.readFileSync(path.join(DIR, f), 'utf8').startsWith('# qemu-system-x86_64 '))
  .sort();

describeKvm('CPU models on KVM: the guest sees what QEMU\'s guest saw', () => {
  let kvm: Kvm;
  let tscKhz: number;
  beforeAll(() => {
    kvm = Kvm.open();
    const vm = kvm.createVm();
    tscKhz = vm.createVcpu(0).getTscKhz();
    vm.close();
  });
  afterAll(() => kvm.close());

  test('the captures cover the models', () => {
    expect(CAPTURES).toEqual(expect.arrayContaining(['qemu64.txt', 'kvm64.txt', 'qemu32.txt', 'max-no-arch-cap.txt', 'host-no-arch-cap.txt', 'qemu64-invtsc.txt']));
  });

  test.each(CAPTURES)('%s', (file) => {
    const { spec, topology, dump } = loadCapture(file);
    const { entries } = cpuidForModel(kvm.supportedCpuid(), spec, { apicId: 0, hostModelId: 'AMD EPYC', tscKhz, ...topology });
    expect(formatCpuidDump(runCpuidDump(kvm, entries, dumpLeaves()))).toBe(dump);
  });

  test('qemu64: the leaves SeaBIOS reads, as in the pc reset-state dump; no fd or mapping is left behind', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const leaves = [0, 1, 0x40000000, 0x40000001, 0x40000010, 0x40000100, 0x80000000, 0x80000001, 0x80000008].map((f) => ({ function: f, index: 0 }));
    const seen = runCpuidDump(kvm, cpuidForModel(kvm.supportedCpuid(), 'qemu64', { apicId: 0, cpuCount: 1 }).entries, leaves);
    const text = fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', 'qemu-pc', 'pci-cmos', 'reset-state-m128-pci-cmos-cpuid-dump.txt'), 'utf8');
    const fixture = text.slice(text.indexOf('CPUID leaf')).split('\n').slice(1).filter((l) => /^[0-9A-F]{8}:/.test(l));
    expect(seen.map((r) => [r.function, r.eax, r.ebx, r.ecx, r.edx].map((v) => v.toString(16).toUpperCase().padStart(8, '0')).join(' ').replace(' ', ': ')))
      .toEqual(fixture);
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });
});
