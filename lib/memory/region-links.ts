/**
 * How regions hang together: a container's children (linking and unlinking
 * with QEMU's list order and damage) and alias chains (the walk to the
 * target, the liveness of aliases, cycle detection).  The MemoryRegion
 * mutators validate and open the transaction; these functions do the change.
 */
import { MemoryRegionError } from './errors';
import type { MemoryRegion } from './region';
import { closedError } from './region-checks';
import { extentSinceRender } from './region-size';
import { NO_SUBREGIONS, SubregionList } from './subregion-list';
import { markDamage, recordDamage } from './transaction';

/** global link counter: a later link wins ties among equal priorities */
let linkSeq = 0;

/** Can the (open) `container` take `child`, a MemoryRegion, as a new child? Throws why not. */
export function checkLinkable(container: MemoryRegion, child: MemoryRegion): void {
  if (child._closed) throw closedError(child);
  if (child === container) throw new MemoryRegionError(`cannot add region "${container.name}" to itself`);
  if (child._container !== null) {
    throw new MemoryRegionError(`region "${child.name}" is already a subregion of "${child._container.name}"; remove it first, or map it a second time through an alias (MemoryRegion.alias)`);
  }
  if (reaches(child, container)) {
    throw new MemoryRegionError(`adding "${child.name}" to "${container.name}" would create a cycle ("${container.name}" is reachable from "${child.name}" through subregions or alias targets); QEMU would recurse forever rendering it`);
  }
}

/** Is `child`, a MemoryRegion, a child of `container`? Throws where it is instead. */
export function checkIsChild(container: MemoryRegion, child: MemoryRegion): void {
  if (child._container !== container) {
    throw new MemoryRegionError(child._container
      ? `region "${child.name}" is a subregion of "${child._container.name}", not of "${container.name}"; call removeSubregion on its container`
      : `region "${child.name}" is not a subregion of "${container.name}" (it has no container)`);
  }
}

/** memory_region_update_container_subregions: insert per QEMU order, mark pending */
export function linkSubregion(container: MemoryRegion, child: MemoryRegion, priority: number): void {
  child._priority = priority;
  child._container = container;
  child._linkSeq = ++linkSeq;
  for (let a = child.alias; a; a = a.alias) a._mappedViaAlias++;
  // the newest stamp puts it before the first sibling whose priority is <= ours
  if (container._subregions === NO_SUBREGIONS) container._subregions = new SubregionList();
  container._subregions.add(child);
  container._childIndex?.insert(child);
  updateAliasLinks(child);
  // the child's extent is where the map can change
  if (container._enabled && child._enabled) markDamage(container, child._addr, child._size, false);
}

/** memory_region_del_subregion's unlink, `child` being in `container` */
export function unlinkSubregion(container: MemoryRegion, child: MemoryRegion): void {
  container._subregions.remove(child);
  container._childIndex?.remove(child);
  child._container = null;
  for (let a = child.alias; a; a = a.alias) a._mappedViaAlias--;
  updateAliasLinks(child);
  // Whatever the enabled states are now, the child may have been visible
  // here at the last render (e.g. disabled and removed in one transaction),
  // and it may have been larger then: the damage is the largest extent it
  // had since, which also covers any damage recorded inside the child
  // (that damage can no longer reach the views through this container).
  // Whether to re-render is QEMU's condition.
  const extent = extentSinceRender(child);
  if (container._enabled && child._enabled) markDamage(container, child._addr, extent, false);
  else recordDamage(container, child._addr, extent, false);
}

/**
 * The region an alias chain ends at and `offset` translated into it (a
 * region that is no alias is its own target): the one walk of alias chains.
 */
export function aliasTarget(start: MemoryRegion, offset = 0n): { region: MemoryRegion; offset: bigint } {
  let region = start;
  while (region.alias) {
    offset += region._aliasOffset;
    region = region.alias;
  }
  return { region, offset };
}

/**
 * Keep the alias `start` in its target's _aliasUsers exactly while it can be
 * rendered (in a container, an AS root, or the target of such an alias), and
 * so on up an alias of an alias: the target's own liveness may change in
 * turn.  Unused aliases are not referenced from their target, so they can be
 * collected.  A loop: alias chains can be longer than the JS stack is deep.
 */
export function updateAliasLinks(start: MemoryRegion): void {
  for (let mr = start, t = mr.alias; t !== null; mr = t, t = t.alias) {
    const live = mr._container !== null || mr._asRootCount > 0 || (mr._aliasUsers !== null && mr._aliasUsers.size > 0);
    if (live === mr._aliasRegistered) return;
    mr._aliasRegistered = live;
    if (live) {
      (t._aliasUsers ??= new Set()).add(mr);
    } else {
      t._aliasUsers!.delete(mr);
      if (t._aliasUsers!.size === 0) t._aliasUsers = null;
    }
  }
}

/** Is `target` reachable from `from` through subregions or alias targets? */
function reaches(from: MemoryRegion, target: MemoryRegion): boolean {
  if (from._subregions.length === 0 && from.alias === null) return false;
  const seen = new Set<MemoryRegion>();
  const stack: MemoryRegion[] = [from];
  while (stack.length) {
    const mr = stack.pop()!;
    if (mr === target) return true;
    if (seen.has(mr)) continue;
    seen.add(mr);
    if (mr.alias) stack.push(mr.alias);
    for (const c of mr._subregions.ordered()) stack.push(c);
  }
  return false;
}
