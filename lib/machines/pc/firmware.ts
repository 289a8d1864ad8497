// The pc machine's firmware image: Debian's SeaBIOS by default, or a file or
// bytes the user gives. Read once, before anything is opened, so a missing
// or malformed image fails Machine.create() with QEMU's message plus what to
// do, and nothing is left behind.
import { strerror } from '../../util/errno';
import { readImageFile } from '../../x86/image-file';
import { checkBiosImage, MAX_BIOS_SIZE } from './memory-map';

/** The firmware image could not be loaded; `code` is the errno name of a failed open (ENOENT, ...) or EINVAL. */
export class FirmwareError extends Error {
  /**
   * `file` the image, `reason` why it failed, `advice` what to do; the
   * message is QEMU's "could not load PC BIOS '<file>'" with both.
   */
  constructor(readonly file: string, readonly reason: string, readonly advice: string, readonly code: string) {
    super(`could not load PC BIOS '${file}': ${reason}; ${advice}`);
    this.name = 'FirmwareError';
  }
}

/** Where Debian's package `seabios` installs the 256 KiB image QEMU's pc machine loads. */
export const SEABIOS_PATH = '/usr/share/seabios/bios-256k.bin';

/** What a failed load says besides QEMU's words: how to get the image. */
function advice(file: string): string {
  return file === SEABIOS_PATH
    ? "install Debian's package seabios (apt-get install seabios), or give another image with bios: / -bios"
    : 'give a SeaBIOS-style image (a multiple of 64 KiB) with bios: / -bios, or leave it out to use Debian\'s SeaBIOS';
}

/**
 * The firmware bytes: `source` itself, or the file it names, checked like
 * x86_bios_rom_init (hw/i386/x86.c) does: non-empty, a multiple of 64 KiB.
 * Errors (FirmwareError) are QEMU's "could not load PC BIOS '<file>'" with
 * the reason and what to do; bytes that are no image are a RangeError.
 */
export function readFirmware(source: string | Uint8Array): Uint8Array {
  if (source instanceof Uint8Array) {
    checkBiosImage(source);
    return source;
  }
  if (typeof source !== 'string' || source === '') throw new TypeError('bios must be a file name or a Uint8Array holding the firmware image');
  let bytes: Uint8Array;
  try {
    bytes = readImageFile(source, MAX_BIOS_SIZE, 'a PC BIOS is mapped below 4 GiB');
  } catch (e) {
    throw new FirmwareError(source, strerror(e), advice(source), (e as NodeJS.ErrnoException).code ?? 'EINVAL');
  }
  try {
    checkBiosImage(bytes);
  } catch (e) {
    throw new FirmwareError(source, (e as Error).message, advice(source), 'EINVAL');
  }
  return bytes;
}
