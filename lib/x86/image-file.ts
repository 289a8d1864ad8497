// Reading a guest image from a file: only a regular file, and only one that
// fits the guest's RAM, is read — checked on the open file before a byte is
// read, so `/dev/zero`, a FIFO or a huge file cannot exhaust the host.
import * as fs from 'fs';

/**
 * The bytes of `file`, which must be a regular file of at most `ramBytes`
 * bytes. Opened non-blocking, so a FIFO without a writer does not hang the
 * open itself. `advice` ends the too-large message (e.g. how to get more RAM).
 */
export function readImageFile(file: string, ramBytes: bigint, advice: string): Uint8Array {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new TypeError(`${file} is ${kind}: a guest image must be a regular file (a flat binary or an ELF)`);
    }
    if (BigInt(st.size) > ramBytes) {
      throw new RangeError(`${file} is ${st.size} bytes, larger than the guest's ${ramBytes} bytes of RAM: ${advice}`);
    }
    const bytes = new Uint8Array(st.size);
    let done = 0;
    while (done < bytes.length) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, done);
      if (n === 0) break; // the file shrank since fstat: load what is there
      done += n;
    }
    return bytes.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}
