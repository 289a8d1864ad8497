// Loads a flat binary (raw machine code, no headers) at a guest address.
import { toAddress } from '../memory/size';
import type { GuestWriter } from './modes';

export interface LoadedImage {
  /** Where execution starts. */
  entry: bigint;
  /** The guest-physical ranges written, [start, end). */
  segments: { start: bigint; end: bigint }[];
  format: 'flat' | 'elf32' | 'elf64';
}

/** Writes `image` at `address` (a bigint or a safe integer, like every guest address). */
export function loadFlat(image: Uint8Array, write: GuestWriter, address: bigint | number, entry: bigint | number = address): LoadedImage {
  if (!(image instanceof Uint8Array)) throw new TypeError('image must be a Uint8Array');
  const at = toAddress(address, 'address');
  const start = toAddress(entry, 'entry');
  if (image.length === 0) throw new RangeError('the image is empty');
  write(at, image);
  return { entry: start, segments: [{ start: at, end: at + BigInt(image.length) }], format: 'flat' };
}
