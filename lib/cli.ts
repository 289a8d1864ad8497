// The node-kvm command line: run a guest, print a machine's memory map, or
// boot the bundled demo. main() is testable in-process; cli() is what
// bin/node-kvm calls.
import * as path from 'path';
import type { Readable, Writable } from 'stream';
import { Machine, type MachineOptions } from './machine';
import type { RunResult } from './kvm/run-loop';
import { parseAddress, parseSize } from './parse-size';
import { readImageFile } from './x86/image-file';
import { isElf } from './x86/loader-elf';
import type { CpuMode } from './x86/modes';
import { hex } from './util/hex';
import { packageVersion } from './package-version';
import { restoreLaunchEnvironment } from './util/process-start';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable | null;
}

/** Exit status of every usage error (BSD's EX_USAGE): even, so no guest's debug-exit code ((v << 1) | 1) is ever 64. */
export const USAGE_EXIT = 64;

/** The code guests/demo/demo.S writes to the debug-exit port: (0x15 << 1) | 1. */
export const DEMO_EXIT_CODE = 43;

/** Where the bundled demo guest lives (the same from lib/ and dist/). */
export const DEMO_GUEST = path.join(__dirname, '..', 'guests', 'demo', 'demo.bin');

const DEFAULT_MEMORY = '16M';

interface FlagSpec {
  /** Placeholder of the flag's value; absent for a flag without one. */
  value?: string;
  help: string;
}

// Every flag the CLI knows. The help text is made from this table and the
// parser accepts nothing else, so --help cannot forget a flag.
const FLAGS: Record<string, FlagSpec> = {
  '--mem': { value: 'SIZE', help: `guest RAM at address 0, 1M to 3G (default ${DEFAULT_MEMORY})` },
  '--mode': { value: 'MODE', help: 'real, protected or long (default long)' },
  '--load-address': { value: 'ADDR', help: 'where a flat binary goes (default 0x7c00 in real mode, else 0x100000; not for an ELF)' },
  '--entry': { value: 'ADDR', help: 'where execution starts (default: the ELF entry, or the load address)' },
  '--timeout': { value: 'MS', help: 'stop the guest after MS milliseconds (exit status 124)' },
  '--trace': { help: 'log every exit on stderr' },
  '--irqchip': { help: 'the in-kernel IRQ chip and PIT (hlt then waits for an interrupt)' },
  '--gdb': { value: '[HOST:]PORT', help: 'wait for gdb on TCP (target remote HOST:PORT); the guest runs as gdb says' },
  '--flat': { help: "the flat views, like `info mtree -f`" },
  '--help': { help: 'print this help and exit' },
  '--version': { help: 'print the version and exit' },
};

const SHORT_FLAGS: Record<string, string> = { '-h': '--help' };
const GLOBAL_FLAGS = ['--help', '--version'];

interface CommandSpec {
  /** Names of the positional arguments, in order (all required). */
  args: string[];
  flags: string[];
  help: string;
}

const COMMANDS: Record<string, CommandSpec> = {
  run: {
    args: ['<guest.bin|guest.elf>'],
    flags: ['--mem', '--mode', '--load-address', '--entry', '--timeout', '--trace', '--irqchip', '--gdb'],
    help: 'Boots the guest, serial (COM1) on stdin/stdout: a flat binary, or an ELF (32-bit for --mode protected, 64-bit for long), in a regular file no larger than guest RAM.',
  },
  mtree: {
    args: [],
    flags: ['--flat', '--mem'],
    help: "Prints the machine's memory map like QEMU's `info mtree`.",
  },
  demo: {
    args: [],
    flags: [],
    help: 'Boots the bundled demo guest (guests/demo/demo.S); exit status 0 when it ends as it should.',
  },
  help: { args: [], flags: [], help: 'Prints this help.' },
};

function flagText(name: string): string {
  const spec = FLAGS[name];
  return spec.value ? `${name} ${spec.value}` : name;
}

/** Joins words into lines of at most 80 characters: the first starts with `first`, the others with `rest`. */
function wrap(words: string[], first: string, rest: string): string[] {
  const lines = [first + words[0]];
  for (const w of words.slice(1)) {
    if (lines[lines.length - 1].length + 1 + w.length > 80) lines.push(rest + w);
    else lines[lines.length - 1] += ` ${w}`;
  }
  return lines;
}

function usageText(): string {
  const lines = ['usage: node-kvm <command> [options]', ''];
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    lines.push(...wrap([`node-kvm ${name}`, ...cmd.args, ...cmd.flags.map((f) => `[${flagText(f)}]`)], '  ', ' '.repeat(4 + name.length + 8)));
    lines.push(...wrap(cmd.help.split(' '), '      ', '      '));
  }
  lines.push('', 'options:');
  const shortOf = (name: string) => Object.keys(SHORT_FLAGS).find((s) => SHORT_FLAGS[s] === name);
  for (const name of Object.keys(FLAGS)) {
    const short = shortOf(name);
    const label = (short ? `${short}, ` : '') + flagText(name);
    lines.push(...wrap([label.padEnd(21), ...FLAGS[name].help.split(' ')], '  ', ' '.repeat(24)));
  }
  lines.push(
    '',
    'exit status:',
    '  run    the code the guest wrote to the debug-exit port 0x501 ((v << 1) | 1),',
    '         0 after hlt, 124 on timeout, 2 on any other stop',
    `  demo   0 when the demo guest ends with its code ${DEMO_EXIT_CODE}`,
    '  1      node-kvm could not do it (a missing or unsuitable file, KVM)',
    `  ${USAGE_EXIT}     a usage error (unknown command, option or argument, a bad value)`,
    '',
  );
  return lines.join('\n');
}

class UsageError extends Error {}

interface Parsed {
  command: string | undefined;
  positional: string[];
  flags: Map<string, string | true>;
}

/**
 * Strict parsing: the first argument that is not a flag is the command, and
 * each command accepts only its own flags (plus --help and --version); an
 * unknown or repeated flag, a missing value and a stray argument are usage
 * errors. `--` ends the flags, for file names that begin with a dash.
 */
function parseArgs(args: string[]): Parsed {
  const positional: string[] = [];
  const given: { name: string; value: string | true }[] = [];
  let flagsEnded = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (flagsEnded || !a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    if (a === '--') {
      flagsEnded = true;
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const written = eq > 0 ? a.slice(0, eq) : a;
    const name = SHORT_FLAGS[written] ?? written;
    const spec = FLAGS[name];
    if (!spec) throw new UsageError(`unknown option ${written}`);
    if (spec.value) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new UsageError(`${name} needs a value (${spec.value})`);
      given.push({ name, value: v });
    } else {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      given.push({ name, value: true });
    }
  }
  const [command, ...rest] = positional;
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (command !== undefined && !spec) throw new UsageError(`unknown command ${command}`);
  const flags = new Map<string, string | true>();
  for (const { name, value } of given) {
    if (!GLOBAL_FLAGS.includes(name)) {
      if (!spec) throw new UsageError(`${name} needs a command before it`);
      if (!spec.flags.includes(name)) {
        const own = spec.flags.length ? `its options are ${spec.flags.join(', ')}` : 'it takes no options';
        throw new UsageError(`${command} does not take ${name} (${own})`);
      }
    }
    if (flags.has(name)) throw new UsageError(`${name} is given twice`);
    flags.set(name, value);
  }
  if (spec && !flags.has('--help') && rest.length !== spec.args.length) {
    throw new UsageError(spec.args.length
      ? `${command} needs exactly ${spec.args.length === 1 ? 'one argument' : `${spec.args.length} arguments`}, ${spec.args.join(' ')}; got ${rest.length}`
      : `${command} takes no arguments, got ${rest.map((r) => JSON.stringify(r)).join(' ')}`);
  }
  return { command, positional: rest, flags };
}

/** A flag's value through a parser; a value the parser refuses is a usage error. */
function flagValue<T>(p: Parsed, name: string, parse: (value: string) => T): T | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  try {
    return parse(v as string);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function memoryBytes(p: Parsed): bigint {
  return flagValue(p, '--mem', (v) => parseSize(v, '--mem')) ?? parseSize(DEFAULT_MEMORY);
}

function machineOptions(p: Parsed, io: CliIo): MachineOptions {
  const mode = (p.flags.get('--mode') ?? 'long') as CpuMode;
  if (!['real', 'protected', 'long'].includes(mode)) throw new UsageError(`--mode must be real, protected or long, got ${mode}`);
  return {
    memory: memoryBytes(p),
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
  const timeoutMs = flagValue(p, '--timeout', (v) => {
    if (!/^[0-9]+$/.test(v) || !(Number(v) > 0)) throw new Error(`--timeout must be a positive number of milliseconds, got ${v}`);
    return Number(v);
  });
  const entry = flagValue(p, '--entry', (v) => parseAddress(v, '--entry'));
  const address = flagValue(p, '--load-address', (v) => parseAddress(v, '--load-address'));
  const options = machineOptions(p, io);
  const image = readImageFile(file, memoryBytes(p), 'use a larger --mem (at most 3G)');
  if (address !== undefined && isElf(image)) throw new UsageError(`--load-address is for flat binaries: ${file} is an ELF, whose segments say where they go`);
  const trace = p.flags.has('--trace') ? (line: string) => io.stderr.write(`[trace] ${line}\n`) : undefined;
  const gdb = flagValue(p, '--gdb', parseGdbAddress);
  if (gdb && timeoutMs !== undefined) throw new UsageError('--gdb and --timeout do not go together: under gdb, gdb decides how long the guest runs');
  const machine = await Machine.create(options);
  try {
    machine.load(image, { entry, address });
    if (gdb) return await runUnderGdb(machine, gdb, io);
    const result = await machine.run({ timeoutMs, trace });
    if (result.reason !== 'debugExit' && result.reason !== 'hlt') io.stderr.write(`node-kvm: ${result.message} (RIP ${hex(result.rip)})\n`);
    if (trace) io.stderr.write(`[trace] stopped: ${result.reason} after ${result.exits} exits\n`);
    return exitCodeOf(result);
  } finally {
    machine.close();
  }
}

/** --gdb PORT or HOST:PORT (default host 127.0.0.1). */
function parseGdbAddress(v: string): { host: string; port: number } {
  const m = /^(?:(.*):)?([0-9]+)$/.exec(v);
  if (m === null || Number(m[2]) > 65535) throw new UsageError(`--gdb must be PORT or HOST:PORT, got ${v}`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** The guest under gdb: ends when the guest does (its exit code), or with 0 when gdb kills it. */
async function runUnderGdb(machine: Machine, at: { host: string; port: number }, io: CliIo): Promise<number> {
  const server = await machine.gdbServer(at);
  io.stderr.write(`node-kvm: waiting for gdb on tcp:${at.host}:${server.port} (in gdb: target remote ${at.host}:${server.port})\n`);
  try {
    const result = await new Promise<RunResult | null>((resolve) => {
      server.on('exit', resolve);
      server.on('run', resolve);
      server.on('kill', () => resolve(null));
    });
    return result === null ? 0 : exitCodeOf(result);
  } finally {
    await server.close();
  }
}

async function demo(io: CliIo): Promise<number> {
  const machine = await Machine.create({ memory: DEFAULT_MEMORY, mode: 'long', serial: { output: io.stdout } });
  try {
    machine.load(DEMO_GUEST);
    const result = await machine.run({ timeoutMs: 10_000 });
    io.stdout.write('\nThe machine\'s memory map (QEMU `info mtree`):\n\n');
    io.stdout.write(machine.mtree());
    io.stdout.write(machine.mtree({ flat: true }));
    if (result.reason === 'debugExit' && result.exitCode === DEMO_EXIT_CODE) {
      io.stdout.write(`The guest wrote to the debug-exit port: exit code ${result.exitCode} (${result.exits} exits, ${result.elapsedMs.toFixed(1)} ms). The demo worked.\n`);
      return 0;
    }
    io.stderr.write(`node-kvm: the demo guest did not exit with code ${DEMO_EXIT_CODE} as expected: ${result.message}\n`);
    return 1;
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
    if (p.flags.has('--help') || p.command === 'help') {
      io.stdout.write(usageText());
      return 0;
    }
    if (p.flags.has('--version')) {
      io.stdout.write(`node-kvm ${packageVersion()}\n`);
      return 0;
    }
    switch (p.command) {
      case 'run': return await runGuest(p.positional[0], p, io);
      case 'mtree': return await mtree(p, io);
      case 'demo': return await demo(io);
      default: throw new UsageError('a command is needed');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`node-kvm: ${err.message}\n(\`node-kvm --help\` lists the commands and their options)\n`);
      return USAGE_EXIT;
    }
    io.stderr.write(`node-kvm: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}

/** Entry point of bin/node-kvm. */
export function cli(): void {
  restoreLaunchEnvironment();
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`node-kvm: ${String(err?.stack ?? err)}\n`);
      process.exit(1);
    },
  );
}
