// Signals Node handles for itself (a child's SIGCHLD, SIGPROF from the CPU
// profiler or a listener) interrupt KVM_RUN; they must not end a run. Each
// scenario runs in a child process, so the signals and the profiler stay out
// of the test runner.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeKvm } from '../helpers/kvm';
import { ROOT, runChild } from '../helpers/child';

// Counts ECX down from `n` (~10 µs per round on this project's hosts), then
// writes 0 to the debug-exit port: the run ends `debugExit` with code 1.
function countdown(n: number): number[] {
  return [0xb9, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, 0xff, 0xc9, 0x75, 0xfc,
    0x66, 0xba, 0x01, 0x05, 0xb0, 0x00, 0xee, 0xf4];
}

// `how`: runSync | run | thread. While the guest counts, 20 short-lived
// children exit (SIGCHLD) and a shell sends SIGPROF every 10 ms.
function scenario(how: 'runSync' | 'run' | 'thread', senders: boolean): string {
  return `
    const { spawn } = require('child_process');
    const { Machine } = require(${JSON.stringify(ROOT + '/lib')});
    const { VcpuThread } = require(${JSON.stringify(ROOT + '/lib/kvm/vcpu-thread')});
    const machine = Machine.createSync({ memory: '2M' });
    machine.load(new Uint8Array(${JSON.stringify(countdown(40000))}));
    let profs = 0;
    if (${senders}) {
      process.on('SIGPROF', () => { profs++; });
      for (let i = 0; i < 20; i++) spawn('sleep', [String(0.02 * i)]);
      spawn('sh', ['-c', 'for i in $(seq 40); do kill -PROF ' + process.pid + '; sleep 0.01; done']);
    }
    const report = (reason, extra) => setTimeout(() => { console.log(JSON.stringify({ reason, profs, ...extra })); process.exit(0); }, 600);
    (async () => {
      if (${JSON.stringify(how)} === 'runSync') {
        const r = machine.runSync({ timeoutMs: 30000 });
        report(r.reason, { exitCode: r.exitCode });
      } else if (${JSON.stringify(how)} === 'run') {
        const r = await machine.run({ timeoutMs: 30000, sliceMs: 200 });
        report(r.reason, { exitCode: r.exitCode });
      } else {
        const t = new VcpuThread(machine.vcpus[0], {
          onExit: (exit) => { t.stop(); report(exit.reason, { port: exit.port }); },
        });
        t.resume();
      }
    })();
  `;
}

function result(r: ReturnType<typeof runChild>): { reason: string; profs: number } {
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  return JSON.parse(r.stdout.trim());
}

describeKvm('signals during a run', () => {
  test.each(['runSync', 'run'] as const)('SIGCHLD and SIGPROF do not end %s(): it ends at the guest\'s debug exit', (how) => {
    const r = result(runChild(scenario(how, true)));
    expect(r).toEqual({ reason: 'debugExit', exitCode: 1, profs: expect.any(Number) });
    expect(r.profs).toBeGreaterThan(0); // (signals that arrive while one is pending merge)
  });

  test('SIGCHLD and SIGPROF do not end a VcpuThread\'s run: its exit is the guest\'s debug-exit write', () => {
    const r = result(runChild(scenario('thread', true)));
    expect(r).toEqual({ reason: 'io', port: 0x501, profs: expect.any(Number) });
    expect(r.profs).toBeGreaterThan(0);
  });

  test('the CPU profiler (--cpu-prof, SIGPROF every 100 µs) does not end runSync()', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-prof-'));
    try {
      const r = result(runChild(scenario('runSync', false), { args: ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir] }));
      expect(r).toEqual({ reason: 'debugExit', exitCode: 1, profs: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
