/**
 * ioeventfds (QEMU's MemoryRegionIoeventfd): "a guest write of `data` to
 * this address signals that notifier", registered on a region and shifted
 * into address-space coordinates by every FlatRange that shows the region.
 * Listeners (KVM's KVM_IOEVENTFD, vhost) see the difference between the old
 * and new per-address-space lists after each commit (semantics §4.6):
 * eventfdDel in forward listener order, eventfdAdd in reverse, the inverse of
 * regionAdd/regionDel (a QEMU quirk kept on purpose, §9.30).
 */
import type { FlatView } from './flat-view';

/** An ioeventfd as registered on a region (offsets relative to the region). */
export interface RegionEventfd {
  readonly addr: bigint;
  /** 0: any access size (KVM's "any length") */
  readonly size: bigint;
  readonly matchData: boolean;
  readonly data: bigint;
  /** what is signalled (an EventNotifier in QEMU): any object */
  readonly notifier: object;
}

/** An ioeventfd as a listener sees it: in address-space coordinates. */
export interface IoEventfd extends RegionEventfd {
  /** the address space it belongs to */
  readonly addressSpace: unknown;
}

let nextNotifierId = 1;
const notifierIds = new WeakMap<object, number>();

/** A stable order for notifiers (QEMU compares the pointers). */
function notifierId(n: object): number {
  let id = notifierIds.get(n);
  if (id === undefined) {
    id = nextNotifierId++;
    notifierIds.set(n, id);
  }
  return id;
}

/** memory_region_ioeventfd_before: start, size, match_data, data (when matching), notifier. */
export function eventfdBefore(a: RegionEventfd, b: RegionEventfd): boolean {
  if (a.addr !== b.addr) return a.addr < b.addr;
  if (a.size !== b.size) return a.size < b.size;
  if (a.matchData !== b.matchData) return !a.matchData;
  if (a.matchData && a.data !== b.data) return a.data < b.data;
  return notifierId(a.notifier) < notifierId(b.notifier);
}

/** memory_region_ioeventfd_equal: the same start, and a size of 0 on either side matches anything. */
export function eventfdEqual(a: RegionEventfd, b: RegionEventfd): boolean {
  if (a.addr !== b.addr) return false;
  if (a.size === 0n || b.size === 0n) return true;
  return a.size === b.size && a.matchData === b.matchData && (!a.matchData || a.data === b.data) && a.notifier === b.notifier;
}

/** Regions that have at least one ioeventfd (so commits without any skip the scan). */
let regionsWithEventfds = 0;

export function countEventfdRegion(delta: 1 | -1): void {
  regionsWithEventfds += delta;
}

/**
 * address_space_update_ioeventfds: for each FlatRange, each ioeventfd of its
 * region shifted into address-space coordinates, kept whole when it
 * intersects the range; sorted.
 */
export function collectIoeventfds(view: FlatView, addressSpace: unknown): IoEventfd[] {
  if (regionsWithEventfds === 0) return [];
  const out: IoEventfd[] = [];
  for (const fr of view.ranges) {
    const fds = fr.mr.ioeventfds;
    if (fds.length === 0) continue;
    const frEnd = fr.start + fr.size;
    for (const fd of fds) {
      const start = fd.addr + fr.start - fr.offsetInRegion;
      const end = start + fd.size;
      // intersection, with a zero-size ioeventfd counting as its start address
      const hits = fd.size === 0n ? start >= fr.start && start < frEnd : start < frEnd && end > fr.start;
      if (hits) out.push({ addressSpace, addr: start, size: fd.size, matchData: fd.matchData, data: fd.data, notifier: fd.notifier });
    }
  }
  out.sort((a, b) => (eventfdBefore(a, b) ? -1 : eventfdBefore(b, a) ? 1 : 0));
  return out;
}

/** address_space_add_del_ioeventfds: one merge walk, old-only → del, new-only → add, in address order. */
export function diffIoeventfds(
  old: readonly IoEventfd[], now: readonly IoEventfd[], del: (e: IoEventfd) => void, add: (e: IoEventfd) => void,
): void {
  let i = 0;
  let j = 0;
  while (i < old.length || j < now.length) {
    if (i < old.length && (j === now.length || eventfdBefore(old[i]!, now[j]!))) del(old[i++]!);
    else if (j < now.length && (i === old.length || eventfdBefore(now[j]!, old[i]!))) add(now[j++]!);
    else {
      i++;
      j++;
    }
  }
}
