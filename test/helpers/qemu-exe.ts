// node-kvm-qemu from its TypeScript source in a child process (the process's
// own streams, signals and exit status are what is tested), named
// "node-kvm-qemu" in its messages as the installed executable is.
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import { REGISTER_TS, ROOT } from './child';

const ENTRY = "require('./lib/qemu/node-kvm-qemu').nodeKvmQemu(process.argv.slice(1), 'node-kvm-qemu')";

export interface QemuExe {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit status once the process has ended. */
  exited: Promise<number | null>;
  /** Resolves when stdout contains `text` (rejects after `ms`). */
  waitFor(text: string, ms?: number): Promise<void>;
}

export function startQemuExe(args: string[]): QemuExe {
  const child = spawn(process.execPath, ['-r', REGISTER_TS, '-e', ENTRY, '--', ...args], { cwd: ROOT });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve(): void }[] = [];
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString('latin1');
    for (const w of waiters.splice(0)) {
      if (out.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child, exited,
    stdout: () => out,
    stderr: () => err,
    waitFor(text, ms = 60_000) {
      if (out.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no "${text}" on node-kvm-qemu's stdout in ${ms} ms; stdout ends ${JSON.stringify(out.slice(-500))}, stderr ${JSON.stringify(err.slice(-1000))}`)), ms);
        waiters.push({ text, resolve: () => { clearTimeout(t); resolve(); } });
      });
    },
  };
}

/** Runs node-kvm-qemu to its end: status, stdout and stderr. */
export async function runQemuExe(args: string[], ms = 90_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const exe = startQemuExe(args);
  const timer = setTimeout(() => exe.child.kill('SIGKILL'), ms);
  const status = await exe.exited;
  clearTimeout(timer);
  return { status, stdout: exe.stdout(), stderr: exe.stderr() };
}
