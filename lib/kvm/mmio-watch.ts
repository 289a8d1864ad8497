// What the run loop tells memory hooks about a guest access that exited as
// MMIO (lib/machine-memory-hooks.ts decides which accesses are watched; the
// listener keeps the watched RAM pages out of KVM's slots so they do exit).
import type { AddressSpace } from '../memory/address-space';

/** One guest access the run loop performed for a watch. */
export interface WatchedAccess {
  /** guest-physical address of the first byte */
  address: bigint;
  /** bytes accessed (1..8: KVM splits wider and page-crossing accesses) */
  size: number;
  isWrite: boolean;
  /** the bytes read, or the bytes written, little-endian */
  value: bigint;
  /** for a write to RAM or ROM: the bytes there before it (undefined for device memory, whose reads have effects) */
  oldValue?: bigint;
  /**
   * the guest RIP as KVM leaves it at the exit: for a read, the accessing
   * instruction's; for a write, the next instruction's (KVM completes the
   * instruction before it hands out the data, as a data breakpoint traps
   * after it), except inside a rep string instruction, which stays at itself
   */
  rip: bigint;
  /** the vCPU's id */
  vcpu: number;
}

/** Which MMIO exits a run loop reports, and to whom. */
export interface MmioWatch {
  /** Does this access touch a watched byte?  (Called on every MMIO exit: must not allocate.) */
  touches(address: bigint, size: number, isWrite: boolean): boolean;
  /** The access was performed; a throw ends the run like a device's. */
  report(access: WatchedAccess): void;
}

/** `bytes` as a little-endian unsigned value. */
export function littleEndianValue(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let k = bytes.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[k]);
  return v;
}

/**
 * The guest RAM bytes at [address, address+size) before a write, read
 * through the model; undefined unless the whole access is RAM-backed memory
 * whose reads have no effect (RAM, ROM, a ROM device in romd mode).
 */
export function ramValueBefore(memory: AddressSpace, address: bigint, size: number): bigint | undefined {
  const s = memory.findSection(address, BigInt(size));
  if (s === null || s.size !== BigInt(size)) return undefined;
  if (!(s.mr.isRam || (s.mr.isRomDevice && s.mr.romdMode)) || s.mr.ramBlock === null) return undefined;
  const buf = new Uint8Array(size);
  memory.rw(address, buf, false);
  return littleEndianValue(buf);
}
