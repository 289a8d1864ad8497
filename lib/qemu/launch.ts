// What node-kvm-qemu does once its command line is parsed: build the pc
// machine, wire the character devices (stdio, files, the -nographic
// multiplexer), run the guest until it ends the way QEMU's would end, and
// return QEMU's exit status. The parsing is cmdline.ts's; this file knows
// nothing of option syntax.
import type { Readable, Writable } from 'stream';
import { Machine } from '../machine';
import type { PcDiskOptions } from '../machines/pc';
import type { RunResult } from '../kvm/run-loop';
import { currentThreadId, threadOf } from '../kvm/vcpu-thread';
import { openCharBackend, openFileBackend, type CharBackend, type CharBackendSpec } from './chardev';
import type { HmpTarget } from './hmp';
import type { GdbListen } from './gdb-options';
import type { LaunchGdb } from './gdb-launch';
import type { CharMux } from './mux';

/** A front end's back end: one of its own, or the shared stdio multiplexer (-nographic, mon:stdio). */
export type FrontEndSpec = CharBackendSpec | { kind: 'mux' };

/** The machine and its plumbing, as the command line asked for them. */
export interface LaunchConfig {
  /** The program name QEMU-style messages start with. */
  readonly progName: string;
  /** The board: 'pc', or 'microvm' (-M microvm: the kernel booted without firmware). */
  readonly machine?: 'pc' | 'microvm';
  readonly memory: bigint;
  readonly cpus: number;
  /** -smp maxcpus= */
  readonly maxCpus: number;
  /** -cpu (default qemu64). */
  readonly cpu?: string;
  readonly maxRamBelow4g?: bigint;
  readonly fwCfg?: readonly { name: string; data: Uint8Array | string }[];
  /** -kernel, -append, -initrd (a multiboot kernel SeaBIOS boots through node-kvm's option ROM). */
  readonly kernel?: string;
  readonly append?: string;
  readonly initrd?: string;
  /** -device pc-testdev / pci-testdev. */
  readonly devices?: readonly { driver: 'pc-testdev' | 'pci-testdev' }[];
  /** -bios (default: Debian's SeaBIOS). */
  readonly bios?: string;
  readonly disks: readonly PcDiskOptions[];
  readonly nographic: boolean;
  readonly noReboot: boolean;
  /** -no-shutdown: an ACPI power-off pauses the guest instead of ending the process. */
  readonly noShutdown: boolean;
  readonly bootOrder?: string;
  readonly rebootTimeout?: number;
  /** COM1, or null for -serial none. */
  readonly serial: FrontEndSpec | null;
  readonly debugcon: { readonly iobase: number; readonly chardev: FrontEndSpec } | null;
  readonly debugExit: { readonly iobase: number } | null;
  /** -S: do not start the CPU (the monitor's `cont` does). */
  readonly startStopped: boolean;
  /** -gdb tcp:HOST:PORT (-s): the GDB stub's address, or null. */
  readonly gdb?: GdbListen | null;
  /** -trace enable=kvm_set_user_memory[,file=]: where the lines go (null: stderr), or undefined for off. */
  readonly traceSlotsFile?: string | null;
  /** The HMP monitor's front end, or null (-monitor none). */
  readonly monitor: FrontEndSpec | null;
}

/** The process's standard streams (parameters, so tests can run a launch in-process). */
export interface LaunchIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  readonly stdoutFd: number;
  readonly stderr: Writable;
  /** Signals that end the process as QEMU's do ("terminating on signal N"). */
  readonly signals?: NodeJS.EventEmitter;
}

const SIGNALS: readonly [NodeJS.Signals, number][] = [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]];

/**
 * Builds and runs the machine; resolves with QEMU's exit status: the
 * isa-debug-exit code ((value << 1) | 1), 0 when the guest powers off, or
 * resets or triple-faults under -no-reboot, or when the user quits (monitor
 * `quit`, Ctrl-A x, SIGINT/SIGTERM/SIGHUP); 1 when the guest hits what KVM
 * cannot run (QEMU would pause there; the message says what happened).
 */
export async function launch(cfg: LaunchConfig, io: LaunchIo, hooks: { onWarning?(text: string): void } = {}): Promise<number> {
  const opened: { close(): void }[] = [];
  let mux: CharMux | null = null;
  let exitStatus: number | null = null;
  let machine: Machine | null = null;
  const quit = (status: number) => {
    if (exitStatus === null) exitStatus = status;
    machine?.stop('quit');
    wake();
  };
  let paused = cfg.startStopped;
  /** Never ran yet (-S): QEMU's "prelaunch" state. */
  let prelaunch = cfg.startStopped;
  /** The monitor's system_reset, done once the run in progress has stopped. */
  let resetPending = false;
  let wake: () => void = () => {};
  let gdb: LaunchGdb | null = null;
  const stdio = { stdin: io.stdin, stdoutFd: io.stdoutFd };
  const usesMux = [cfg.serial, cfg.monitor, cfg.debugcon?.chardev].some((s) => s?.kind === 'mux');
  const usesStdin = usesMux || cfg.serial?.kind === 'stdio';
  const raw = usesStdin && io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  const onSignal = new Map<NodeJS.Signals, () => void>();
  try {
    if (raw) io.stdin.setRawMode!(true);
    // In raw mode the terminal sends Ctrl-C as a byte; QEMU's stdio keeps it a signal (signal=on).
    const stdin = raw ? interceptCtrlC(io.stdin, () => terminate(2)) : io.stdin;
    const stdout = openCharBackend({ kind: 'stdio' }, { ...stdio, stdin });
    opened.push(stdout);
    if (usesMux) {
      const { CharMux } = await import('./mux'); // loaded only when used, as the monitor is
      mux = new CharMux({ input: stdin, output: stdout.output!, monitor: cfg.monitor?.kind === 'mux', onExit: () => quit(0) });
      opened.push(mux);
    }
    const backend = (spec: FrontEndSpec): CharBackend => {
      if (spec.kind === 'mux') return { output: stdout.output, input: mux!.serialInput, close() { /* the mux's */ } };
      if (spec.kind === 'stdio') return { output: stdout.output, input: stdin, close() { /* shared */ } };
      const b = openCharBackend(spec, { ...stdio, stdin });
      opened.push(b);
      return b;
    };
    const serial = cfg.serial === null ? null : backend(cfg.serial);
    const debugcon = cfg.debugcon === null ? null : backend(cfg.debugcon.chardev);
    const trace = traceWriter(cfg.traceSlotsFile, io.stderr, opened);

    const common = {
      memory: cfg.memory, cpus: cfg.cpus, cpu: cfg.cpu, kernel: cfg.kernel, append: cfg.append, initrd: cfg.initrd, noReboot: cfg.noReboot,
      serial: serial === null ? false as const : { output: serial.output, input: serial.input },
      debugcon: debugcon === null || debugcon.output === null ? false as const : { output: debugcon.output, iobase: cfg.debugcon!.iobase },
      debugExit: cfg.debugExit === null ? false as const : { port: cfg.debugExit.iobase },
      ...(trace ? { traceSlots: trace } : {}),
    };
    machine = Machine.createSync(cfg.machine === 'microvm' ? { machine: 'microvm', ...common } : {
      machine: 'pc', ...common, maxCpus: cfg.maxCpus, bios: cfg.bios, disks: [...cfg.disks], maxRamBelow4g: cfg.maxRamBelow4g, fwCfg: cfg.fwCfg,
      devices: cfg.devices, nographic: cfg.nographic, bootOrder: cfg.bootOrder, rebootTimeout: cfg.rebootTimeout,
    });
    const m = machine;
    opened.push({ close: () => m.close() });
    for (const w of m.warnings) hooks.onWarning?.(w);

    const terminate = (n: number) => {
      io.stderr.write(`${cfg.progName}: terminating on signal ${n}\n`);
      quit(0);
    };
    for (const [sig, n] of SIGNALS) {
      const h = () => terminate(n);
      onSignal.set(sig, h);
      io.signals?.on(sig, h);
    }
    const hmpTarget: HmpTarget = {
      mtree: (o) => m.mtree(o),
      formatRamBlocks: () => m.formatRamBlocks(),
      infoPci: () => m.formatInfoPci(),
      cpuCount: () => m.vcpus.length,
      // One vCPU runs KVM_RUN on this (the JavaScript) thread; several on their own threads.
      cpuThreadIds: () => (m.vcpus.length === 1 ? [currentThreadId()] : m.vcpus.map((v) => threadOf(v)?.threadId ?? 0)),
      infoRegisters: (i) => m.formatInfoRegisters(i),
      runState: () => (prelaunch ? 'prelaunch' : paused ? 'paused' : 'running'),
      stop: () => { paused = true; m.stop('monitor: stop'); },
      cont: () => { paused = false; prelaunch = false; wake(); },
      systemReset: () => {
        resetPending = true;
        m.stop('monitor: system_reset');
        wake();
      },
      quit: () => quit(0),
    };
    if (cfg.monitor !== null) {
      const mon = cfg.monitor.kind === 'mux' ? { input: mux!.monitorInput, output: stdout.output! } : (() => {
        const b = backend(cfg.monitor!);
        return { input: b.input ?? stdin, output: b.output ?? stdout.output! };
      })();
      const { HmpMonitor } = await import('./hmp'); // the monitor and readline load only for -monitor
      const monitor = new HmpMonitor(hmpTarget, mon);
      opened.push(monitor); // closed before the streams it writes to (opened is closed in reverse)
      void monitor.run().catch((e) => io.stderr.write(`${cfg.progName}: monitor: ${(e as Error).message}\n`));
    }
    if (cfg.gdb) {
      const { LaunchGdb } = await import('./gdb-launch'); // the stub loads only for -s / -gdb
      const g = new LaunchGdb(m, { paused: () => paused, pause: () => { paused = true; }, cont: hmpTarget.cont, quit });
      await g.listen(cfg.gdb, hmpTarget);
      opened.push({ close: () => void g.close() });
      gdb = g;
    }

    while (exitStatus === null) {
      if (resetPending) {
        resetPending = false;
        m.systemReset();
      }
      if (paused) {
        // Paused (-S, the monitor's stop): wait for cont or quit. The timer keeps
        // Node's event loop alive meanwhile, as QEMU waits (nothing else may be
        // pending: -S with -monitor none waits until a signal).
        const keepAlive = setInterval(() => {}, 1 << 30);
        try {
          await new Promise<void>((r) => { wake = r; });
        } finally {
          clearInterval(keepAlive);
        }
        continue;
      }
      prelaunch = false;
      gdb?.beforeRun();
      const r = await m.run(gdb?.runOptions());
      if (gdb?.afterRun(r)) {
        paused = true;
        continue;
      }
      const status = exitStatusOf(r, cfg, io.stderr);
      if (exitStatus !== null) break;
      if (status === 'pause') paused = true;
      else if (status !== 'run') exitStatus = status;
    }
    await gdb?.close(); // the stop reply (W) reaches gdb before the process ends
    return exitStatus;
  } finally {
    for (const [sig, h] of onSignal) io.signals?.off(sig, h);
    for (const o of opened.reverse()) {
      try { o.close(); } catch { /* closing the rest matters more */ }
    }
    if (raw) io.stdin.setRawMode!(false);
  }

  function interceptCtrlC(input: Readable, onCtrlC: () => void): Readable {
    input.on('data', (b: Buffer) => { if (b.includes(0x03)) onCtrlC(); });
    return input;
  }
}

/** What a finished run means: QEMU's exit status, 'pause' (the guest waits for the monitor), or 'run' on. */
function exitStatusOf(r: RunResult, cfg: LaunchConfig, stderr: Writable): number | 'pause' | 'run' {
  switch (r.reason) {
    case 'debugExit': return r.exitCode!;
    case 'reset': case 'shutdown': case 'exception': return 0; // only returned under -no-reboot (a triple fault)
    case 'poweroff': return cfg.noShutdown ? 'pause' : 0;
    case 'stopped': return 'run'; // the monitor's stop, or quit: the loop looks at its state
    case 'hlt': case 'timeout': case 'maxExits': return 'run';
    case 'suspend': return 'run'; // the monitor stopped a sleeping guest's run: the loop looks at its state
    default:
      stderr.write(`${cfg.progName}: ${r.message}\n`);
      return 1;
  }
}

/** -trace enable=kvm_set_user_memory: a line writer to the file, or stderr (null); undefined when off. */
function traceWriter(file: string | null | undefined, stderr: Writable, opened: { close(): void }[]): ((line: string) => void) | undefined {
  if (file === undefined) return undefined;
  if (file === null) return (line) => stderr.write(`${line}\n`);
  const b = openFileBackend(file, false);
  opened.push(b);
  return (line) => b.output!.write(`${line}\n`);
}
