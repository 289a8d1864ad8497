/**
 * QEMU's human monitor (HMP) for what node-kvm's machines can answer, as
 * QEMU 7.2 behaves on `-monitor stdio` (monitor/hmp.c, hmp-commands.hx,
 * hmp-commands-info.hx; texts checked against this host's QEMU 7.2.22):
 *
 * - the banner "QEMU 7.2.22 monitor - type 'help' for more information",
 *   then "(qemu) " before each command; every "\n" goes out as "\r\n"
 *   (monitor_puts); the typed line is echoed, as QEMU's readline does,
 *   unless the input is a terminal (which echoes by itself);
 * - commands: help|? [cmd], info [subcommand], stop|s, cont|c, system_reset,
 *   quit|q; info cpus, mtree [-f][-D], ramblock, pci, registers [-a|vcpu], status;
 * - QEMU's errors: "unknown command: 'foo'", "unknown command: 'info foo'",
 *   "mtree: unsupported option -x", "<name>: extraneous characters at the
 *   end of line", each followed by 'Try "help <typed>" for more information'
 *   (monitor_parse_arguments: flags are taken in their declared order, so
 *   `info mtree -D -f` is refused exactly as QEMU refuses it).
 * The monitor reads lines from a Readable without blocking the event loop,
 * runs one command at a time, and ends at `quit`, at the end of its input,
 * or at close() (its owner's, before it ends the output: nothing is written after).
 */
import { createInterface } from 'readline';
import type { Readable, Writable } from 'stream';

/** QEMU's RunState names that `info status` can show */
export type RunState = 'running' | 'paused' | 'prelaunch' | 'shutdown' | 'internal-error' | 'guest-panicked' | 'suspended' | 'debug';

/** What the monitor asks of a machine; every answer is the text QEMU prints, lines ending in "\n". */
export interface HmpTarget {
  /** `info mtree`: flat = -f, disabled = -D */
  mtree(options: { flat: boolean; disabled: boolean }): string;
  /** `info ramblock` */
  formatRamBlocks(): string;
  /** `info pci` */
  infoPci(): string;
  /** how many vCPUs there are (indices 0..n-1) */
  cpuCount(): number;
  /** `info cpus`: the host thread id of each vCPU (without it, there is no `info cpus`) */
  cpuThreadIds?(): number[];
  /** `info registers` of one vCPU, without the "CPU#n" heading (formatInfoRegisters) */
  infoRegisters(cpuIndex: number): string;
  /** for `info status` */
  runState(): RunState;
  stop(): void | Promise<void>;
  cont(): void | Promise<void>;
  systemReset(): void | Promise<void>;
  /** ends the machine; the monitor stops reading after it */
  quit(): void | Promise<void>;
}

export interface HmpMonitorOptions {
  input: Readable;
  output: Writable;
  /** echo each line read (QEMU's readline does); default: unless the input is a TTY */
  echo?: boolean;
  /** the version in the banner */
  version?: string;
}

/** the version of the QEMU whose monitor this is (the banner's) */
export const QEMU_VERSION = '7.2.22';

interface Command {
  /** QEMU's name with its aliases, e.g. 'stop|s' */
  name: string;
  params: string;
  help: string;
  /** flag letters in QEMU's args_type order */
  flags?: string[];
  /** an optional integer after the flags */
  int?: boolean;
  /** takes the rest of the line as it is (help) */
  rest?: boolean;
  run(args: Args, line: string): string | Promise<string>;
}

interface Args { flags: Set<string>; int?: number; rest: string }

/** an argument error; `prefixed`: QEMU puts the command's name before it (the expression parser's own messages have none) */
class ParseError extends Error {
  constructor(message: string, readonly prefixed = true) {
    super(message);
  }
}

const status = (s: RunState) => `VM status: ${s === 'running' ? 'running' : s === 'paused' ? 'paused' : `paused (${s})`}\n`;

export class HmpMonitor {
  private readonly target: HmpTarget;
  private readonly input: Readable;
  private readonly output: Writable;
  private readonly echo: boolean;
  private readonly version: string;
  private readonly commands: Command[];
  private readonly infoCommands: Command[];
  private quitting = false;
  /** close() was called: the output may be ended, so nothing more is written to it */
  private closed = false;
  private lines: ReturnType<typeof createInterface> | null = null;

  constructor(target: HmpTarget, options: HmpMonitorOptions) {
    if (typeof target !== 'object' || target === null) throw new TypeError('HmpMonitor: target must be an HmpTarget');
    const { input, output } = options ?? ({} as HmpMonitorOptions);
    if (typeof input?.on !== 'function') throw new TypeError('HmpMonitor: options.input must be a Readable stream');
    if (typeof output?.write !== 'function') throw new TypeError('HmpMonitor: options.output must be a Writable stream');
    this.target = target;
    this.input = input;
    this.output = output;
    this.echo = options.echo ?? !(input as Readable & { isTTY?: boolean }).isTTY;
    this.version = options.version ?? QEMU_VERSION;
    const cpus: Command[] = target.cpuThreadIds ? [{ name: 'cpus', params: '', help: 'show infos for each CPU', run: () => this.cpus() }] : [];
    this.infoCommands = [
      ...cpus,
      {
        name: 'mtree', params: '[-f][-D]', help: 'show memory tree (-f: dump flat view for address spaces;-D: dump disabled regions)', flags: ['f', 'D'],
        run: (a) => target.mtree({ flat: a.flags.has('f'), disabled: a.flags.has('D') }),
      },
      { name: 'pci', params: '', help: 'show PCI info', run: () => target.infoPci() },
      { name: 'ramblock', params: '', help: 'Display system ramblock information', run: () => target.formatRamBlocks() },
      {
        name: 'registers', params: '[-a|vcpu]', flags: ['a'], int: true,
        help: "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to query; show the current CPU's registers if no argument is specified)",
        run: (a) => this.registers(a),
      },
      { name: 'status', params: '', help: 'show the current VM status (running|paused)', run: () => status(target.runState()) },
    ];
    this.commands = [
      { name: 'cont|c', params: '', help: 'resume emulation', run: async () => { await target.cont(); return ''; } },
      { name: 'help|?', params: '[cmd]', help: 'show the help', rest: true, run: (a) => this.help(a.rest) },
      { name: 'info', params: '[subcommand]', help: 'show various information about the system state', run: () => this.list(this.infoCommands, 'info ') },
      { name: 'quit|q', params: '', help: 'quit the emulator', run: async () => { this.quitting = true; await target.quit(); return ''; } },
      { name: 'stop|s', params: '', help: 'stop emulation', run: async () => { await target.stop(); return ''; } },
      { name: 'system_reset', params: '', help: 'reset the system', run: async () => { await target.systemReset(); return ''; } },
    ];
  }

  /**
   * Prints the banner and a prompt, then runs the lines of the input one by
   * one; resolves after `quit`, at the end of the input or after close() (the
   * output stays open: it is the owner's).
   */
  async run(): Promise<void> {
    if (this.closed) return;
    this.write(`${this.banner()}\n(qemu) `);
    const lines = createInterface({ input: this.input, crlfDelay: Infinity, terminal: false });
    this.lines = lines;
    try {
      for await (const line of lines) {
        if (this.closed) break;
        if (this.echo) this.write(`${line}\n`);
        const answer = await this.execute(line);
        // quit prints nothing more (QEMU exits before the next prompt); its
        // owner may already have ended the output while quit was awaited.
        if (this.quitting || this.closed) break;
        this.write(answer);
        this.write('(qemu) ');
      }
    } finally {
      lines.close();
    }
  }

  /**
   * Stops the monitor before its owner ends the output: it reads no more
   * lines, and a command still running when it is called prints nothing.
   */
  close(): void {
    this.closed = true;
    this.lines?.close();
  }

  /** "QEMU 7.2.22 monitor - type 'help' for more information" */
  banner(): string {
    return `QEMU ${this.version} monitor - type 'help' for more information`;
  }

  /** Runs one command line and returns what the monitor prints for it ("\n" line ends). */
  async execute(line: string): Promise<string> {
    if (typeof line !== 'string') throw new TypeError('HmpMonitor.execute: the command line must be a string');
    const start = line.length - line.trimStart().length;
    if (start === line.length) return '';
    let found: { cmd: Command; at: number } | string;
    found = this.lookup(this.commands, line, start, '');
    if (typeof found === 'string') return found;
    if (found.cmd.name === 'info' && line.slice(found.at).trim() !== '') {
      found = this.lookup(this.infoCommands, line, found.at, 'info ');
      if (typeof found === 'string') return found;
    }
    const { cmd, at } = found;
    try {
      const args = this.parseArgs(cmd, line.slice(at));
      return await cmd.run(args, line);
    } catch (err) {
      if (err instanceof ParseError) return `${err.prefixed ? `${cmd.name}: ` : ''}${err.message}\nTry "help ${line.slice(start, at)}" for more information\n`;
      return `Error: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  }

  /** The command named at `from` (QEMU's get_command_name: up to a space or '/'), or the error text. */
  private lookup(table: Command[], line: string, from: number, prefix: string): { cmd: Command; at: number } | string {
    const begin = from + (line.slice(from).length - line.slice(from).trimStart().length);
    const m = /^[^\s/]*/.exec(line.slice(begin))!;
    const name = m[0];
    const cmd = table.find((c) => c.name.split('|').includes(name));
    if (!cmd) return `unknown command: '${prefix}${name}'\n`;
    return { cmd, at: begin + name.length };
  }

  /** monitor_parse_arguments for flags ('-x'), an optional integer and the rest of the line */
  private parseArgs(cmd: Command, text: string): Args {
    const args: Args = { flags: new Set(), rest: '' };
    let p = 0;
    const skipSpaces = () => { while (p < text.length && /\s/.test(text[p])) p++; };
    if (cmd.rest) {
      args.rest = text.trim();
      return args;
    }
    const flags = cmd.flags ?? [];
    flags.forEach((flag, i) => {
      skipSpaces();
      if (text[p] !== '-') return;
      const c = text[p + 1] ?? '';
      if (c === flag) {
        args.flags.add(flag);
        p += 2;
      } else if (!flags.slice(i + 1).includes(c)) {
        throw new ParseError(`unsupported option -${c}`);
      }
    });
    if (cmd.int) {
      skipSpaces();
      if (p < text.length) {
        const num = /^(0x[0-9a-f]+|[0-9]+)/i.exec(text.slice(p));
        if (!num) throw new ParseError(`invalid char '${text[p]}' in expression`, false);
        args.int = Number(num[0]);
        p += num[0].length;
      }
    }
    skipSpaces();
    if (p < text.length) throw new ParseError('extraneous characters at the end of line');
    return args;
  }

  /** hmp_info_cpus: '*' marks the monitor's current CPU (always #0: there is no `cpu` command) */
  private cpus(): string {
    return this.target.cpuThreadIds!().map((tid, i) => `${i === 0 ? '*' : ' '} CPU #${i}: thread_id=${tid}\n`).join('');
  }

  /** hmp_info_registers: "\nCPU#n\n" before each dump */
  private registers(a: Args): string {
    const n = this.target.cpuCount();
    if (a.flags.has('a')) return Array.from({ length: n }, (_, i) => `\nCPU#${i}\n${this.target.infoRegisters(i)}`).join('');
    const cpu = a.int ?? 0;
    if (cpu >= n) return `CPU#${cpu} not available\n`;
    return `\nCPU#${cpu}\n${this.target.infoRegisters(cpu)}`;
  }

  /** help_cmd_dump_one for each command of a table */
  private list(table: Command[], prefix: string): string {
    return table.map((c) => `${prefix}${c.name} ${c.params} -- ${c.help}\n`).join('');
  }

  /** `help`, `help cmd`, `help info`, `help info sub` (words after a command without subcommands are ignored, as in QEMU) */
  private help(rest: string): string {
    if (rest === '') return this.list(this.commands, '');
    const [first, sub] = rest.split(/\s+/);
    const cmd = this.commands.find((c) => c.name.split('|').includes(first));
    if (!cmd) return `unknown command: '${first}'\n`;
    if (cmd.name !== 'info') return this.list([cmd], '');
    if (sub === undefined) return this.list(this.infoCommands, 'info ');
    const info = this.infoCommands.find((c) => c.name === sub);
    return info ? this.list([info], 'info ') : `unknown command: 'info ${sub}'\n`;
  }

  private write(text: string): void {
    if (this.closed) return;
    this.output.write(text.replace(/\n/g, '\r\n'));
  }
}
