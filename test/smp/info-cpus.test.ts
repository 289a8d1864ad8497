// HMP's `info cpus` (QEMU's hmp_info_cpus): one line per vCPU with the host
// thread that runs its KVM_RUN, '*' on the monitor's current CPU (#0). The
// text is QEMU 7.2.22's as this host's QEMU prints it for -smp 2
// ("* CPU #0: thread_id=14697\r\n  CPU #1: thread_id=14698\r\n", and
// "info cpus  -- show infos for each CPU" in `help info cpus`).
import * as fs from 'fs';
import { PassThrough } from 'stream';
import { HmpMonitor, type HmpTarget } from '../../lib/qemu/hmp';
import { describeKvm } from '../helpers/kvm';
import { startQemuExe } from '../helpers/qemu-exe';

function monitor(cpuThreadIds?: () => number[]) {
  const target: HmpTarget = {
    mtree: () => '', formatRamBlocks: () => '', infoPci: () => '', cpuCount: () => 3, infoRegisters: () => '',
    runState: () => 'prelaunch', stop: () => {}, cont: () => {}, systemReset: () => {}, quit: () => {},
    ...(cpuThreadIds ? { cpuThreadIds } : {}),
  };
  return new HmpMonitor(target, { input: new PassThrough(), output: new PassThrough() });
}

test('info cpus: QEMU\'s lines, "*" on CPU #0; its help line; a target without thread ids has no info cpus', async () => {
  const m = monitor(() => [4242, 4243, 4250]);
  expect(await m.execute('info cpus')).toBe('* CPU #0: thread_id=4242\n  CPU #1: thread_id=4243\n  CPU #2: thread_id=4250\n');
  expect(await m.execute('help info cpus')).toBe('info cpus  -- show infos for each CPU\n');
  expect(await m.execute('info cpus 1')).toBe('cpus: extraneous characters at the end of line\nTry "help info cpus" for more information\n');
  expect(await monitor().execute('info cpus')).toBe('unknown command: \'info cpus\'\n');
});

const PC = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '32', '-nodefaults', '-vga', 'none', '-display', 'none', '-serial', 'none', '-S', '-monitor', 'stdio'];

/** node-kvm-qemu -S with `smp` vCPUs: `info cpus`, and the process's own thread ids. */
async function infoCpus(smp: string) {
  const exe = startQemuExe([...PC, '-smp', smp]);
  try {
    await exe.waitFor('(qemu) ');
    exe.child.stdin.write('info cpus\n');
    await exe.waitFor('info cpus\r\n');
    const after = () => exe.stdout().split('info cpus\r\n')[1];
    for (let i = 0; i < 200 && !after().includes('(qemu) '); i++) await new Promise((r) => setTimeout(r, 50)); // the prompt after the answer
    const tasks = fs.readdirSync(`/proc/${exe.child.pid}/task`).map(Number);
    const answer = after().split('(qemu) ')[0];
    // (no `quit`: after -S it ends in "write after end" from the monitor's
    // last prompt, as on main -- not this test's subject)
    return { answer, pid: exe.child.pid!, tasks };
  } finally {
    exe.child.kill('SIGKILL');
  }
}

describeKvm('node-kvm-qemu: info cpus', () => {
  jest.setTimeout(60_000);

  test('-smp 3: three lines, each a distinct thread of the process (its vCPU threads, not the main thread)', async () => {
    const { answer, pid, tasks } = await infoCpus('3');
    const m = /^\* CPU #0: thread_id=(\d+)\r\n {2}CPU #1: thread_id=(\d+)\r\n {2}CPU #2: thread_id=(\d+)\r\n$/.exec(answer);
    expect(m).not.toBeNull();
    const ids = m!.slice(1).map(Number);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) {
      expect(id).not.toBe(pid);
      expect(tasks).toContain(id);
    }
  });

  test('-smp 1: the one vCPU runs on the main thread (its id is the process id)', async () => {
    const { answer, pid } = await infoCpus('1');
    expect(answer).toBe(`* CPU #0: thread_id=${pid}\r\n`);
  });
});
