// The node-kvm command line: run a guest, print a machine's memory map, or
// boot the bundled demo. main() is testable in-process; cli() is what
// bin/node-kvm calls.
import * as path from 'path';
import type { Readable, Writable } from 'stream';
import { Machine, type MachineOptions } from './machine';
import type { RunResult } from './kvm/run-loop';
import { parseAddress } from './parse-size';
import type { CpuMode } from './x86/modes';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable | null;
}

const USAGE = `usage:
  node-kvm run <guest.bin|guest.elf> [--mem 16M] [--mode real|protected|long]
               [--entry addr] [--timeout ms] [--trace] [--irqchip]
      Boots the guest: serial (COM1) on stdin/stdout; the exit code is the
      one the guest wrote to the debug-exit port 0x501 ((v << 1) | 1),
      0 after hlt, 124 on timeout, 2 on any other stop.
  node-kvm mtree [--flat] [--mem 16M] [--mode ...]
      Prints the machine's memory map like QEMU's \`info mtree [-f]\`.
  node-kvm demo
      Boots the bundled demo guest (guests/demo/demo.S).
`;

/** Where the bundled demo guest lives (the same from lib/ and dist/). */
export const DEMO_GUEST = path.join(__dirname, '..', 'guests', 'demo', 'demo.bin');

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--mem', '--mode', '--entry', '--timeout']);
const BOOL_FLAGS = new Set(['--trace', '--flat', '--irqchip', '--help']);

function parseArgs(args: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (VALUE_FLAGS.has(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : args[++i];
        if (v === undefined) throw new UsageError(`${name} needs a value`);
        flags.set(name, v);
      } else if (BOOL_FLAGS.has(name) && eq < 0) {
        flags.set(name, true);
      } else {
        throw new UsageError(`unknown option ${a}`);
      }
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

function machineOptions(p: Parsed, io: CliIo): MachineOptions {
  const mode = (p.flags.get('--mode') ?? 'long') as CpuMode;
  if (!['real', 'protected', 'long'].includes(mode)) throw new UsageError(`--mode must be real, protected or long, got ${mode}`);
  return {
    memory: (p.flags.get('--mem') as string | undefined) ?? '16M',
    mode,
    irqchip: p.flags.has('--irqchip'),
    serial: { output: io.stdout, input: io.stdin ?? null },
  };
}

/** The process exit code for a run result. */
export function exitCodeOf(r: RunResult): number {
  switch (r.reason) {
    case 'debugExit': return r.exitCode! & 0xff;
    case 'hlt': return 0;
    case 'timeout': return 124;
    default: return 2;
  }
}

async function runGuest(file: string, p: Parsed, io: CliIo): Promise<number> {
  const timeout = p.flags.get('--timeout');
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    timeoutMs = Number(timeout);
    if (!/^[0-9]+$/.test(timeout as string) || !(timeoutMs > 0)) throw new UsageError(`--timeout must be a positive number of milliseconds, got ${String(timeout)}`);
  }
  const entry = p.flags.has('--entry') ? parseAddress(p.flags.get('--entry') as string, '--entry') : undefined;
  const trace = p.flags.has('--trace') ? (line: string) => io.stderr.write(`[trace] ${line}\n`) : undefined;
  const machine = await Machine.create(machineOptions(p, io));
  try {
    machine.load(file, { entry });
    const result = await machine.run({ timeoutMs, trace });
    if (result.reason !== 'debugExit' && result.reason !== 'hlt') io.stderr.write(`node-kvm: ${result.message} (RIP 0x${result.rip.toString(16)})\n`);
    if (trace) io.stderr.write(`[trace] stopped: ${result.reason} after ${result.exits} exits\n`);
    return exitCodeOf(result);
  } finally {
    machine.close();
  }
}

async function demo(io: CliIo): Promise<number> {
  const machine = await Machine.create({ memory: '16M', mode: 'long', serial: { output: io.stdout } });
  try {
    machine.load(DEMO_GUEST);
    const result = await machine.run({ timeoutMs: 10_000 });
    io.stdout.write('\nThe machine\'s memory map (QEMU `info mtree`):\n\n');
    io.stdout.write(machine.mtree());
    io.stdout.write(machine.mtree({ flat: true }));
    if (result.reason === 'debugExit') {
      io.stdout.write(`The guest wrote to the debug-exit port: exit code ${result.exitCode} (${result.exits} exits, ${result.elapsedMs.toFixed(1)} ms).\n`);
    } else {
      io.stderr.write(`node-kvm: the demo guest did not exit as expected: ${result.message}\n`);
    }
    return exitCodeOf(result);
  } finally {
    machine.close();
  }
}

async function mtree(p: Parsed, io: CliIo): Promise<number> {
  const machine = await Machine.create({ ...machineOptions(p, io), serial: { output: null } });
  try {
    io.stdout.write(machine.mtree({ flat: p.flags.has('--flat') }));
    return 0;
  } finally {
    machine.close();
  }
}

/** Runs the CLI with `args` (without node and the script); resolves to the exit code. */
export async function main(args: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  try {
    const p = parseArgs(args);
    const [command, ...rest] = p.positional;
    if (p.flags.has('--help') || command === 'help' || command === undefined) {
      (command === undefined && !p.flags.has('--help') ? io.stderr : io.stdout).write(USAGE);
      return command === undefined && !p.flags.has('--help') ? 64 : 0;
    }
    switch (command) {
      case 'run':
        if (rest.length !== 1) throw new UsageError('run needs exactly one guest file');
        return await runGuest(rest[0], p, io);
      case 'mtree':
        if (rest.length) throw new UsageError('mtree takes no file');
        return await mtree(p, io);
      case 'demo':
        return await demo(io);
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`node-kvm: ${err.message}\n\n${USAGE}`);
      return 64;
    }
    io.stderr.write(`node-kvm: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}

/** Entry point of bin/node-kvm. */
export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`node-kvm: ${String(err?.stack ?? err)}\n`);
      process.exit(1);
    },
  );
}
