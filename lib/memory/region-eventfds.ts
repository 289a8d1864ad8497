/**
 * memory_region_add_eventfd / memory_region_del_eventfd: the ioeventfd list
 * of one region, kept in QEMU's order (ioeventfd.ts has the order and the
 * per-address-space side).
 */
import { MemoryRegionError } from './errors';
import { countEventfdRegion, eventfdBefore, eventfdEqual, type RegionEventfd } from './ioeventfd';
import type { MemoryRegion } from './region';
import { checkBool } from './region-checks';
import { TWO_64, toAddress, toLength } from './size';
import { markIoeventfdUpdate, transaction } from './transaction';
import { hex } from '../util/hex';

/** The arguments of add/delEventfd checked against `mr` (which must be open). */
export function checkEventfd(mr: MemoryRegion, addr: unknown, size: unknown, matchData: unknown, data: unknown, notifier: unknown): RegionEventfd {
  const a = toAddress(addr, 'ioeventfd address');
  const n = toLength(size, 'ioeventfd size');
  checkBool(matchData, 'matchData');
  if (a + n > mr._size) throw new RangeError(`ioeventfd ${hex(a)}+${hex(n)} is outside region "${mr.name}"`);
  if (typeof notifier !== 'object' || notifier === null) throw new TypeError('notifier must be an object (what the ioeventfd signals)');
  const d = toLength(data, 'ioeventfd data');
  if (d >= TWO_64) throw new RangeError('ioeventfd data must fit in 64 bits');
  return { addr: a, size: n, matchData: matchData as boolean, data: d, notifier };
}

/** the ioeventfds of every region that has none (frozen: addEventfd gives a region its own list) */
export const NO_EVENTFDS: RegionEventfd[] = Object.freeze([]) as unknown as RegionEventfd[];

export function addEventfd(mr: MemoryRegion, fd: RegionEventfd): void {
  transaction(() => {
    if (mr._ioeventfds === NO_EVENTFDS) mr._ioeventfds = [];
    const list = mr._ioeventfds;
    let i = list.length;
    while (i > 0 && eventfdBefore(fd, list[i - 1]!)) i--;
    list.splice(i, 0, fd);
    if (list.length === 1) countEventfdRegion(1);
    if (mr._enabled) markIoeventfdUpdate();
  });
}

export function delEventfd(mr: MemoryRegion, fd: RegionEventfd): void {
  const list = mr._ioeventfds;
  const i = list.findIndex((e) => eventfdEqual(fd, e));
  if (i < 0) throw new MemoryRegionError(`delEventfd: region "${mr.name}" has no ioeventfd at ${hex(fd.addr)} like that`);
  transaction(() => {
    list.splice(i, 1);
    if (list.length === 0) countEventfdRegion(-1);
    if (mr._enabled) markIoeventfdUpdate();
  });
}

/** close(): drop every ioeventfd of `mr` (inside the caller's transaction) */
export function dropEventfds(mr: MemoryRegion): void {
  if (mr._ioeventfds.length === 0) return;
  mr._ioeventfds = NO_EVENTFDS;
  countEventfdRegion(-1);
  markIoeventfdUpdate();
}
