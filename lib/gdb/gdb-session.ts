// One gdb client's conversation: packets in, replies out. What the packets
// mean follows gdb's "Packets" and "Stop Reply Packets" documentation and
// what QEMU's gdbstub (gdbstub/gdbstub.c) answers: threads are vCPUs
// (thread ids 1..N), memory addresses are guest-linear, the guest stops
// while gdb looks at it. Every malformed or failing request gets an `E..`
// reply and changes nothing; unknown packets get the empty reply.
import type { Socket } from 'net';
import type { DebugEngine, DebugRunResult } from '../debug/debug-engine';
import { GuestMemoryError } from '../debug/guest-memory';
import type { Vcpu } from '../kvm/vcpu';
import { KvmError } from '../errors';
import type { HmpMonitor } from '../qemu/hmp';
import { readAllRegisters, readRegister, RegisterWriteError, writeAllRegisters, writeRegister } from './gdb-registers';
import { frame, fromHex, MAX_PACKET, parseHexNumber, RspReader, toHex, unescapeBinary, type RspEvent } from './rsp-packets';
import { TARGET_XML } from './target-description';
import { GdbWatchpoints } from './gdb-watchpoints';
import { GUEST_ENDED } from './guest-ended';

/** How the session starts and stops the guest (see GdbRunControl in gdb-server.ts). */
export interface SessionControl {
  resume(opts: { count?: number }): Promise<DebugRunResult>;
  interrupt(): void;
  detach(): void;
  kill(): void;
}

export interface SessionTarget {
  readonly vcpus: readonly Vcpu[];
  readonly debug: DebugEngine;
  readonly monitor: HmpMonitor;
  readonly watchpoints: GdbWatchpoints;
}

const E_INVAL = 'E16'; // malformed packet (QEMU's gdbstub answers EINVAL's 22 = 0x16)
const E_FAULT = 'E0e'; // memory not there (EFAULT = 14)
const E_NOSPC = 'E1c'; // no free breakpoint slot (ENOSPC = 28)

/** SIGTRAP and SIGINT, the stop signals gdb expects. */
const SIGTRAP = 5;
const SIGINT = 2;

export class GdbSession {
  private readonly reader = new RspReader();
  private lastReply: Buffer | null = null;
  private thread = 0; // vCPU index for g/G/p/P/m/M (Hg)
  private swbreak = false;
  private hwbreak = false;
  private running: Promise<void> | null = null;
  private closed = false;
  /** gdb's k: the guest must not run on when the client goes. */
  private killed = false;
  /**
   * The guest ran before gdb stopped it, or gdb ran it: when the client goes
   * away without D, it runs on (a client that only looked leaves a -S guest stopped).
   */
  runOnAtEnd = false;
  /** The last stop, for `?`. */
  private lastStop = `T${hex2(SIGTRAP)}thread:01;`;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly socket: Socket, private readonly target: SessionTarget, private readonly control: SessionControl) {
    socket.on('data', (chunk: Buffer) => this.reader.feed(chunk, (e) => this.onEvent(e)));
  }

  /** The client went away (or the server closes): gdb's breakpoints go, the guest runs on (unless gdb killed it). */
  end(explicit = false): void {
    if (this.closed) return;
    this.closed = true;
    this.target.debug.breakpoints.clearOwner('gdb-sw');
    this.target.debug.breakpoints.clearOwner('gdb-hw');
    this.target.watchpoints.clear();
    if (this.running) this.control.interrupt();
    if (!this.killed && (explicit || this.runOnAtEnd)) void (this.running ?? Promise.resolve()).then(() => this.control.detach());
  }

  private onEvent(e: RspEvent): void {
    switch (e.kind) {
      case 'ack': return;
      case 'nack':
        if (this.lastReply) this.socket.write(this.lastReply);
        return;
      case 'bad-checksum':
        this.socket.write('-');
        return;
      case 'too-long':
        this.socket.write('+');
        this.reply(E_INVAL);
        return;
      case 'interrupt':
        if (this.running) this.control.interrupt();
        return;
      case 'packet':
        this.socket.write('+');
        // One packet at a time, in order (a reply may need the guest to stop first).
        this.queue = this.queue.then(() => this.handle(e.data.toString('latin1'), e.data)).catch((err) => this.reply(errorReply(err)));
        return;
    }
  }

  private reply(text: string | Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    this.lastReply = frame(text);
    this.socket.write(this.lastReply);
  }

  private get vcpu(): Vcpu {
    return this.target.vcpus[this.thread];
  }

  private handle(p: string, raw: Buffer): Promise<void> | void {
    const c = p[0];
    const rest = p.slice(1);
    switch (c) {
      case '?': return this.reply(this.lastStop);
      case 'g': return this.reply(toHex(readAllRegisters(this.vcpu)));
      case 'G': {
        const bytes = fromHex(rest);
        if (bytes === null) return this.reply(E_INVAL);
        writeAllRegisters(this.vcpu, bytes);
        return this.reply('OK');
      }
      case 'p': {
        const n = parseHexNumber(rest);
        const bytes = n === null ? null : readRegister(this.vcpu, Number(n));
        return this.reply(bytes === null ? E_INVAL : toHex(bytes));
      }
      case 'P': {
        const m = /^([0-9a-fA-F]+)=([0-9a-fA-F]*)$/.exec(rest);
        const bytes = m ? fromHex(m[2]) : null;
        if (m === null || bytes === null) return this.reply(E_INVAL);
        writeRegister(this.vcpu, parseInt(m[1], 16), bytes);
        return this.reply('OK');
      }
      case 'm': return this.readMemory(rest);
      case 'M': return this.writeMemory(rest, false, raw);
      case 'X': return this.writeMemory(rest, true, raw);
      case 'c': return this.resume(rest, {});
      case 's': return this.resume(rest, { count: 1 });
      case 'v': return this.vPacket(p);
      case 'Z': case 'z': return this.breakpoint(c === 'Z', rest);
      case 'H': return this.setThread(rest);
      case 'T': return this.reply(this.threadIndex(rest) === null ? 'E01' : 'OK');
      case 'k':
        this.killed = true;
        this.control.kill();
        return;
      case 'D':
        this.reply('OK');
        this.socket.end();
        this.end(true);
        return;
      case 'q': case 'Q': return this.query(p);
      default: return this.reply('');
    }
  }

  private readMemory(args: string): void {
    const m = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,16})$/.exec(args);
    if (m === null) return this.reply(E_INVAL);
    const len = parseHexNumber(m[2])!;
    // The reply is two hex digits a byte and must fit the PacketSize we announced.
    if (len > BigInt((MAX_PACKET - 4) >> 1)) return this.reply(E_INVAL);
    return this.reply(toHex(this.target.debug.memory.read(this.vcpu, parseHexNumber(m[1])!, Number(len))));
  }

  private writeMemory(args: string, binary: boolean, raw: Buffer): void {
    const m = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,16}):/.exec(args);
    if (m === null) return this.reply(E_INVAL);
    const len = parseHexNumber(m[2])!;
    const payload = raw.subarray(1 + m[0].length);
    const bytes = binary ? unescapeBinary(payload) : fromHex(payload.toString('latin1'));
    if (bytes === null || BigInt(bytes.length) !== len) return this.reply(E_INVAL);
    if (bytes.length > 0) this.target.debug.memory.write(this.vcpu, parseHexNumber(m[1])!, new Uint8Array(bytes));
    return this.reply('OK');
  }

  private async resume(addr: string, opts: { count?: number }): Promise<void> {
    if (addr !== '') {
      const a = parseHexNumber(addr);
      if (a === null) return this.reply(E_INVAL);
      this.vcpu.setRegs({ rip: a });
    }
    this.runOnAtEnd = true;
    let stopped!: () => void;
    this.running = new Promise<void>((r) => { stopped = r; });
    this.target.watchpoints.hit = null;
    try {
      const r = await this.control.resume(opts);
      this.reply(this.stopReply(r));
    } catch (err) {
      this.reply(`T${hex2(SIGTRAP)}thread:01;`);
      this.console(`node-kvm: the run failed: ${err instanceof Error ? err.message : String(err)}\n`);
    } finally {
      this.running = null;
      stopped();
    }
  }

  /** The stop reply for a finished run, and the run's message for gdb's console when gdb could not guess it. */
  private stopReply(r: DebugRunResult): string {
    if (r.reason === 'debugExit') return this.exited(r.exitCode! & 0xff);
    if (GUEST_ENDED.has(r.reason)) return this.exited(0);
    const thread = 'thread:01;';
    let stop = `T${hex2(SIGTRAP)}${thread}`;
    const watch = this.target.watchpoints.takeStopField();
    if (watch !== '') stop += watch;
    else if (r.debug?.kind === 'swbreak' && this.swbreak) stop += 'swbreak:;';
    else if (r.debug?.kind === 'hwbreak' && this.hwbreak) stop += 'hwbreak:;';
    else if (r.reason === 'stopped' && r.debug === undefined && r.message.includes('interrupt')) stop = `T${hex2(SIGINT)}${thread}`;
    else if (r.debug === undefined) this.console(`node-kvm: ${r.message}\n`);
    this.lastStop = stop;
    return stop;
  }

  private exited(code: number): string {
    this.lastStop = `W${hex2(code)}`;
    return this.lastStop;
  }

  /** An `O` packet: text for gdb's console. */
  private console(text: string): void {
    this.reply(`O${Buffer.from(text).toString('hex')}`);
  }

  private vPacket(p: string): Promise<void> | void {
    if (p === 'vCont?') return this.reply('vCont;c;C;s;S');
    if (p.startsWith('vCont;')) {
      // The first action that applies decides (gdb lists the stepping thread first); signals are not delivered.
      const actions = p.slice(6).split(';').map((a) => a.split(':')[0]);
      if (actions.some((a) => !/^([cs]|[CS][0-9a-fA-F]{2})$/.test(a))) return this.reply(E_INVAL);
      return this.resume('', actions.some((a) => a[0].toLowerCase() === 's') ? { count: 1 } : {});
    }
    if (p === 'vMustReplyEmpty') return this.reply('');
    return this.reply('');
  }

  private breakpoint(insert: boolean, args: string): void {
    const m = /^([0-4]),([0-9a-fA-F]{1,16}),([0-9a-fA-F]+)/.exec(args);
    if (m === null) return this.reply(E_INVAL);
    const address = parseHexNumber(m[2])!;
    const watch = GdbWatchpoints.kindOf(m[1]);
    if (watch !== undefined) {
      const length = parseHexNumber(m[3]);
      if (length === null) return this.reply(E_INVAL);
      if (insert) this.target.watchpoints.insert(this.vcpu, watch, address, length);
      else this.target.watchpoints.remove(watch, address, length);
      return this.reply('OK');
    }
    const owner = m[1] === '0' ? 'gdb-sw' : 'gdb-hw';
    const bps = this.target.debug.breakpoints;
    if (!insert) {
      bps.remove(address, owner);
      return this.reply('OK');
    }
    if (bps.has(address, owner)) return this.reply('OK'); // gdb re-inserts what it has; one is enough
    try {
      bps.insert(address, owner);
    } catch (err) {
      if (err instanceof RangeError) return this.reply(E_NOSPC);
      throw err;
    }
    return this.reply('OK');
  }

  private threadIndex(id: string): number | null {
    if (id === '-1' || id === '0') return this.thread;
    const n = parseHexNumber(id);
    if (n === null || n < 1n || n > BigInt(this.target.vcpus.length)) return null;
    return Number(n) - 1;
  }

  private setThread(args: string): void {
    const op = args[0];
    const i = this.threadIndex(args.slice(1));
    if ((op !== 'g' && op !== 'c') || i === null) return this.reply('E01');
    if (op === 'g') this.thread = i;
    return this.reply('OK');
  }

  private async query(p: string): Promise<void> {
    if (p.startsWith('qSupported')) {
      const features = p.split(':')[1]?.split(';') ?? [];
      this.swbreak = features.includes('swbreak+');
      this.hwbreak = features.includes('hwbreak+');
      return this.reply(`PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+`);
    }
    const xfer = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    if (xfer) {
      if (xfer[1] !== 'target.xml') return this.reply('E00');
      const doc = Buffer.from(TARGET_XML);
      const off = parseInt(xfer[2], 16);
      const len = Math.min(parseInt(xfer[3], 16), MAX_PACKET - 16);
      const part = doc.subarray(off, off + len);
      return this.reply(Buffer.concat([Buffer.from(off + len >= doc.length ? 'l' : 'm'), part]));
    }
    if (p === 'qAttached') return this.reply('1');
    if (p === 'qC') return this.reply(`QC${(this.thread + 1).toString(16)}`);
    if (p === 'qfThreadInfo') return this.reply(`m${this.target.vcpus.map((_, i) => (i + 1).toString(16)).join(',')}`);
    if (p === 'qsThreadInfo') return this.reply('l');
    if (p.startsWith('qThreadExtraInfo,')) {
      const i = this.threadIndex(p.slice(17));
      return this.reply(i === null ? 'E01' : Buffer.from(`CPU#${i} [${this.running ? 'running' : 'halted'}]`).toString('hex'));
    }
    if (p.startsWith('qRcmd,')) {
      const cmd = fromHex(p.slice(6));
      if (cmd === null) return this.reply(E_INVAL);
      const out = await this.target.monitor.execute(Buffer.from(cmd).toString());
      return this.reply(out === '' ? 'OK' : Buffer.from(out).toString('hex'));
    }
    if (p === 'qSymbol::') return this.reply('OK');
    return this.reply('');
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** A failed request's reply: EFAULT for guest memory that is not there, EINVAL for refused values. */
function errorReply(err: unknown): string {
  if (err instanceof GuestMemoryError) return E_FAULT;
  if (err instanceof RegisterWriteError || err instanceof RangeError || err instanceof TypeError) return E_INVAL;
  if (err instanceof KvmError) return `E${hex2(Math.min(err.errno, 0xff))}`;
  return 'E01';
}
