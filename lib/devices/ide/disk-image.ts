// A raw disk image file as a drive's backend (QEMU's `format=raw` on the
// `file` protocol, block/file-posix.c): 512-byte sectors read and written with
// positioned fs calls. `snapshot: true` is QEMU's snapshot=on: writes go to an
// in-memory overlay and never reach the file. `readonly: true` opens the file
// read-only and refuses writes.
//
// Size: QEMU counts DIV_ROUND_UP(file size, 512) sectors (block.c,
// bdrv_refresh_total_sectors), so any size is accepted; the bytes of the last
// partial sector past the end of the file read as zeros, and writing that
// sector extends the file to a whole sector, as pwrite does under QEMU.
import * as fs from 'fs';
import { checkOptions, type OptionKeys } from '../../options';
import { strerror } from '../../util/errno';

export const SECTOR_SIZE = 512;

/** A disk image that cannot be opened, read or written; `code` is the errno name ('ENOENT', 'EROFS'). */
export class DiskImageError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'DiskImageError';
    this.code = code;
  }
}

export interface DiskImageOptions {
  /** Open the file read-only: writes are refused (DiskImageError EROFS). */
  readonly?: boolean;
  /** QEMU's snapshot=on: writes are kept in memory, the file is never written. */
  snapshot?: boolean;
}

const DISK_IMAGE_OPTIONS = { readonly: true, snapshot: true } as const satisfies OptionKeys<DiskImageOptions>;

/** strerror() texts QEMU prints for the open errors a user meets. */

export class DiskImage {
  readonly path: string;
  readonly readonly: boolean;
  readonly snapshot: boolean;
  /** Sectors the guest sees: the file size rounded up to whole sectors. */
  readonly sectorCount: number;
  private fd: number | null;
  /** snapshot=on: sector number → its current contents */
  private readonly overlay = new Map<number, Uint8Array>();

  /**
   * Opens `path`. A file that cannot be opened throws a DiskImageError with
   * QEMU's text: `Could not open 'x': No such file or directory`.
   */
  constructor(path: string, options?: DiskImageOptions) {
    const opts = checkOptions(options, DISK_IMAGE_OPTIONS, 'new DiskImage()');
    if (typeof path !== 'string' || path === '') throw new TypeError('DiskImage: path must be a non-empty string (the raw image file)');
    for (const key of ['readonly', 'snapshot'] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new TypeError(`DiskImage: ${key} must be a boolean`);
    }
    this.path = path;
    this.readonly = opts.readonly === true;
    this.snapshot = opts.snapshot === true;
    // snapshot=on never writes the file, so it needs only read access (QEMU opens the base read-only too)
    const flags = this.readonly || this.snapshot ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
    let fd: number;
    try {
      fd = fs.openSync(path, flags);
    } catch (e) {
      throw openError(path, e);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() && !st.isBlockDevice()) throw new DiskImageError(`Could not open '${path}': not a regular file or block device`, 'EINVAL');
      this.sectorCount = Math.ceil(st.size / SECTOR_SIZE);
    } catch (e) {
      fs.closeSync(fd);
      throw e instanceof DiskImageError ? e : openError(path, e);
    }
    this.fd = fd;
  }

  /** Reads `count` sectors from `sector` (both in range, else RangeError). */
  read(sector: number, count: number): Uint8Array {
    this.checkRange(sector, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    const fd = this.openFd();
    for (let i = 0; i < count; i++) {
      const own = this.overlay.get(sector + i);
      const dst = out.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE);
      if (own) dst.set(own);
      else fs.readSync(fd, dst, 0, SECTOR_SIZE, (sector + i) * SECTOR_SIZE); // short read past EOF leaves zeros
    }
    return out;
  }

  /** Writes whole sectors at `sector`: to the overlay with snapshot=on, else to the file. */
  write(sector: number, data: Uint8Array): void {
    if (!(data instanceof Uint8Array) || data.length % SECTOR_SIZE !== 0) {
      throw new TypeError(`DiskImage.write: data must be a Uint8Array of whole ${SECTOR_SIZE}-byte sectors`);
    }
    const count = data.length / SECTOR_SIZE;
    this.checkRange(sector, count);
    if (this.readonly) throw new DiskImageError(`'${this.path}' is read-only (opened with readonly): the write was refused`, 'EROFS');
    const fd = this.openFd();
    if (this.snapshot) {
      for (let i = 0; i < count; i++) this.overlay.set(sector + i, data.slice(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE));
      return;
    }
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, sector * SECTOR_SIZE + done);
  }

  /** FLUSH CACHE: the file's data reaches the disk (nothing to do with snapshot=on or read-only). */
  flush(): void {
    const fd = this.openFd();
    if (!this.readonly && !this.snapshot) fs.fdatasyncSync(fd);
  }

  /** Closes the file; the overlay of snapshot=on is dropped. Closing twice is harmless. */
  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
    this.overlay.clear();
  }

  private openFd(): number {
    if (this.fd === null) throw new DiskImageError(`'${this.path}' is closed`, 'EBADF');
    return this.fd;
  }

  private checkRange(sector: number, count: number): void {
    if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(count) || sector < 0 || count < 0 || sector + count > this.sectorCount) {
      throw new RangeError(`DiskImage: sectors [${String(sector)}, +${String(count)}) are outside '${this.path}' (${this.sectorCount} sectors)`);
    }
  }
}

function openError(path: string, e: unknown): DiskImageError {
  const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'EIO';
  return new DiskImageError(`Could not open '${path}': ${strerror(e)}`, code);
}
