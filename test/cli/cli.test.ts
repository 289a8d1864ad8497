// The CLI in-process: run, mtree, demo, exit codes and usage errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { DEMO_GUEST, main } from '../../lib/cli';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  return { io: { stdout, stderr, stdin: null }, out: () => Buffer.concat(out).toString(), err: () => Buffer.concat(err).toString() };
}

describeKvm('node-kvm CLI', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-cli-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('demo: greeting, memory map, and the exit code the guest chose ((0x15 << 1) | 1)', async () => {
    const t = io();
    expect(await main(['demo'], t.io)).toBe(43);
    expect(t.out()).toContain('Hello from a 64-bit guest on real KVM, driven by node-kvm!\n');
    expect(t.out()).toContain('address-space: memory');
    expect(t.out()).toContain('(prio 0, i/o): isa-debug-exit');
    expect(t.out()).toContain('exit code 43');
    expect(fs.existsSync(DEMO_GUEST)).toBe(true);
  });

  test('run: real-mode flat binary with --mode/--mem, serial on stdout, exit code from the guest', async () => {
    const bin = path.join(dir, 'real.bin');
    fs.writeFileSync(bin, assemble('mode-real.S', ['--32']));
    const t = io();
    expect(await main(['run', bin, '--mode', 'real', '--mem', '2M'], t.io)).toBe(0x21);
    expect(t.out()).toBe('real');
  });

  test('run --timeout stops a runaway guest with 124; --trace logs exits; --entry picks the start', async () => {
    const bin = path.join(dir, 'runaway.bin');
    fs.writeFileSync(bin, assemble('runaway.S'));
    const t = io();
    expect(await main(['run', bin, '--timeout', '100', '--entry', '0x100010', '--trace'], t.io)).toBe(124);
    expect(t.err()).toMatch(/\[trace\] io out port=0x80 size=1/);
    expect(t.err()).toMatch(/timeoutMs/);
  });

  test('mtree --flat prints the flat views', async () => {
    const t = io();
    expect(await main(['mtree', '--flat', '--mem', '32M'], t.io)).toBe(0);
    expect(t.out()).toContain('0000000000000000-0000000001ffffff (prio 0, ram): ram KVM');
    expect(t.out()).toContain('AS "I/O", root: io');
  });

  test('usage errors exit 64, failures exit 1 with a message', async () => {
    let t = io();
    expect(await main(['run'], t.io)).toBe(64);
    expect(t.err()).toMatch(/usage:/);
    t = io();
    expect(await main(['run', 'x.bin', '--bogus'], t.io)).toBe(64);
    t = io();
    expect(await main(['run', path.join(dir, 'missing.bin')], t.io)).toBe(1);
    expect(t.err()).toMatch(/ENOENT/);
    t = io();
    expect(await main(['run', 'x', '--mem', '16 M'], t.io)).toBe(1);
    expect(t.err()).toMatch(/not a size/);
  });
});
