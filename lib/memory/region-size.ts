/**
 * memory_region_set_size, and what a size change leaves behind for the
 * incremental commit: the largest size a region had since the damage
 * recorded so far was last rendered (a region that shrank and is then
 * unlinked damages the extent it rendered, not only its new size).
 */
import type { MemoryRegion } from './region';
import { currentDamageEpoch, markDamage, transaction } from './transaction';

/** set `mr`'s size to the checked size `s`, as its own transaction */
export function resizeRegion(mr: MemoryRegion, s: bigint): void {
  if (s === mr._size) return;
  transaction(() => {
    const old = mr._size;
    const epoch = currentDamageEpoch();
    if (mr._sizeEpoch !== epoch) {
      mr._sizeEpoch = epoch;
      mr._sizeHigh = old;
    }
    if (s > mr._sizeHigh) mr._sizeHigh = s;
    // the container's address index is keyed by extent: re-insert
    const c = mr._container;
    if (c !== null && c._childIndex !== null) {
      c._childIndex.remove(mr);
      mr._size = s;
      c._childIndex.insert(mr);
    } else {
      mr._size = s;
    }
    // forced, over the old and the new extent: the clip of everything inside changed
    markDamage(mr, 0n, old > s ? old : s, true);
  });
}

/**
 * The largest size `mr` had since the damage recorded so far was last
 * rendered: everything it rendered then, and every damage window recorded
 * inside it since, lies in [0, this).
 */
export function extentSinceRender(mr: MemoryRegion): bigint {
  return mr._sizeEpoch === currentDamageEpoch() && mr._sizeHigh > mr._size ? mr._sizeHigh : mr._size;
}
