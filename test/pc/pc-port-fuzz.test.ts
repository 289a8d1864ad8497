// No guest access to any I/O port of the pc machine can break node-kvm: every
// port, every access size, seeded random values, through the machine's I/O
// address space (the dispatch the run loop does for a guest's in/out). No
// access throws, and afterwards the machine still resets and POSTs.
import { describeKvm } from '../helpers/kvm';
import { NO_BOOTABLE_DEVICE, pcMachine } from '../helpers/pc';
import { prng } from '../helpers/prng';
import { removeDir, tempImage } from './ide-rig';

describeKvm('pc machine: I/O port fuzz', () => {
  jest.setTimeout(120_000);

  test('random in/out on all 65536 ports (sizes 1, 2, 4), then a reset and a full POST', async () => {
    const img = tempImage(1 << 20);
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
    const rng = prng(seed);
    const pc = pcMachine({ disks: [{ file: img.file, snapshot: true }] });
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE); // the devices as SeaBIOS left them: BARs mapped, PM enabled
      const io = pc.machine.memory.io;
      let accesses = 0;
      for (let round = 0; round < 2; round++) {
        for (let port = 0; port < 0x10000; port++) {
          const size = rng.pick([1, 2, 4] as const);
          try {
            io.write(port, rng.bytes(size));
            io.read(port, rng.pick([1, 2, 4] as const));
          } catch (e) {
            throw new Error(`seed ${seed}: port ${port.toString(16)} size ${size}: ${(e as Error).stack}`);
          }
          accesses += 2;
        }
      }
      expect(accesses).toBe(4 * 0x10000);
      pc.machine.systemReset();
      await pc.runUntil(NO_BOOTABLE_DEVICE);
    } finally {
      pc.machine.close();
      removeDir(img.dir);
    }
  });
});
