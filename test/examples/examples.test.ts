// Every example in examples/ runs on real KVM and does what its comment says.
import { execFileSync, spawnSync } from 'child_process';
import * as path from 'path';
import { PassThrough } from 'stream';
import { main as cGuest } from '../../examples/c-guest';
import { main as hello } from '../../examples/hello';
import { GREETING, main as pcBootSector } from '../../examples/pc-boot-sector';
import { Counter, main as counterMain } from '../../examples/mmio-counter';
import { main as romDevice, ROM_TEXT } from '../../examples/rom-device';
import { main as snapshotReset } from '../../examples/snapshot-reset';
import { describeKvm } from '../helpers/kvm';

function sink(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('latin1') };
}

describeKvm('examples', () => {
  beforeEach(() => {
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  test('pc-boot-sector: SeaBIOS boots the disk; the greeting reaches COM1 after SeaBIOS\'s banner; exit code (0 << 1) | 1', async () => {
    const out = sink();
    expect(await pcBootSector(out.stream)).toBe(1);
    expect(out.text()).toContain(`SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\nBooting from Hard Disk...\r\n${GREETING}`);
  }, 60_000);

  test('hello: the greeting on the serial port, exit code (0 << 1) | 1', async () => {
    const out = sink();
    expect(await hello(out.stream)).toBe(1);
    expect(out.text()).toBe('Hello, world! (from a real-mode guest)\n');
  });

  test('hello runs as a script through scripts/run-example.js', () => {
    const root = path.join(__dirname, '..', '..');
    const r = spawnSync(process.execPath, ['scripts/run-example.js', 'examples/hello.ts'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).toBe('Hello, world! (from a real-mode guest)\n');
    expect(r.status).toBe(1);
  });

  test('mmio-counter: the guest sets 40, increments twice, exits with (42 << 1) | 1', async () => {
    expect(await counterMain()).toBe(85);
    const log = (console.log as jest.Mock).mock.calls.flat().join('\n');
    expect(log).toContain('write 8B @0 = 40\nwrite 8B @8 = 1\nwrite 8B @8 = 1\nread  8B @0');
    expect(log).toContain('count = 42');
    const c = new Counter(); // the device alone
    c.region.close();
  });

  test('rom-device: reads come from ROM memory, the write goes to the callback and changes nothing', async () => {
    const out = sink();
    const r = await romDevice(out.stream);
    expect(r.code).toBe(1);
    expect(r.writes).toEqual(['offset 0x0 <- 0x58 (1 byte)']);
    expect(out.text()).toBe(ROM_TEXT);
  });

  test('snapshot-reset: 1,000 runs from one snapshot all see the counter at 2 and the RAM cell at 40', async () => {
    const { codes, resetsPerSecond } = await snapshotReset(1000);
    expect(codes).toEqual(new Set([(42 << 1) | 1]));
    expect(resetsPerSecond).toBeGreaterThan(0);
  });

  test('c-guest: a freestanding C program compiled with gcc prints the primes below 50 and exits with their count', async () => {
    execFileSync('gcc', ['--version']); // a clear failure if the compiler is missing
    const out = sink();
    expect(await cGuest(out.stream)).toBe((15 << 1) | 1);
    expect(out.text()).toBe('primes below 50: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47\n');
  });
});
