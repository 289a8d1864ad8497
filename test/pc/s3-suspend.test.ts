// ACPI S3 on the pc machine, driven by kvm-unit-tests' x86/s3.flat (test
// data, see test/fixtures/kvm-unit-tests): it sets the RTC alarm to every
// second with AIE and PM1 RTC_EN, writes SLP_TYP=1|SLP_EN, and its waking
// vector writes 0 to isa-debug-exit at 0xf4. Here: the suspended state
// between runs, stop() while asleep, and what the guest finds after wake-up.
import * as path from 'path';
import { PassThrough } from 'stream';
import { Machine } from '../../lib/machine';
import { describeKvm } from '../helpers/kvm';

const S3 = path.resolve(__dirname, '..', 'fixtures', 'kvm-unit-tests', 's3.flat');

function s3Machine(): Machine {
  return Machine.createSync({
    machine: 'pc', kernel: S3, noReboot: true, debugExit: { port: 0xf4 }, serial: { output: new PassThrough() },
  });
}

describeKvm('ACPI S3 suspend and RTC wake-up (x86/s3.flat)', () => {
  jest.setTimeout(60_000);

  test('runSync() stops at the suspend; run() sleeps without CPU until the RTC alarm, then the firmware resumes the guest', async () => {
    const m = s3Machine();
    try {
      const s = m.runSync({ timeoutMs: 30_000 });
      expect(s.reason).toBe('suspend');
      expect(s.message).toMatch(/ACPI S3/);
      expect(m.runSync().reason).toBe('suspend'); // still asleep: runSync() cannot wait
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await m.run({ timeoutMs: 30_000 });
      const cpuMs = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000;
      expect({ reason: r.reason, exitCode: r.exitCode }).toEqual({ reason: 'debugExit', exitCode: 1 });
      const wallMs = performance.now() - t0;
      process.stdout.write(`s3: asleep and resumed in ${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU\n`);
      expect(wallMs).toBeLessThan(3_000); // the alarm fires at the next second
      expect(cpuMs).toBeLessThan(wallMs); // sleeping is waiting, not spinning
      const pm1Status = m.memory.io.read(0xb000, 2).data; // SeaBIOS's PM base ("PM1a event registers at b000")
      expect((pm1Status[0] | (pm1Status[1] << 8)) & 0x8400).toBe(0x8400); // WAK_STS | RTC_STS: what woke it
    } finally {
      m.close();
    }
  });

  test('stop() ends a run that waits for the wake-up (reason suspend); the next run() waits on and resumes', async () => {
    const m = s3Machine();
    try {
      expect(m.runSync({ timeoutMs: 30_000 }).reason).toBe('suspend');
      const p = m.run({ timeoutMs: 30_000 });
      m.stop(); // before any timer could fire: the alarm has not come yet
      const stopped = await p;
      expect(stopped.reason).toBe('suspend');
      expect(stopped.message).toMatch(/run\(\) again/);
      const r = await m.run({ timeoutMs: 30_000 });
      expect({ reason: r.reason, exitCode: r.exitCode }).toEqual({ reason: 'debugExit', exitCode: 1 });
    } finally {
      m.close();
    }
  });

  test('a run whose timeout passes in the sleep returns reason suspend; close() ends a sleep in progress', async () => {
    const m = s3Machine();
    expect(m.runSync({ timeoutMs: 30_000 }).reason).toBe('suspend');
    expect((await m.run({ timeoutMs: 0 })).reason).toBe('suspend');
    const p = m.run();
    m.close();
    expect((await p).reason).toBe('suspend');
  });
});
