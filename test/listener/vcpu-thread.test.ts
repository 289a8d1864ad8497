// The native vCPU thread on its own: exits delivered through onExit on the
// JavaScript thread, poll/wait, a user kick, hold/release, stop.
import { AddressSpace, MemoryRegion } from '../../lib/memory';
import { Kvm, KvmError, VcpuExit } from '../../lib';
import { Machine } from '../../lib/machine';
import { exitNumber } from '../../lib/kvm/run-loop';
import { RESUMED_AT_DEADLINE, takenIndex, takenReason, VcpuExitQueue } from '../../lib/kvm/vcpu-exit-queue';
import { VcpuThread } from '../../lib/kvm/vcpu-thread';
import { setupRealMode } from '../../lib/x86/modes';
import { busiestThreadMsSince, describeKvm, fdsOpenedSince, mappingCount, openFdCount, openFds, threadCpuMs } from '../helpers/kvm';
import { ROOT, runChild } from '../helpers/child';

describeKvm('VcpuThread', () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  function setup(code: number[]) {
    const system = MemoryRegion.container('system', 1n << 64n);
    const ram = MemoryRegion.ram('ram', 0x10000n);
    system.addSubregion(0n, ram);
    const as = new AddressSpace(system, 'memory');
    ram.bytes().set(code, 0x1000);
    const vm = kvm.createVm();
    vm.addAddressSpace(as);
    const vcpu = vm.createVcpu(0);
    setupRealMode(vcpu, { cs: 0, ip: 0x1000 });
    return {
      vm, vcpu, ram,
      close: () => {
        vm.close();
        as.destroy();
        ram.close();
        system.close();
      },
    };
  }

  test('onExit gets each exit on the JavaScript thread; resume continues the guest', async () => {
    // mov al,0x41 ; out 0x80,al ; hlt
    const m = setup([0xb0, 0x41, 0xe6, 0x80, 0xf4]);
    try {
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const t = new VcpuThread(m.vcpu, {
          onExit: (exit: VcpuExit) => {
            try {
              if (exit.reason === 'io') {
                seen.push(`io ${exit.direction} ${exit.port.toString(16)} ${[...exit.data]}`);
                t.resume();
              } else {
                seen.push(exit.reason);
                t.stop();
                resolve();
              }
            } catch (e) {
              reject(e);
            }
          },
        });
        t.resume();
      });
      expect(seen).toEqual(['io out 80 65', 'hlt']);
    } finally {
      m.close();
    }
  });

  test('a spinning guest: poll is null, kick reports interrupted, hold/release keep it running, stop ends it', () => {
    const m = setup([0xeb, 0xfe]); // jmp $
    try {
      const t = new VcpuThread(m.vcpu);
      expect(() => new VcpuThread(m.vcpu)).toThrow(RangeError);
      t.resume();
      expect(t.wait(50)).toBeNull();
      expect(() => t.resume()).toThrow(RangeError); // already running
      for (let i = 0; i < 20; i++) {
        const release = m.vm.holdVcpus();
        release();
      }
      expect(t.poll()).toBeNull(); // holds are invisible to the guest's owner
      expect(t.stats().holds).toBe(20);
      t.kick();
      expect(t.wait(5000)?.reason).toBe('interrupted');
      expect(m.vcpu.getRegs().rip).toBe(0x1000n);
      t.stop();
      expect(t.closed).toBe(true);
      t.stop(); // idempotent
    } finally {
      m.close();
    }
  });

  test('closing the VM stops a running thread; no fd or mapping is left behind', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    for (let i = 0; i < 5; i++) {
      const m = setup([0xeb, 0xfe]);
      const t = new VcpuThread(m.vcpu);
      t.resume();
      m.close();
      expect(t.closed).toBe(true);
    }
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBeLessThanOrEqual(maps);
  });

  test('while the thread runs the guest, the vCPU\'s own calls are refused at once (EBUSY, saying what to do); at an exit they work', () => {
    const machine = Machine.createSync({ memory: '2M' });
    try {
      machine.load(new Uint8Array([0xeb, 0xfe])); // jmp $
      const vcpu = machine.vcpus[0];
      const t = new VcpuThread(vcpu);
      t.resume();
      expect(t.wait(50)).toBeNull(); // inside KVM_RUN
      const start = Date.now();
      const calls: [string, () => unknown][] = [
        ['getRegs', () => vcpu.getRegs()], ['setRegs', () => vcpu.setRegs({ rax: 1n })], ['getSregs', () => vcpu.getSregs()],
        ['run', () => vcpu.run()], ['ioctl', () => vcpu.ioctl('KVM_GET_MP_STATE', new Uint8Array(4))],
        ['runSync', () => machine.runSync({ timeoutMs: 100 })], ['snapshot', () => machine.snapshot()],
      ];
      for (const [name, call] of calls) {
        let err: unknown;
        try { call(); } catch (e) { err = e; }
        expect({ name, err }).toEqual({ name, err: expect.any(KvmError) });
        expect((err as KvmError).code).toBe('EBUSY');
        expect((err as KvmError).message).toMatch(/vCPU 0 is running on a VcpuThread: wait for its exit .* or stop\(\) the thread/);
      }
      expect(Date.now() - start).toBeLessThan(1000);
      t.kick();
      expect(t.wait(5000)?.reason).toBe('interrupted');
      expect(vcpu.getRegs().rip).toBe(0x100000n); // at an exit the vCPU is idle
      t.stop();
      expect(machine.runSync({ timeoutMs: 50 }).reason).toBe('timeout');
    } finally {
      machine.close();
    }
  });

  test('vcpu.close() stops its thread: no CPU spent afterwards, the machine closes, no fd or mapping is left', async () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const machine = Machine.createSync({ memory: '2M' });
    machine.load(new Uint8Array([0xeb, 0xfe]));
    const t = new VcpuThread(machine.vcpus[0]);
    t.resume();
    expect(t.wait(50)).toBeNull();
    machine.vcpus[0].close();
    expect(t.closed).toBe(true);
    const cpu = threadCpuMs();
    await new Promise((r) => setTimeout(r, 300));
    expect(busiestThreadMsSince(cpu)).toBeLessThan(150); // a spinning vCPU thread would take ~300 ms
    machine.close();
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });

  test('the native VcpuThread refuses anything but a native vCPU handle with a TypeError (no crash)', () => {
    const r = runChild(`
      const { native } = require(${JSON.stringify(ROOT + '/lib/binding')});
      const kvm = new (native().Kvm)('/dev/kvm');
      const vm = kvm.createVm();
      const vcpu = vm.createVcpu(0);
      const fakes = {
        plain: { fd: 3, closed: false }, kvm, vm, hostMemory: new (native().HostMemory)(4096n),
        derived: Object.create(vcpu), number: 5,
      };
      const out = {};
      for (const [name, fake] of Object.entries(fakes)) {
        try { new (native().VcpuThread)(fake); out[name] = 'accepted'; } catch (e) { out[name] = e.name + ': ' + e.message; }
      }
      const real = new (native().VcpuThread)(vcpu);
      real.stop();
      console.log(JSON.stringify(out));
    `);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const out = JSON.parse(r.stdout) as Record<string, string>;
    for (const name of ['plain', 'kvm', 'vm', 'hostMemory', 'derived', 'number']) {
      expect(out[name]).toBe('TypeError: VcpuThread expects a native vCPU handle (vcpu.native of a Vcpu from vm.createVcpu())');
    }
  });

  test('the native resumeWait() refuses a thread without an exit queue, not started, stopped, or a bad deadline or bound: a typed error, no crash, nothing resumed', () => {
    const r = runChild(`
      const { native } = require(${JSON.stringify(ROOT + '/lib/binding')});
      const kvm = new (native().Kvm)('/dev/kvm');
      const vm = kvm.createVm();
      const vcpu = vm.createVcpu(0);
      const out = {};
      const attempt = (name, f) => { try { out[name] = 'returned ' + f(); } catch (e) { out[name] = e.name + ': ' + e.message; } };
      const T = native().VcpuThread;
      const notStarted = new T(vcpu);
      attempt('notStarted', () => notStarted.resumeWait(0, 0));
      notStarted.stop();
      attempt('stopped', () => notStarted.resumeWait(0, 0));
      const noQueue = new T(vcpu);
      noQueue.start();
      attempt('noQueue', () => noQueue.resumeWait(0, 0));
      out.noQueueRunning = noQueue.stats().running;
      noQueue.stop();
      const queued = new T(vcpu);
      queued.start(new (native().VcpuExitQueue)(1), 0);
      for (const [name, until] of Object.entries({ untilNaN: NaN, untilString: '1', untilMissing: undefined, untilBigint: 1n })) {
        attempt(name, () => queued.resumeWait(until, 0));
      }
      for (const [name, max] of Object.entries({ negative: -1, fraction: 0.5, string: '1', missing: undefined, object: {} })) {
        attempt(name, () => queued.resumeWait(Infinity, max));
      }
      out.queuedRunning = queued.stats().running;
      queued.stop();
      attempt('queuedStopped', () => queued.resumeWait(Infinity, 0));
      console.log(JSON.stringify(out));
    `);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(JSON.parse(r.stdout)).toEqual({
      notStarted: 'RangeError: start() the vCPU thread first',
      stopped: 'Error: VcpuThread.resumeWait: Bad file descriptor',
      noQueue: 'RangeError: resumeWait() needs a thread started with an exit queue',
      noQueueRunning: false,
      untilNaN: 'RangeError: untilMs must not be NaN',
      untilString: 'TypeError: untilMs must be a number',
      untilMissing: 'TypeError: untilMs must be a number',
      untilBigint: 'TypeError: untilMs must be a number',
      negative: 'RangeError: maxMs must be a non-negative safe integer',
      fraction: 'RangeError: maxMs must be a non-negative safe integer',
      string: 'TypeError: maxMs must be a bigint or a number',
      missing: 'TypeError: maxMs must be a bigint or a number',
      object: 'TypeError: maxMs must be a bigint or a number',
      queuedRunning: false,
      queuedStopped: 'Error: VcpuThread.resumeWait: Bad file descriptor',
    });
  });

  test('resumeWait() on a thread with an exit queue resumes it and returns its next exit from the queue, or resumes it only once the deadline passed', () => {
    const g = setup([0xb0, 0x41, 0xe6, 0x80, 0xf4]); // mov al,0x41 ; out 0x80,al ; hlt
    try {
      const queue = new VcpuExitQueue(1);
      const t = new VcpuThread(g.vcpu, { exitQueue: { queue, index: 7 } });
      try {
        const io = t.resumeWait(queue.clockMs() + 5000, 5000);
        expect([takenIndex(io), takenReason(io)]).toEqual([7, exitNumber('IO')]);
        expect(t.resumeWait(Infinity, 5000)).toBe(7 + 65536 * (exitNumber('HLT') + 1));
        expect(t.running).toBe(false);
        const t0 = performance.now();
        expect(t.resumeWait(queue.clockMs() - 1, 5000)).toBe(RESUMED_AT_DEADLINE); // (on past the hlt, until stop())
        expect(performance.now() - t0).toBeLessThan(1000);
        expect(t.running).toBe(true);
        expect(() => t.resumeWait(Infinity, 0)).toThrow(RangeError); // already running: refused before the queue is waited on
      } finally {
        t.stop();
      }
      expect(() => t.resumeWait(Infinity, 0)).toThrow(KvmError);
    } finally {
      g.close();
    }
  });

  test('an exit queue is made for a number of threads: bad counts and one thread too many are refused (typed errors), the refused thread stays usable', () => {
    expect(() => new VcpuExitQueue(0)).toThrow(new RangeError('threads must be 1 to 65536'));
    expect(() => new VcpuExitQueue(65537)).toThrow(new RangeError('threads must be 1 to 65536'));
    expect(() => new VcpuExitQueue(1.5)).toThrow(RangeError);
    expect(() => new VcpuExitQueue('2' as unknown as number)).toThrow(TypeError);
    const g = setup([0xf4]); // hlt
    try {
      const second = g.vm.createVcpu(1);
      setupRealMode(second, { cs: 0, ip: 0x1000 });
      const fds = openFds();
      const maps = mappingCount();
      const queue = new VcpuExitQueue(1);
      const first = new VcpuThread(g.vcpu, { exitQueue: { queue, index: 0 } });
      expect(() => new VcpuThread(second, { exitQueue: { queue, index: 1 } })).toThrow(new RangeError('this exit queue was made for 1 vCPU thread, and all have started'));
      first.stop();
      // a stopped thread keeps its place (its exit may still be queued): the queue stays full
      expect(() => new VcpuThread(second, { exitQueue: { queue, index: 1 } })).toThrow(RangeError);
      const other = new VcpuThread(second, { exitQueue: { queue: new VcpuExitQueue(2), index: 1 } });
      other.resume();
      expect(other.wait(5000)).toMatchObject({ reason: 'hlt' }); // the refused vCPU runs on another queue
      other.stop();
      expect(fdsOpenedSince(fds)).toEqual([]); // the refused thread's dup of the vCPU fd is closed
      expect(mappingCount()).toBe(maps);
    } finally {
      g.close();
    }
  });

  test('resume() refuses while the thread\'s last exit is still in its queue (RangeError); once wait() took it, the resume works', () => {
    const g = setup([0xb0, 0x41, 0xe6, 0x80, 0xf4]); // mov al,0x41 ; out 0x80,al ; hlt
    try {
      const queue = new VcpuExitQueue(1);
      const t = new VcpuThread(g.vcpu, { exitQueue: { queue, index: 3 } });
      try {
        t.resume();
        const deadline = Date.now() + 5000;
        while (t.poll() === null && Date.now() < deadline); // the out's exit, pushed but not taken
        expect(t.poll()).toMatchObject({ reason: 'io' });
        expect(() => t.resume()).toThrow(new RangeError("the vCPU's exit is still in its queue: take it with the queue's wait() first"));
        expect(() => t.resumeWait(Infinity, 0)).toThrow(RangeError);
        expect(t.running).toBe(false); // refused: nothing resumed
        const io = queue.wait(5000);
        expect([takenIndex(io), takenReason(io)]).toEqual([3, exitNumber('IO')]);
        expect(t.resumeWait(Infinity, 5000)).toBe(3 + 65536 * (exitNumber('HLT') + 1));
      } finally {
        t.stop();
      }
    } finally {
      g.close();
    }
  });
});
