// Loads a flat binary (raw machine code, no headers) at a guest address.
import type { GuestWriter } from './modes';

export interface LoadedImage {
  /** Where execution starts. */
  entry: bigint;
  /** The guest-physical ranges written, [start, end). */
  segments: { start: bigint; end: bigint }[];
  format: 'flat' | 'elf32' | 'elf64';
}

export function loadFlat(image: Uint8Array, write: GuestWriter, address: bigint, entry: bigint = address): LoadedImage {
  if (!(image instanceof Uint8Array)) throw new TypeError('image must be a Uint8Array');
  if (typeof address !== 'bigint' || address < 0n) throw new TypeError('address must be a non-negative bigint');
  if (typeof entry !== 'bigint' || entry < 0n) throw new TypeError('entry must be a non-negative bigint');
  if (image.length === 0) throw new RangeError('the image is empty');
  write(address, image);
  return { entry, segments: [{ start: address, end: address + BigInt(image.length) }], format: 'flat' };
}
