/**
 * Random priorities for the treap of the memory model (child-index.ts's
 * children by address): xorshift32, seeded, so runs are deterministic;
 * quality only needs to keep the tree balanced.
 */
let seed = 0x2545f491;

export function treapPriority(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
