/**
 * Host-side accesses (QEMU flatview_read_continue / flatview_write_continue,
 * memory_access_size, memory_region_access_valid, access_with_adjusted_size,
 * adjust_endianness).
 *
 * The first byte of each chunk decides the region: only RAM chunks are
 * clamped to the end of their FlatRange; MMIO accesses are passed on whole
 * (bounded only by the access-size rules), even if they run past the region.
 * Gaps behave like QEMU's global `unassigned` section: DECODE_ERROR, reads 0.
 *
 * The RAM path copies in place (no allocation for small accesses, which is
 * what vCPU MMIO exits produce).
 */
import type { FlatView } from './flat-view';
import type { MemoryRegion } from './region';
import { aliasTarget } from './region-links';
import { UNASSIGNED_MEM_OPS } from './unassigned-ops';
import { TWO_64 } from './size';
import { MemTxResult, type MemoryRegionOps } from './types';
import { hex } from '../util/hex';

const MASKS: bigint[] = [0n, 0xffn, 0xffffn, 0xffffffn, 0xffffffffn, 0xffffffffffn, 0xffffffffffffn, 0xffffffffffffffn, 0xffffffffffffffffn];
const U64 = 0xffffffffffffffffn;

// The dispatch path of a vCPU exit: every bigint operation makes a new heap
// object, and every conversion between a bigint and a Number is a call into
// V8's runtime (not inlined here, Node 20). So values of up to 6 bytes are
// packed from and into bytes as one Number (one conversion, not one per
// byte), and the steps that change nothing (a mask over a value already
// inside it, an offset of 0) make no new bigint. A port write took 140 ns,
// now 112 (a 4-byte read at an odd offset 280 -> 185).
/** Values below this (6 bytes) are exact as Numbers. */
const EXACT_VALUE = 1n << 48n;
/** Byte counts up to this are packed into a Number value. */
const NUMBER_BYTES = 6;

/** buf[pos..pos+size) as a little-endian value */
function bytesToValue(buf: Uint8Array, pos: number, size: number): bigint {
  if (size <= NUMBER_BYTES) {
    let n = 0;
    for (let k = size - 1; k >= 0; k--) n = n * 256 + buf[pos + k];
    return BigInt(n);
  }
  let v = 0n;
  for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(buf[pos + k]);
  return v;
}

/** the low `size` bytes of v into buf[pos..pos+size), little-endian */
function valueToBytes(v: bigint, buf: Uint8Array, pos: number, size: number): void {
  if (v < EXACT_VALUE) {
    let n = Number(v);
    for (let k = 0; k < size; k++) {
      buf[pos + k] = n % 256;
      n = Math.floor(n / 256);
    }
    return;
  }
  for (let k = 0; k < size; k++) {
    buf[pos + k] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function pow2floor(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** memory_access_size(): how many bytes one dispatch may take at `addr` */
export function memoryAccessSize(ops: MemoryRegionOps, l: number, addr: bigint): number {
  let max = ops.valid?.maxAccessSize || 4;
  if (!ops.impl?.unaligned) {
    // lowest set bit of addr bounds the size (addr 0: no bound)
    const low = addr & -addr;
    if (low !== 0n && low < BigInt(max)) max = Number(low);
  }
  if (l > max) l = max;
  return pow2floor(l);
}

/** memory_region_access_valid() */
export function accessValid(ops: MemoryRegionOps, addr: bigint, size: number, isWrite: boolean): boolean {
  const v = ops.valid;
  if (v?.accepts && !v.accepts(addr, size, isWrite)) return false;
  if (!v?.unaligned && (addr & BigInt(size - 1)) !== 0n) return false;
  const max = v?.maxAccessSize || 0;
  if (max === 0) return true; // QEMU: zero max = every size valid (min ignored)
  if (size > max || size < (v?.minAccessSize || 0)) return false;
  return true;
}

function bswap(v: bigint, size: number): bigint {
  let r = 0n;
  for (let i = 0; i < size; i++) {
    r = (r << 8n) | (v & 0xffn);
    v >>= 8n;
  }
  return r;
}

/**
 * A read callback's value as QEMU's uint64_t: anything a C 64-bit return
 * could hold (negative values wrap, so `return -1` is all-ones). Values
 * beyond 64 bits, or numbers beyond 2^53 that have already lost precision,
 * are device bugs: refused rather than silently truncated.  (Not
 * lib/util's toU64: a device value may be negative, an argument may not.)
 */
function readValueU64(v: number | bigint, mr: MemoryRegion): bigint {
  if (typeof v === 'bigint') {
    if (v >= -(1n << 63n) && v < TWO_64) return BigInt.asUintN(64, v);
    throw new RangeError(`read callback of region "${mr.name}" returned ${hex(v)}, which does not fit in 64 bits`);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v >= 0 ? BigInt(v) : BigInt.asUintN(64, BigInt(v));
  if (typeof v === 'number' && Number.isInteger(v)) {
    throw new RangeError(`read callback of region "${mr.name}" returned ${v}, beyond 2^53 where numbers lose precision; return a bigint`);
  }
  throw new TypeError(`read callback of region "${mr.name}" returned ${String(v)}; it must return an integer number or a bigint`);
}

/** access_with_adjusted_size() for a read; returns the combined value */
function readAdjusted(mr: MemoryRegion, ops: MemoryRegionOps, addr: bigint, size: number): bigint {
  const implMin = ops.impl?.minAccessSize || 1;
  const implMax = ops.impl?.maxAccessSize || 4;
  const a = Math.max(Math.min(size, implMax), implMin);
  const mask = MASKS[a];
  const big = ops.endianness === 'big';
  const read = ops.read;
  let value = 0n;
  for (let i = 0; i < size; i += a) {
    const shift = big ? (size - a - i) * 8 : i * 8;
    let tmp = read ? readValueU64(read.call(ops, i === 0 ? addr : addr + BigInt(i), a), mr) : 0n;
    if (tmp > mask) tmp &= mask;
    if (shift !== 0) tmp = shift > 0 ? tmp << BigInt(shift) : tmp >> BigInt(-shift);
    value = value === 0n ? tmp : value | tmp;
  }
  return value > U64 ? value & U64 : value;
}

/** access_with_adjusted_size() for a write */
function writeAdjusted(ops: MemoryRegionOps, addr: bigint, size: number, value: bigint): void {
  const implMin = ops.impl?.minAccessSize || 1;
  const implMax = ops.impl?.maxAccessSize || 4;
  const a = Math.max(Math.min(size, implMax), implMin);
  const mask = MASKS[a];
  const big = ops.endianness === 'big';
  const write = ops.write;
  for (let i = 0; i < size; i += a) {
    const shift = big ? (size - a - i) * 8 : i * 8;
    let tmp = shift === 0 ? value : shift > 0 ? value >> BigInt(shift) : value << BigInt(-shift);
    if (tmp > mask) tmp &= mask;
    if (write) write.call(ops, i === 0 ? addr : addr + BigInt(i), tmp, a);
  }
}

/**
 * memory_region_dispatch_read/write for one chunk of `size` bytes at region
 * offset `addr`, with the value in buf[pos..pos+size) in host (little-endian)
 * order.  Exported for callers that hold a region rather than an address.
 */
export function dispatchMmio(mr: MemoryRegion, addr: bigint, buf: Uint8Array, pos: number, size: number, isWrite: boolean): number {
  // an alias forwards to its target (sections never point at aliases, direct callers may)
  if (mr.alias) ({ region: mr, offset: addr } = aliasTarget(mr, addr));
  const ops = mr.ops;
  if (!accessValid(ops, addr, size, isWrite)) {
    if (!isWrite) for (let k = 0; k < size; k++) buf[pos + k] = 0;
    return MemTxResult.DECODE_ERROR;
  }
  const big = ops.endianness === 'big';
  if (isWrite) {
    let v = bytesToValue(buf, pos, size);
    if (big) v = bswap(v, size);
    writeAdjusted(ops, addr, size, v);
  } else {
    let v = readAdjusted(mr, ops, addr, size);
    if (big) v = bswap(v, size);
    valueToBytes(v, buf, pos, size);
  }
  return MemTxResult.OK;
}

/** address_space_rw over one FlatView; returns the OR of chunk results */
export function dispatchRw(view: FlatView, addr: bigint, buf: Uint8Array, isWrite: boolean): number {
  let len = buf.length;
  if (len === 0) return MemTxResult.OK;
  let pos = 0;
  let result = 0;
  for (;;) {
    const fr = view.lookup(addr);
    let l = len;
    if (fr === undefined) {
      // the unassigned section: unassigned_mem_ops reject everything
      l = memoryAccessSize(UNASSIGNED_MEM_OPS, l, addr);
      if (!isWrite) for (let k = 0; k < l; k++) buf[pos + k] = 0;
      result |= MemTxResult.DECODE_ERROR;
    } else {
      const mr = fr.mr;
      // (no new bigint for an access at the range's start, a port's usual case)
      const xlat = addr === fr.start ? fr.offsetInRegion : fr.offsetInRegion === 0n ? addr - fr.start : addr - fr.start + fr.offsetInRegion;
      const direct = isWrite
        ? mr.isRam && !mr._readonly
        : mr.isRam || (mr.isRomDevice && mr._romdMode);
      if (mr.isRam || direct) {
        // RAM: clamp to the end of the FlatRange (QEMU clamps only RAM; we
        // also clamp direct ROM-device reads, which QEMU bounds by the block)
        const rem = fr.start + fr.size - addr;
        if (BigInt(l) > rem) l = Number(rem);
      }
      if (direct) {
        const block = mr._ramBlock!;
        const off = Number(xlat);
        const avail = Number(block.maxLength) - off;
        if (l > avail) l = avail;
        if (l <= 0) {
          // region larger than its block (cannot happen through the API); treat as unassigned
          l = Math.min(len, 1);
          if (!isWrite) buf[pos] = 0;
          result |= MemTxResult.DECODE_ERROR;
        } else {
          const { view: ram, base } = block._window(off);
          const at = off - base;
          if (l > ram.byteLength - at) l = ram.byteLength - at;
          if (isWrite) {
            if (l <= 16) for (let k = 0; k < l; k++) ram[at + k] = buf[pos + k];
            else ram.set(buf.subarray(pos, pos + l), at);
            block.markHostDirty(off, l);
          } else if (l <= 16) {
            for (let k = 0; k < l; k++) buf[pos + k] = ram[at + k];
          } else {
            buf.set(ram.subarray(at, at + l), pos);
          }
        }
      } else {
        l = memoryAccessSize(mr.ops, l, xlat);
        result |= dispatchMmio(mr, xlat, buf, pos, l, isWrite);
      }
    }
    len -= l;
    if (len === 0) break;
    pos += l;
    addr += BigInt(l);
  }
  return result;
}
