// The real gdb (Debian's gdb 13) in batch mode against a node-kvm GDB stub,
// in a child process (asynchronous, so a stub in the test's own process
// keeps answering), and a guest ELF with symbols built from test/guests.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { GdbServer } from '../../lib/gdb/gdb-server';
import type { Machine } from '../../lib/machine';
import { GUESTS } from './assemble';
import { testMachine, type TestMachine } from './machine';

export interface GdbRun {
  status: number | null;
  /** stdout and stderr interleaved as gdb wrote them */
  output: string;
}

/**
 * Runs `gdb -batch -nx` with one -ex per command. `onOutput` sees the
 * output so far after each chunk (to send gdb a SIGINT at the right time).
 */
export function runGdb(commands: string[], opts: { file?: string; timeoutMs?: number; onOutput?: (text: string, gdb: ReturnType<typeof spawn>) => void } = {}): Promise<GdbRun> {
  const args = ['-batch', '-nx', ...commands.flatMap((c) => ['-ex', c]), ...(opts.file ? [opts.file] : [])];
  const gdb = spawn('gdb', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const take = (b: Buffer) => {
    output += b.toString();
    opts.onOutput?.(output, gdb);
  };
  gdb.stdout.on('data', take);
  gdb.stderr.on('data', take);
  const timer = setTimeout(() => gdb.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => gdb.on('close', (status) => {
    clearTimeout(timer);
    resolve({ status, output });
  }));
}

/** A TCP port nobody listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** test/guests/NAME assembled and linked as a static 64-bit ELF (text 0x200000, data 0x300000); removed with the returned dir. */
export function buildElf64(name: string): { elf: string; dir: string; symbols: Map<string, bigint> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-gdb-'));
  const obj = path.join(dir, 'guest.o');
  const elf = path.join(dir, 'guest.elf');
  execFileSync('as', ['--64', '-o', obj, path.join(GUESTS, name)]);
  execFileSync('ld', ['-m', 'elf_x86_64', '-static', '-nostdlib', '-Ttext=0x200000', '-Tdata=0x300000', '-e', '_start', '-o', elf, obj]);
  const symbols = new Map<string, bigint>();
  for (const line of execFileSync('nm', [elf], { encoding: 'utf8' }).trim().split('\n')) {
    const [addr, , sym] = line.split(' ');
    symbols.set(sym, BigInt(`0x${addr}`));
  }
  return { elf, dir, symbols };
}

/**
 * For a describe block: test/guests/gdb-long.S built once (removed after
 * all), and before each test a fresh long-mode machine with it loaded and a
 * GDB server on a free port (both closed after each test).
 */
export function useLongModeGdb(): { elf: string; symbols: Map<string, bigint>; readonly machine: Machine; readonly server: GdbServer } {
  const { elf, dir, symbols } = buildElf64('gdb-long.S');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  let tm: TestMachine;
  let server: GdbServer;
  beforeEach(async () => {
    tm = await testMachine({ mode: 'long' });
    tm.machine.load(elf);
    server = await tm.machine.gdbServer({ port: 0 });
  });
  afterEach(async () => {
    await server.close();
    tm.machine.close();
  });
  return { elf, symbols, get machine() { return tm.machine; }, get server() { return server; } };
}
