// machine.load(path) reads only regular files that fit guest RAM, checked
// before reading: `/dev/zero` used to be read without limit.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Machine, MemoryRegion } from '../../lib';
import { describeKvm } from '../helpers/kvm';

describeKvm('machine.load(path)', () => {
  let machine: Machine;
  let dir: string;
  beforeAll(async () => {
    machine = await Machine.create({ memory: '1M', mode: 'real', serial: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-load-'));
  });
  afterAll(() => {
    machine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a device, a directory and a FIFO are refused before any read', () => {
    expect(() => machine.load('/dev/zero')).toThrow(/\/dev\/zero is a device: a guest image must be a regular file/);
    expect(() => machine.load(dir)).toThrow(TypeError);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => machine.load(fifo)).toThrow(/is a FIFO/);
  });

  test('a file larger than guest RAM is refused with the way out', () => {
    const big = path.join(dir, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc((1 << 20) + 1));
    expect(() => machine.load(big)).toThrow(RangeError);
    expect(() => machine.load(big)).toThrow(/larger than the guest's 1048576 bytes of RAM: create the machine with more memory/);
  });

  test('a regular file that fits is loaded and runs', async () => {
    const file = path.join(dir, 'guest.bin');
    fs.writeFileSync(file, Uint8Array.of(0xb0, 0x2a, 0xe6, 0x10, 0xf4)); // mov al,42; out 0x10,al; hlt
    const seen: number[] = [];
    machine.memory.ioRoot.addSubregion(0x10n, MemoryRegion.io('port', 1, {
      read: () => 0, write: (_o, v) => { seen.push(Number(v)); },
    }));
    machine.load(file);
    const r = await machine.run({ timeoutMs: 5000 });
    expect(r.reason).toBe('hlt');
    expect(seen).toEqual([42]);
  });
});
