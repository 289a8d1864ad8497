// What readGuest(), writeGuest() and load() may touch: bytes that are RAM
// or ROM in the machine's memory map now (on the pc machine: RAM below and
// above 4 GiB, shadow RAM as PAM maps it, the BIOS), with messages that name
// the range asked for and the RAM there is.
import type { AddressSpace } from './memory/address-space';
import { toAddress } from './memory/size';
import { hex } from './util/hex';

/** 'start-end' of a guest range, as messages print it. */
export function rangeText(gpa: bigint, size: bigint): string {
  return `${hex(gpa)}-${hex(gpa + size)}`;
}

/** Whether every byte of [addr, addr+size) is RAM or ROM in `system`. */
function isRam(system: AddressSpace, addr: bigint, size: bigint): boolean {
  const end = addr + size;
  if (end > 1n << 64n) return false;
  for (let at = addr; at < end;) {
    const s = system.findSection(at, end - at);
    if (s === null || s.offsetWithinAddressSpace !== at || !s.mr.isRam) return false;
    at += s.size;
  }
  return true;
}

/** The RAM ranges of the memory map, for messages ('0-0x1000000', or several joined by ', '). */
function ramText(system: AddressSpace): string {
  const ranges: { start: bigint; end: bigint }[] = [];
  for (const fr of system.flatView()) {
    if (!fr.mr.isRam) continue;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last.end === fr.start) last.end = fr.end;
    else ranges.push({ start: fr.start, end: fr.end });
  }
  return ranges.map((r) => `${r.start === 0n ? '0' : hex(r.start)}-${hex(r.end)}`).join(', ');
}

/**
 * Normalises a guest address (bigint or safe integer) and checks that
 * [gpa, gpa+size) is guest RAM: an access (readGuest, writeGuest) or the
 * range an image needs (load, with the advice to give the machine more RAM).
 */
export function guestRamRange(system: AddressSpace, gpa: bigint | number, size: bigint, what: 'guest range' | 'image range'): bigint {
  const addr = toAddress(gpa, 'guest address');
  if (!isRam(system, addr, size)) {
    const ram = ramText(system);
    throw new RangeError(what === 'guest range'
      ? `guest range ${rangeText(addr, size)} is outside RAM (${ram})`
      : `image range ${rangeText(addr, size)} is outside guest RAM (${ram}); use a larger memory size`);
  }
  return addr;
}
