// The CLI in-process (and in a child process where the process itself is what
// is tested): run, mtree, demo, exit codes, strict flags and usage errors.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { DEMO_GUEST, USAGE_EXIT, main } from '../../lib/cli';
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

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The CLI in a child process (TypeScript source, no build needed). With
 * `maxAddressSpace`, the child runs under `prlimit --as`, so that a regression
 * into an endless read fails fast instead of eating the host's memory.
 */
function cliChild(args: string[], opts: { maxAddressSpace?: number } = {}) {
  const node = [process.execPath, path.join(ROOT, 'scripts', 'run-example.js'), path.join(ROOT, 'test', 'helpers', 'cli-main.ts'), ...args];
  const [cmd, ...argv] = opts.maxAddressSpace ? ['prlimit', `--as=${opts.maxAddressSpace}`, ...node] : node;
  return spawnSync(cmd, argv, { encoding: 'utf8', timeout: 45_000, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('node-kvm CLI: help, version and usage errors', () => {
  const EVERY_FLAG = ['--mem', '--mode', '--load-address', '--entry', '--timeout', '--trace', '--irqchip', '--flat', '-h', '--help', '--version'];

  test.each([['--help'], ['-h'], ['help'], ['run', '--help'], ['demo', '-h']])('%s prints the help on stdout, exit 0', async (...args) => {
    const t = io();
    expect(await main(args, t.io)).toBe(0);
    expect(t.err()).toBe('');
    for (const flag of EVERY_FLAG) expect(t.out()).toMatch(new RegExp(`(^|[\\s\\[,])${flag}\\b`, 'm'));
    expect(t.out()).toContain('node-kvm run <guest.bin|guest.elf>');
    expect(t.out()).toContain(`${USAGE_EXIT}     a usage error`);
  });

  test('--version prints the package version, exit 0', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const t = io();
    expect(await main(['--version'], t.io)).toBe(0);
    expect(t.out()).toBe(`node-kvm ${version}\n`);
  });

  // Nothing here is ignored: every one is refused before a machine is made, with one exit status.
  test.each([
    [['demo', '--mem', '1G'], 'demo does not take --mem (it takes no options)'],
    [['mtree', '--timeout', '5'], 'mtree does not take --timeout (its options are --flat, --mem)'],
    [['run', 'x.bin', '--bogus'], 'unknown option --bogus'],
    [['run', 'x.bin', '-x'], 'unknown option -x'],
    [['run'], 'run needs exactly one argument, <guest.bin|guest.elf>; got 0'],
    [['run', 'a.bin', 'b.bin'], 'run needs exactly one argument, <guest.bin|guest.elf>; got 2'],
    [['mtree', 'extra'], 'mtree takes no arguments, got "extra"'],
    [['demo', 'now'], 'demo takes no arguments, got "now"'],
    [['help', 'me'], 'help takes no arguments, got "me"'],
    [[], 'a command is needed'],
    [['boot'], 'unknown command boot'],
    [['--mem', '2M'], '--mem needs a command before it'],
    [['run', 'x.bin', '--mem'], '--mem needs a value (SIZE)'],
    [['run', 'x.bin', '--mem='], '--mem needs a value (SIZE)'],
    [['run', 'x.bin', '--mem', '16 M'], '--mem "16 M" is not a size'],
    [['run', 'x.bin', '--mem', '2M', '--mem', '4M'], '--mem is given twice'],
    [['run', 'x.bin', '--mode', 'virtual'], '--mode must be real, protected or long, got virtual'],
    [['run', 'x.bin', '--timeout', '0'], '--timeout must be a positive number of milliseconds, got 0'],
    [['run', 'x.bin', '--entry', 'main'], '--entry "main" is not an address'],
    [['run', 'x.bin', '--load-address', '-1'], '--load-address "-1" is not an address'],
    [['run', 'x.bin', '--trace=yes'], '--trace takes no value'],
    [['mtree', '--flat', '--flat'], '--flat is given twice'],
  ])('%j is a usage error: %s', async (args, message) => {
    const t = io();
    expect(await main(args, t.io)).toBe(USAGE_EXIT);
    expect(t.err()).toContain(`node-kvm: ${message}`);
    expect(t.err()).toContain('node-kvm --help');
    expect(t.out()).toBe('');
  });
});

describeKvm('node-kvm CLI', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-cli-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('demo: greeting, memory map, and the exit code the guest chose ((0x15 << 1) | 1) in the last line; exit 0', async () => {
    const t = io();
    expect(await main(['demo'], t.io)).toBe(0);
    expect(t.out()).toContain('Hello from a 64-bit guest on real KVM, driven by node-kvm!\n');
    expect(t.out()).toContain('address-space: memory');
    expect(t.out()).toContain('(prio 0, i/o): isa-debug-exit');
    expect(t.out()).toMatch(/The guest wrote to the debug-exit port: exit code 43 \(.*\)\. The demo worked\.\n$/);
    expect(t.err()).toBe('');
    expect(fs.existsSync(DEMO_GUEST)).toBe(true);
  });

  test('demo as a process (what `npm start` runs) exits with status 0, so `npm start && npm test` goes on', () => {
    const r = cliChild(['demo']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('exit code 43');
    expect(r.status).toBe(0);
  });

  test('run --load-address puts a flat binary there; with --entry the guest starts inside it', async () => {
    const bin = path.join(dir, 'runaway-moved.bin');
    fs.writeFileSync(bin, assemble('runaway.S'));
    const t = io();
    // Entered at +0x10, the guest writes port 0x80 forever: only if the code really is at 0x200000.
    expect(await main(['run', bin, '--load-address', '0x200000', '--entry', '0x200010', '--timeout', '100', '--trace'], t.io)).toBe(124);
    expect(t.err()).toMatch(/\[trace\] io out port=0x80 size=1/);
  });

  test('run --load-address with an ELF is a usage error (an ELF says where its segments go)', async () => {
    const elf = path.join(dir, 'guest.elf');
    fs.writeFileSync(elf, Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0));
    const t = io();
    expect(await main(['run', elf, '--load-address', '0x200000'], t.io)).toBe(USAGE_EXIT);
    expect(t.err()).toContain('--load-address is for flat binaries');
  });

  test('run refuses a device, a FIFO and a directory before reading them (/dev/zero would never end)', () => {
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    for (const [file, kind] of [['/dev/zero', 'a device'], [fifo, 'a FIFO'], [dir, 'a directory']]) {
      const r = cliChild(['run', file], { maxAddressSpace: 4 * 2 ** 30 }); // a child: an endless read would block the test worker
      expect({ file, status: r.status, signal: r.signal }).toEqual({ file, status: 1, signal: null });
      expect(r.stderr).toBe(`node-kvm: ${file} is ${kind}: a guest image must be a regular file (a flat binary or an ELF)\n`);
    }
  }, 150_000); // three child processes, each compiling the CLI's TypeScript

  test('run refuses an image larger than guest RAM without reading it', async () => {
    const big = path.join(dir, 'big.bin');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, (2 << 20) + 1); // sparse: one byte more than --mem 2M
    const t = io();
    expect(await main(['run', big, '--mem', '2M'], t.io)).toBe(1);
    expect(t.err()).toBe(`node-kvm: ${big} is 2097153 bytes, larger than the guest's 2097152 bytes of RAM: use a larger --mem (at most 3G)\n`);
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

  test('failures that are not usage errors exit 1 with a message', async () => {
    let t = io();
    expect(await main(['run', path.join(dir, 'missing.bin')], t.io)).toBe(1);
    expect(t.err()).toMatch(/ENOENT/);
    t = io();
    expect(await main(['mtree', '--mem', '4G'], t.io)).toBe(1);
    expect(t.err()).toMatch(/^node-kvm: .*3G/);
  });
});
