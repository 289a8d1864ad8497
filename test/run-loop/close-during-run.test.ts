// Closing a machine or its vCPU while a run is in progress (from a timer, an
// event, a device): the run settles `stopped`, never rejects.
import { Machine } from '../../lib/machine';
import { MemoryRegion } from '../../lib/memory';
import { describeKvm, fdsOpenedSince, mappingCount, openFds } from '../helpers/kvm';
import { ROOT, runChild } from '../helpers/child';

const SPIN = new Uint8Array([0xeb, 0xfe]); // jmp $
// out 0x600,al (mov dx,0x600 ; out dx,al) ; jmp $
const OUT_THEN_SPIN = new Uint8Array([0x66, 0xba, 0x00, 0x06, 0xee, 0xeb, 0xfe]);

describeKvm('close() during a run', () => {
  // Leak baselines are taken after the library's one-time set-up.
  beforeAll(() => Machine.createSync({ memory: '2M' }).close());

  test.each([
    ['machine.close()', (m: Machine) => m.close()],
    ['vcpu.close()', (m: Machine) => m.vcpus[0].close()],
  ])('%s while an awaited run() spins: the run settles `stopped`, nothing leaks', async (_name, close) => {
    const fds = openFds();
    const maps = mappingCount();
    const machine = Machine.createSync({ memory: '2M' });
    machine.load(SPIN);
    setTimeout(() => close(machine), 50);
    const r = await machine.run({ timeoutMs: 20000 });
    expect(r).toMatchObject({ reason: 'stopped', message: 'the vCPU was closed during the run' });
    machine.close();
    expect(fdsOpenedSince(fds)).toEqual([]);
    expect(mappingCount()).toBe(maps);
  });

  test('a device that closes the machine during runSync(): the run settles `stopped`', () => {
    const machine = Machine.createSync({ memory: '2M' });
    const dev = MemoryRegion.io('closer', 1, { write: () => machine.close() });
    machine.memory.ioRoot.addSubregion(0x600n, dev);
    machine.load(OUT_THEN_SPIN);
    const r = machine.runSync({ timeoutMs: 20000 });
    expect(r).toMatchObject({ reason: 'stopped', message: 'the vCPU was closed during the run' });
    dev.close();
  });

  test('a run() nobody awaits, closed meanwhile, leaves no unhandled rejection', () => {
    const r = runChild(`
      const { Machine } = require(${JSON.stringify(ROOT + '/lib')});
      const machine = Machine.createSync({ memory: '2M' });
      machine.load(new Uint8Array([0xeb, 0xfe]));
      machine.run();
      setTimeout(() => machine.close(), 50);
      setTimeout(() => console.log('STILL-HERE'), 400);
    `);
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({ status: 0, signal: null, stdout: 'STILL-HERE', stderr: '' });
  });
});
