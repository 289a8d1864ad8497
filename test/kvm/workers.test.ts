// Worker threads that use node-kvm: terminating them at any moment never
// aborts the process, a guest spinning in runSync() or on a VcpuThread does
// not keep a Worker (or process.exit()) from ending, and what the Worker
// opened is released. Each scenario runs in a child process, since its
// failure mode is an abort or a hang.
import { describeKvm } from '../helpers/kvm';
import { REGISTER_TS, ROOT, runChild } from '../helpers/child';

// The Worker's side. `guest` is machine code run in long mode at the load address.
function workerCode(guest: number[], body: string): string {
  return `
    require(${JSON.stringify(REGISTER_TS)});
    const { parentPort } = require('worker_threads');
    const { Machine } = require(${JSON.stringify(ROOT + '/lib')});
    const { VcpuThread } = require(${JSON.stringify(ROOT + '/lib/kvm/vcpu-thread')});
    const machine = Machine.createSync({ memory: '2M' });
    machine.load(new Uint8Array(${JSON.stringify(guest)}));
    ${body}
  `;
}

// The child's side: starts Workers running `code` and terminates each one
// after the delays given (ms after it was started, or after its first message).
function terminateScenario(code: string, delays: number[], afterMessage: boolean): string {
  return `
    const { Worker } = require('worker_threads');
    const fs = require('fs');
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    (async () => {
      const before = fds();
      const times = [];
      for (const delay of ${JSON.stringify(delays)}) {
        const w = new Worker(${JSON.stringify(code)}, { eval: true });
        w.on('error', (e) => { console.log('worker error: ' + e.message); });
        if (${afterMessage}) await new Promise((r) => w.once('message', r));
        await new Promise((r) => setTimeout(r, delay));
        const t0 = Date.now();
        await w.terminate();
        times.push(Date.now() - t0);
      }
      console.log('TERMINATED ' + JSON.stringify({ times, leakedFds: fds() - before }));
    })();
  `;
}

function parse(stdout: string): { times: number[]; leakedFds: number } {
  const line = stdout.split('\n').find((l) => l.startsWith('TERMINATED '));
  if (!line) throw new Error(`the child printed no result:\n${stdout}`);
  return JSON.parse(line.slice('TERMINATED '.length));
}

// out 0x80,al ; jmp back: an exit every few hundred nanoseconds.
const EXITING = [0xe6, 0x80, 0xeb, 0xfc];
// jmp $: never exits.
const SPINNING = [0xeb, 0xfe];

describeKvm('Worker threads', () => {
  test('terminating a Worker whose VcpuThread delivers exits to onExit, at any moment, never aborts', () => {
    const code = workerCode(EXITING, `
      const t = new VcpuThread(machine.vcpus[0], { onExit: () => t.resume() });
      t.resume();
      parentPort.postMessage('running');
    `);
    // 0..120 ms after the start: the Worker is starting, loading the library, creating the machine.
    const early = runChild(terminateScenario(code, [0, 10, 30, 45, 60, 80, 100, 120], false), { timeoutMs: 60000 });
    expect(early.stderr).not.toMatch(/terminate called|Napi::Error|FATAL/);
    expect({ status: early.status, signal: early.signal }).toEqual({ status: 0, signal: null });
    expect(parse(early.stdout).leakedFds).toBeLessThanOrEqual(0);
    // While exits are being queued for the JavaScript thread.
    const running = runChild(terminateScenario(code, [0, 0, 1, 2, 5, 10, 30], true), { timeoutMs: 60000 });
    expect(running.stderr).not.toMatch(/terminate called|Napi::Error|FATAL/);
    expect({ status: running.status, signal: running.signal }).toEqual({ status: 0, signal: null });
    expect(parse(running.stdout).leakedFds).toBeLessThanOrEqual(0);
  });

  test('terminating a Worker while it loads the addon never aborts', () => {
    // The Worker signals just before it loads the addon; the child terminates
    // it at once, or after busy-waiting 0.1..1.5 ms, so Init is interrupted.
    const code = `
      require(${JSON.stringify(REGISTER_TS)});
      const { workerData } = require('worker_threads');
      const flag = new Int32Array(workerData);
      const binding = require(${JSON.stringify(ROOT + '/lib/binding')});
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      binding.native();
      require(${JSON.stringify(ROOT + '/lib')}).Kvm.open().close();
    `;
    const r = runChild(`
      const { Worker } = require('worker_threads');
      (async () => {
        for (let i = 0; i < 16; i++) {
          const flag = new Int32Array(new SharedArrayBuffer(4));
          const w = new Worker(${JSON.stringify(code)}, { eval: true, workerData: flag.buffer });
          w.on('error', (e) => { console.log('worker error: ' + e.message); });
          Atomics.wait(flag, 0, 0, 10000);
          const until = process.hrtime.bigint() + BigInt(i * 100000);
          while (process.hrtime.bigint() < until);
          await w.terminate();
        }
        console.log('TERMINATED');
      })();
    `, { timeoutMs: 60000 });
    expect(r.stderr).not.toMatch(/terminate called|Napi::Error|FATAL/);
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({ status: 0, signal: null, stdout: 'TERMINATED' });
  });

  test('a Worker whose guest spins in runSync() terminates promptly and releases its fds', () => {
    const code = workerCode(SPINNING, `parentPort.postMessage('running'); machine.runSync();`);
    const r = runChild(terminateScenario(code, [50, 300], true), { timeoutMs: 30000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const { times, leakedFds } = parse(r.stdout);
    for (const ms of times) expect(ms).toBeLessThan(2000);
    expect(leakedFds).toBeLessThanOrEqual(0);
  });

  test('a Worker whose guest spins on a VcpuThread terminates promptly; the thread is stopped, its fds closed', () => {
    const code = workerCode(SPINNING, `
      const t = new VcpuThread(machine.vcpus[0], { onExit: () => {} });
      t.resume();
      parentPort.postMessage('running');
    `);
    const r = runChild(terminateScenario(code, [50, 300], true), { timeoutMs: 30000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const { times, leakedFds } = parse(r.stdout);
    for (const ms of times) expect(ms).toBeLessThan(2000);
    expect(leakedFds).toBeLessThanOrEqual(0);
  });

  test('process.exit() in the main thread returns while a Worker spins in runSync()', () => {
    const code = workerCode(SPINNING, `parentPort.postMessage('running'); machine.runSync();`);
    const r = runChild(`
      const { Worker } = require('worker_threads');
      const w = new Worker(${JSON.stringify(code)}, { eval: true });
      w.once('message', () => setTimeout(() => { console.log('EXITING'); process.exit(7); }, 200));
    `, { timeoutMs: 20000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({ status: 7, signal: null, stdout: 'EXITING' });
    expect(r.elapsedMs).toBeLessThan(15000);
  });
});
