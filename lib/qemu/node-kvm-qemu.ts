// The node-kvm-qemu executable: QEMU's command line (qemuMain) on the real
// process streams and signals, running the pc machine (runQemuCommand).
import * as path from 'path';
import { qemuMain } from './main';
import { runQemuCommand } from './qemu-run';
import { restoreLaunchEnvironment } from '../util/process-start';

/** Runs node-kvm-qemu with `argv` (without node and the script) and exits with QEMU's status. */
export async function nodeKvmQemu(argv: string[], argv0: string): Promise<never> {
  const progName = path.basename(argv0);
  // A reader that goes away (`node-kvm-qemu -h | head`) makes stdout writes
  // fail with EPIPE: QEMU ignores SIGPIPE and drops the bytes, and so do we.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') process.stderr.write(`${progName}: writing to stdout failed: ${e.message}\n`);
  });
  let status: number;
  try {
    status = await qemuMain(argv, {
      progName, stdout: process.stdout, stderr: process.stderr,
      launch: (cmd) => runQemuCommand(cmd, progName, { stdin: process.stdin, stdoutFd: 1, stderr: process.stderr, signals: process }),
    });
  } catch (err) {
    process.stderr.write(`${progName}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    status = 1;
  }
  // Let stdout/stderr drain (pipes), then exit: nothing else may keep the process alive.
  await new Promise<void>((r) => process.stdout.write('', () => r())); // called with the error too
  process.exit(status);
}

/** The executable's entry: this process's arguments (bin/node-kvm-qemu, and the startup snapshot's start). */
export function main(): Promise<never> {
  restoreLaunchEnvironment();
  return nodeKvmQemu(process.argv.slice(2), process.argv[1]);
}
