// The character-device back ends node-kvm-qemu offers for -serial, -chardev,
// -monitor and isa-debugcon (QEMU's chardev/char-stdio.c, char-file.c,
// char-null.c): where a front end's bytes go and where its input comes from.
// File output is written synchronously, so nothing a guest printed is lost
// when the process exits (QEMU writes each byte as it comes too).
import * as fs from 'fs';
import { type Readable, Writable } from 'stream';
import { strerror } from '../util/errno';

/** Something to Atomics.wait() on: a sleep that blocks the thread, as a blocking write would
 * (made on first use: a startup snapshot's builder has no SharedArrayBuffer). */
let pause: Int32Array | undefined;

/** A back end, as the command line names it. */
export type CharBackendSpec =
  | { kind: 'stdio' }
  | { kind: 'file'; path: string; append?: boolean }
  | { kind: 'null' };

export interface CharBackend {
  /** Where the front end's output goes (null: dropped). */
  readonly output: Writable | null;
  /** What the front end reads (null: nothing arrives). */
  readonly input: Readable | null;
  close(): void;
}

/**
 * A Writable that writes each chunk at once with fs.writeSync (no bytes wait
 * in a queue at exit). A write that fails drops its bytes and the ones after
 * it, as QEMU's chardev does (QEMU ignores SIGPIPE): a reader that goes away
 * (`node-kvm-qemu ... | head`) must not end the guest. Only EPIPE is expected
 * and quiet; any other failure (ENOSPC, EIO) is said once on stderr. A full
 * non-blocking stdout (EAGAIN: Node makes a pipe or socket stdout non-blocking
 * once process.stdout is touched, and a reader that lags a few hundred
 * one-byte writes fills a socket) is waited for, as QEMU waits for its
 * chardev: the guest stalls, its output is not lost.
 */
function syncWriter(fd: number, closeFd: boolean, name: string): Writable & { closeFd(): void } {
  let broken = false;
  const w = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!broken) {
        try {
          let off = 0;
          while (off < chunk.length) {
            try {
              off += fs.writeSync(fd, chunk, off, chunk.length - off);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
              Atomics.wait((pause ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, 1); // 1 ms, then try again
            }
          }
        } catch (e) {
          broken = true;
          if ((e as NodeJS.ErrnoException).code !== 'EPIPE') process.stderr.write(`node-kvm-qemu: writing to ${name} failed (${strerror(e)}): its further output is dropped\n`);
        }
      }
      done();
    },
  });
  return Object.assign(w, { closeFd: () => { if (closeFd) fs.closeSync(fd); } });
}

/**
 * Opens `spec` (a file is created or truncated as QEMU's file back end does,
 * or appended to with append=on). Throws QEMU's "Could not open 'PATH': ..."
 * for a file that cannot be opened.
 */
export function openCharBackend(spec: CharBackendSpec, stdio: { stdin: Readable; stdoutFd: number }): CharBackend {
  if (spec.kind === 'null') return { output: null, input: null, close() { /* nothing open */ } };
  if (spec.kind === 'stdio') {
    const out = syncWriter(stdio.stdoutFd, false, 'stdout');
    return { output: out, input: stdio.stdin, close() { out.end(); } };
  }
  return openFileBackend(spec.path, spec.append ?? false);
}

/** A file back end: `path` created or truncated (or appended to), written synchronously. */
export function openFileBackend(path: string, append: boolean): CharBackend {
  let fd: number;
  try {
    fd = fs.openSync(path, append ? 'a' : 'w');
  } catch (e) {
    throw new Error(`Could not open '${path}': ${strerror(e)}`);
  }
  const out = syncWriter(fd, true, `'${path}'`);
  return { output: out, input: null, close() { out.end(); out.closeFd(); } };
}
