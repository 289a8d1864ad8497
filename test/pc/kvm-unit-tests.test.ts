// kvm-unit-tests on the pc machine, started as the suite's x86/run starts
// them under QEMU (-kernel x86/TEST.flat -append ARGS -device pc-testdev
// -device isa-debug-exit,iobase=0xf4,iosize=0x4 -device pci-testdev
// -serial stdio --no-reboot), through SeaBIOS and the multiboot option ROM.
// A test passes as the suite's scripts decide (scripts/vmm.bash): the guest
// writes its status 0 to isa-debug-exit at 0xf4, so QEMU's exit status,
// (0 << 1) | 1, is 1 — and its report on COM1 has no FAIL. The binaries are in test/fixtures/kvm-unit-tests (GPL-2.0 test
// data, see its README).
import * as path from 'path';
import { PassThrough } from 'stream';
import { Machine } from '../../lib/machine';
import { describeKvm } from '../helpers/kvm';

const KUT = path.resolve(__dirname, '..', 'fixtures', 'kvm-unit-tests');

/** name, file, -append (x86/unittests.cfg), what its report on COM1 has, and whether `npm test` runs it */
const ALL: [string, string, string | undefined, RegExp, boolean][] = [
  ['setjmp', 'setjmp.flat', undefined, /SUMMARY: 10 tests\r?\n/, true],
  ['idt_test', 'idt_test.flat', undefined, /SUMMARY: 4 tests\r?\n/, true],
  ['realmode', 'realmode.flat', undefined, /SUMMARY: \d+ tests|PASS/, false],
  ['rmap_chain', 'rmap_chain.flat', undefined, /SUMMARY: \d+ tests|PASS/, false],
  ['vmexit_cpuid', 'vmexit.flat', 'cpuid', /cpuid \d+/, true],
  ['vmexit_mov_from_cr8', 'vmexit.flat', 'mov_from_cr8', /mov_from_cr8 \d+/, false],
  ['vmexit_mov_to_cr8', 'vmexit.flat', 'mov_to_cr8', /mov_to_cr8 \d+/, false],
  ['vmexit_inl_pmtimer', 'vmexit.flat', 'inl_from_pmtimer', /inl_from_pmtimer \d+/, true],
  ['vmexit_ple_round_robin', 'vmexit.flat', 'ple_round_robin', /ple_round_robin \d+/, false],
  ['vmexit_tscdeadline', 'vmexit.flat', 'tscdeadline', /tscdeadline \d+/, false],
  ['vmexit_tscdeadline_immed', 'vmexit.flat', 'tscdeadline_immed', /tscdeadline_immed \d+/, false],
  // S3: the RTC alarm wakes the machine, SeaBIOS jumps to the FACS waking vector, whose code writes 0 to 0xf4
  ['s3', 's3.flat', undefined, /resume vector addr is 0x[0-9a-f]+\r?\n/, true],
  // several vCPUs (smp = N in x86/unittests.cfg): the APs are woken by the test through the in-kernel LAPIC
  ['smptest', 'smptest.flat', undefined, /found 2 cpus\r?\n(ipi called, cpu \d\r?\n){2}PASS: IPI to each CPU/, true],
  ['smptest3', 'smptest.flat', undefined, /found 3 cpus\r?\n(ipi called, cpu \d\r?\n){3}PASS: IPI to each CPU/, true],
  ['vmexit_ipi', 'vmexit.flat', 'ipi', /\bipi \d+/, false],
  ['vmexit_ipi_halt', 'vmexit.flat', 'ipi_halt', /ipi_halt \d+/, false],
  ['vmexit_cr0_wp', 'vmexit.flat', 'toggle_cr0_wp', /toggle_cr0_wp \d+/, false],
  ['vmexit_cr4_pge', 'vmexit.flat', 'toggle_cr4_pge', /toggle_cr4_pge \d+/, false],
];
/** the tests' smp (x86/unittests.cfg; default 1) */
const SMP: Record<string, number> = { smptest: 2, smptest3: 3, vmexit_ipi: 2, vmexit_ipi_halt: 2, vmexit_cr0_wp: 2, vmexit_cr4_pge: 2 };
/** the tests' qemu_params -cpu (x86/unittests.cfg) */
const CPU: Record<string, string> = { vmexit_tscdeadline: 'qemu64,+x2apic,+tsc-deadline', vmexit_tscdeadline_immed: 'qemu64,+x2apic,+tsc-deadline' };
const TESTS = ALL.filter((t) => process.env.KVM_UNIT_TESTS === 'all' || t[4]).map((t) => t.slice(0, 4) as [string, string, string | undefined, RegExp]);

describeKvm('kvm-unit-tests through -kernel on the pc machine', () => {
  jest.setTimeout(240_000);

  test.each(TESTS)('%s passes', async (name, file, append, report) => {
    const com1 = new PassThrough();
    let text = '';
    com1.on('data', (b: Buffer) => { text += b.toString('latin1'); });
    const started = Date.now();
    const machine = Machine.createSync({
      machine: 'pc', kernel: path.join(KUT, file), append, noReboot: true, cpu: CPU[name], cpus: SMP[name],
      devices: [{ driver: 'pc-testdev' }, { driver: 'pci-testdev' }], debugExit: { port: 0xf4 }, serial: { output: com1 },
    });
    try {
      const r = await machine.run({ timeoutMs: 180_000 });
      machine.serial?.flush();
      process.stdout.write(`kvm-unit-tests ${name}: ${r.reason} ${r.exitCode ?? ''} in ${Date.now() - started} ms\n`);
      expect({ reason: r.reason, exitCode: r.exitCode, tail: text.slice(-300) }).toEqual({ reason: 'debugExit', exitCode: 1, tail: text.slice(-300) });
      expect(text).toMatch(report);
      expect(text).not.toMatch(/FAIL|skipped/);
    } finally {
      machine.close();
    }
  });
});
