// The GDB remote stub's TCP side (QEMU's -gdb tcp:HOST:PORT): one client at
// a time (a second is refused, as QEMU's chardev takes one connection),
// the guest stopped while gdb attaches, and a run control that starts and
// stops the guest. Machine.gdbServer() uses the machine's own control;
// node-kvm-qemu gives one that goes through its run loop and monitor.
import { EventEmitter } from 'events';
import * as net from 'net';
import { PassThrough } from 'stream';
import type { DebugEngine, DebugRunOptions, DebugRunResult } from '../debug/debug-engine';
import type { Vcpu } from '../kvm/vcpu';
import { HmpMonitor, type HmpTarget } from '../qemu/hmp';
import { checkOptions } from '../options';
import { GdbSession, type SessionControl } from './gdb-session';
import { GUEST_ENDED } from './guest-ended';
import { GdbWatchpoints, type WatchHost } from './gdb-watchpoints';

/** Machine.gdbServer(): a listening server. */
export async function startGdbServer(machine: GdbMachine, options?: GdbServerOptions): Promise<GdbServer> {
  const server = new GdbServer(machine, options);
  await server.listen();
  return server;
}

/** How the stub starts and stops the guest. */
export interface GdbRunControl extends SessionControl {
  /** A client attaches: stop the guest; resolves once it is stopped, true when it was running. */
  halt(): Promise<boolean>;
}

export interface GdbServerOptions {
  /** TCP port (default 1234, QEMU's -s; 0 picks a free one). */
  port?: number;
  /** Address to listen on (default 127.0.0.1; QEMU's tcp::PORT listens on all: pass '0.0.0.0'). */
  host?: string;
  /** @internal who runs the guest (default: the machine itself) */
  control?: GdbRunControl;
  /** @internal the monitor's view of the machine for gdb's `monitor` command (default: the machine's) */
  monitor?: HmpTarget;
}

/** What the stub needs of a Machine (type-only, so lib/gdb does not import machine.ts). */
export interface GdbMachine extends WatchHost {
  readonly vcpus: readonly Vcpu[];
  readonly debug: DebugEngine;
  run(options?: DebugRunOptions): Promise<DebugRunResult>;
  stop(message?: string): void;
  mtree(options?: { flat?: boolean; disabled?: boolean }): string;
  formatRamBlocks(): string;
  formatInfoPci(): string;
  formatInfoRegisters(cpu?: number): string;
}

const OPTIONS = { port: true, host: true, control: true, monitor: true } as const;

/**
 * Events: 'kill' (gdb's `k`: the caller ends the guest), 'exit' (the guest
 * ended during a run gdb asked for: its RunResult), 'run' (a run after gdb
 * detached ended: its RunResult), 'error'.
 */
export class GdbServer extends EventEmitter {
  private readonly server = net.createServer();
  private session: { socket: net.Socket; session: GdbSession } | null = null;
  private readonly control: GdbRunControl;
  private readonly monitorTarget: HmpTarget;
  private readonly requestedPort: number;
  private readonly host: string;

  constructor(private readonly machine: GdbMachine, options?: GdbServerOptions) {
    super();
    const opts = checkOptions(options, OPTIONS, 'machine.gdbServer()');
    const port = opts.port ?? 1234;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`gdbServer(): port must be an integer in [0, 65535], got ${String(port)}`);
    if (opts.host !== undefined && typeof opts.host !== 'string') throw new TypeError('gdbServer(): host must be a string');
    this.requestedPort = port;
    this.host = opts.host ?? '127.0.0.1';
    this.control = opts.control ?? new MachineRunControl(machine, this);
    this.monitorTarget = opts.monitor ?? machineMonitor(machine);
    this.server.on('connection', (s) => this.accept(s));
    this.server.on('error', (e) => this.emit('error', e));
  }

  /** Starts listening; rejects (EADDRINUSE, EACCES) with Node's error, naming the address. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (e: Error) => reject(new Error(`gdbstub: cannot listen on tcp:${this.host}:${this.requestedPort}: ${e.message}`));
      this.server.once('error', fail);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', fail);
        resolve();
      });
    });
  }

  /** The port listened on. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : this.requestedPort;
  }

  /** True while a gdb is attached. */
  get attached(): boolean {
    return this.session !== null;
  }

  /**
   * Stops listening and lets the client go after its last reply has gone out
   * (a W after the guest exited); gdb's breakpoints go, the guest is left as it is.
   */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // a reply being made now goes first
    const client = this.session;
    this.session = null;
    client?.session.end();
    const closed = client === null || client.socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => {
      const t = setTimeout(() => { client.socket.destroy(); resolve(); }, 1000);
      client.socket.once('close', () => { clearTimeout(t); resolve(); });
      client.socket.end();
    });
    await Promise.all([closed, new Promise<void>((resolve) => this.server.close(() => resolve()))]);
  }

  private accept(socket: net.Socket): void {
    if (this.session !== null) {
      socket.destroy(); // one debugger at a time
      return;
    }
    socket.setNoDelay(true);
    socket.pause();
    const monitor = new HmpMonitor(this.monitorTarget, { input: new PassThrough(), output: new PassThrough(), echo: false });
    const watchpoints = new GdbWatchpoints(this.machine, this.machine.debug.memory);
    const session = new GdbSession(socket, { vcpus: this.machine.vcpus, debug: this.machine.debug, monitor, watchpoints }, this.control);
    this.session = { socket, session };
    const gone = () => {
      if (this.session?.socket !== socket) return;
      this.session = null;
      session.end();
    };
    socket.on('close', gone);
    socket.on('error', gone);
    // QEMU stops the VM when gdb connects (gdb_chr_event); packets wait until it has.
    this.control.halt().then((wasRunning) => {
      session.runOnAtEnd = wasRunning;
      socket.resume();
    }, (e) => { this.emit('error', e); socket.destroy(); });
  }
}

/** Machine.gdbServer()'s control: the machine runs only when gdb says so (or on its own after gdb left). */
class MachineRunControl implements GdbRunControl {
  private freeRun: Promise<unknown> | null = null;

  constructor(private readonly machine: GdbMachine, private readonly events: EventEmitter) {}

  async halt(): Promise<boolean> {
    if (this.freeRun === null) return false;
    this.machine.stop('gdb: attach');
    await this.freeRun;
    return true;
  }

  async resume(opts: { count?: number }): Promise<DebugRunResult> {
    const r = await this.machine.run(opts);
    if (GUEST_ENDED.has(r.reason)) this.events.emit('exit', r);
    return r;
  }

  interrupt(): void {
    this.machine.stop('gdb: interrupt');
  }

  detach(): void {
    const run = this.machine.run().then((r) => { this.events.emit('run', r); }, (e) => { this.events.emit('error', e); });
    this.freeRun = run.finally(() => { if (this.freeRun === run) this.freeRun = null; });
  }

  kill(): void {
    this.events.emit('kill');
  }
}

/** The monitor commands gdb's `monitor` reaches on a machine with no QEMU front end: the machine stays gdb's to run. */
function machineMonitor(m: GdbMachine): HmpTarget {
  const gdbOwns = (): never => { throw new Error('the guest is under gdb: use gdb\'s continue, Ctrl-C or kill'); };
  return {
    mtree: (o) => m.mtree(o),
    formatRamBlocks: () => m.formatRamBlocks(),
    infoPci: () => m.formatInfoPci(),
    cpuCount: () => m.vcpus.length,
    infoRegisters: (i) => m.formatInfoRegisters(i),
    runState: () => 'debug',
    stop: gdbOwns,
    cont: gdbOwns,
    systemReset: gdbOwns,
    quit: gdbOwns,
  };
}
