/**
 * Error classes of the memory model.
 *
 * QEMU answers structural misuse of the memory API with assert() (or by
 * overflowing its stack for alias cycles).  We refuse instead, with an error
 * that says what to do, and we check everything *before* mutating so a
 * refused call leaves the model exactly as it was.
 *
 * - RangeError: a size, address, offset or priority outside its legal range.
 * - TypeError: a value of the wrong type (e.g. a string where a size goes).
 * - MemoryRegionError: a well-typed call that would break the tree
 *   (double parent, cycle, removing a non-child, using a closed region...).
 * - RamBlockError: RAM block bookkeeping failures (QEMU's "Size mismatch",
 *   "Size too large", "Failed to find gap of requested size").
 */

export class MemoryRegionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryRegionError';
  }
}

export class RamBlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RamBlockError';
  }
}
