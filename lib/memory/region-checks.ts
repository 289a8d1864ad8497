/**
 * Argument checks of the MemoryRegion API: every mutator and constructor
 * runs them before it changes anything, so a refused call changes nothing.
 */
import { MemoryRegionError } from './errors';
import type { MemoryRegion } from './region';
import type { MemoryRegionOps } from './types';

/** the error of any use of a closed region */
export function closedError(mr: MemoryRegion): MemoryRegionError {
  return new MemoryRegionError(`region "${mr.name}" has been closed; create a new region instead`);
}

export function checkName(name: unknown): void {
  if (typeof name !== 'string') throw new TypeError(`region name must be a string, got ${typeof name}`);
}

export function checkBool(v: unknown, what: string): void {
  if (typeof v !== 'boolean') throw new TypeError(`${what} must be a boolean, got ${typeof v}`);
}

function checkAccess(c: unknown, what: string): void {
  if (c === undefined) return;
  if (typeof c !== 'object' || c === null) throw new TypeError(`ops.${what} must be an object`);
  const o = c as Record<string, unknown>;
  for (const k of ['minAccessSize', 'maxAccessSize']) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number') throw new TypeError(`ops.${what}.${k} must be a number`);
    if (![0, 1, 2, 4, 8].includes(v)) throw new RangeError(`ops.${what}.${k} must be 0, 1, 2, 4 or 8, got ${v}`);
  }
}

/** device callbacks as memory_region_init_io accepts them */
export function checkOps(ops: MemoryRegionOps): void {
  if (typeof ops !== 'object') throw new TypeError('ops must be an object { read(offset, size), write(offset, value, size) }');
  if (ops.read !== undefined && typeof ops.read !== 'function') throw new TypeError('ops.read must be a function');
  if (ops.write !== undefined && typeof ops.write !== 'function') throw new TypeError('ops.write must be a function');
  if (ops.endianness !== undefined && !['little', 'big', 'native', 'host'].includes(ops.endianness)) {
    throw new RangeError(`ops.endianness must be 'little', 'big', 'native' or 'host', got ${String(ops.endianness)}`);
  }
  checkAccess(ops.valid, 'valid');
  checkAccess(ops.impl, 'impl');
  if (ops.impl?.unaligned && !ops.valid?.unaligned) {
    // QEMU asserts !(impl.unaligned && !valid.unaligned) in memory_region_init_io
    throw new RangeError('ops.impl.unaligned requires ops.valid.unaligned');
  }
}
