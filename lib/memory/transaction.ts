/**
 * Global transaction state, QEMU style: one depth counter, one "update
 * pending" flag, the list of address spaces in creation order and the global
 * listener list (both weak, so that nothing here keeps a forgotten machine).
 *
 * Every mutator runs inside its own begin/commit pair; nested transactions
 * only defer.  QEMU re-renders every address space at the outermost commit;
 * here each mutator also records the window of the map it may have changed
 * (its damage, see incremental.ts), and the commit re-renders only those
 * windows of each FlatView, falling back to QEMU's full render whenever the
 * patch cannot be shown to be exact.  The result is the same FlatView and
 * the same listener calls either way.
 */
import { MemoryRegionError } from './errors';
import type { FlatView } from './flat-view';
import { type Damage, emptyDamage, planViews, type ViewPatch } from './incremental';
import type { MemoryRegion } from './region';
import type { MemoryListener } from './types';
import { WeakList } from './weak-list';

/** What the transaction core needs from an AddressSpace (avoids an import cycle). */
export interface TxAddressSpace {
  /** the flatview root the next view must be rendered from (null: empty view) */
  _nextFlatviewRoot(): MemoryRegion | null;
  /** the view currently published */
  _publishedView(): FlatView;
  /** remember the view to publish (and how it was derived from an old one); do not publish it yet */
  _setNextView(view: FlatView, patch: ViewPatch | null): void;
  /** publish the prepared view and run the del/add diff for this AS's listeners */
  _installView(): void;
  /** address_space_update_ioeventfds: recompute and report the ioeventfd differences */
  _updateIoeventfds(): void;
}

export interface ListenerRegistration {
  readonly listener: MemoryListener;
  readonly space: TxAddressSpace;
  readonly priority: number;
}

let depth = 0;
let updatePending = false;
/** QEMU's ioeventfd_update_pending: ioeventfds changed, views did not need to */
let ioeventfdPending = false;

/** An ioeventfd was added or removed: update the address spaces' lists at the outermost commit. */
export function markIoeventfdUpdate(): void {
  ioeventfdPending = true;
}
let globalDirtyLog = 0;
// Weak: an address space the program dropped (a forgotten Machine's) must be
// collectable. One that can still change stays alive through its root
// region (see address-space.ts); its registrations live as long as it does.
const spaces = new WeakList<TxAddressSpace>();
/** every registered listener, ascending priority, equal priority in registration order */
const listeners = new WeakList<ListenerRegistration>();

export function transactionDepth(): number {
  return depth;
}

export function beginTransaction(): void {
  depth++;
}

/**
 * damage recorded since the last render round, in blocks of slots rather
 * than an object per entry: a transaction removing 100,000 regions records
 * 65,536 entries that all stay alive until its commit
 */
let damage: Damage = emptyDamage();
/** bumped whenever a render round takes the damage recorded so far */
let damageEpoch = 0;

/** @internal the current damage epoch (changes when a render round starts) */
export function currentDamageEpoch(): number {
  return damageEpoch;
}

/** something changed that no damage entry describes: render everything */
let damageAll = false;
/** a transaction touching more than this re-renders everything (bounded memory) */
const MAX_DAMAGE_ENTRIES = 1 << 16;
/** from this many entries on, damage is weighed against the size of the views it would patch */
const FIRST_DAMAGE_CHECK = 1 << 12;
/** the entry count at which recordDamage weighs the damage next */
let nextDamageCheck = FIRST_DAMAGE_CHECK;

/**
 * More damage windows than the published views have ranges: patching them
 * one by one (a search and a window render each) is not expected to beat
 * rendering everything once, which gives the same view and listener calls,
 * and recording the rest of them is wasted work (100,000 regions added to a
 * new address space: its view is empty and was never patchable).
 */
function damageOutweighsViews(entries: number): boolean {
  let ranges = 0;
  for (const s of spaces.live()) ranges += s._publishedView()._count;
  return entries > ranges;
}

/**
 * Ask for a full re-render at the outermost commit (QEMU
 * memory_region_update_pending).  Callers that know what they changed use
 * markDamage instead.
 */
export function markUpdatePending(): void {
  updatePending = true;
  damageAll = true;
}

/**
 * Ask for a re-render at the outermost commit, limited to what `mr` renders
 * in [lo, lo + len) of its own coordinates (0 = the start of mr).  A length
 * rather than an end: callers have it at hand (a size), so recording needs
 * no new bigint.  `forced`: mr's
 * own extent or enabled state changed, so the window counts even if mr is
 * disabled now and is not clipped to mr's current size (the caller passes
 * the union of the old and the new extent).
 */
export function markDamage(mr: MemoryRegion, lo: bigint, len: bigint, forced: boolean): void {
  updatePending = true;
  recordDamage(mr, lo, len, forced);
}

/**
 * Record damage without asking for a re-render: for changes QEMU does not
 * re-render for (nothing visible changes now) but whose window a later
 * render still has to cover, e.g. unlinking a child that was disabled in
 * the same transaction.
 */
export function recordDamage(mr: MemoryRegion, lo: bigint, len: bigint, forced: boolean): void {
  if (damageAll) return;
  const entries = damage.length;
  if (entries >= nextDamageCheck) {
    // checked at doubling counts: O(address spaces) per check, log-many checks
    if (entries >= MAX_DAMAGE_ENTRIES || damageOutweighsViews(entries)) {
      damageAll = true;
      damage = emptyDamage();
      return;
    }
    nextDamageCheck *= 2;
  }
  damage.push(mr, lo, len, forced);
}

/**
 * Ask for a re-render round without damage: an address space's root went
 * away (every AS recomputes its flatview root anyway; views whose root is
 * unchanged stay as they are), or QEMU re-renders although nothing visible
 * changed (listeners still get begin / nops / commit).
 */
export function markPendingWithoutDamage(): void {
  updatePending = true;
}

export function commitTransaction(): void {
  if (depth <= 0) {
    throw new MemoryRegionError('commitTransaction() without a matching beginTransaction(); use transaction(fn) to pair them');
  }
  if (depth > 1) {
    depth--;
    return;
  }
  commitOutermost();
}

/**
 * The outermost commit, a function of its own: its error bookkeeping is
 * captured by a closure, and a function with captured variables allocates
 * their context on every call, also on the early return of a nested commit
 * (one per region added inside a transaction of 100,000).
 */
function commitOutermost(): void {
  // Outermost commit.  Keep depth at 1 while listeners run so that a listener
  // (or device) that changes the memory map from a callback gets batched into
  // a follow-up round instead of re-entering a half-applied update.
  // A throwing listener must not leave some address spaces on the old view:
  // every stage runs to the end and the first error is rethrown afterwards.
  let firstError: unknown = undefined;
  let failed = false;
  const guard = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!failed) {
        failed = true;
        firstError = e;
      }
    }
  };
  try {
    while (updatePending) {
      updatePending = false;
      const d = damage;
      const all = damageAll;
      damage = emptyDamage();
      damageAll = false;
      nextDamageCheck = FIRST_DAMAGE_CHECK;
      damageEpoch++;
      planViews(spaces.live(), d, all, damageEpoch - 1);
      ioeventfdPending = false; // this round updates them, per address space
      for (const l of listeners.live()) guard(() => l.listener.begin?.());
      for (const s of spaces.live()) {
        guard(() => s._installView());
        guard(() => s._updateIoeventfds());
      }
      for (const l of listeners.live()) guard(() => l.listener.commit?.());
    }
    if (ioeventfdPending) {
      // Only ioeventfds changed: QEMU updates them without begin/commit.
      ioeventfdPending = false;
      for (const s of spaces.live()) guard(() => s._updateIoeventfds());
    }
  } finally {
    depth = 0;
  }
  if (failed) throw firstError;
}

/**
 * Run fn inside one transaction: all changes are rendered and reported to
 * listeners once, when the outermost transaction ends (even if fn throws;
 * changes made before the throw are kept, QEMU has no rollback).
 */
export function transaction<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('transaction() expects a function that makes the changes');
  beginTransaction();
  try {
    return fn();
  } finally {
    commitTransaction();
  }
}

/** @internal */
export function registerSpace(s: TxAddressSpace): void {
  spaces.push(s);
}

/** @internal */
export function unregisterSpace(s: TxAddressSpace): void {
  spaces.remove(s);
}

/** @internal the live address spaces in creation order */
export function allSpaces(): readonly TxAddressSpace[] {
  return spaces.live();
}

/** @internal insert after every listener of lower or equal priority */
export function registerListener(reg: ListenerRegistration): void {
  const all = listeners.live();
  let i = all.length;
  while (i > 0 && all[i - 1].priority > reg.priority) i--;
  listeners.insertAt(i, reg);
}

/** @internal */
export function unregisterListener(reg: ListenerRegistration): void {
  listeners.remove(reg);
}

/** @internal */
export function globalListeners(): readonly ListenerRegistration[] {
  return listeners.live();
}

/** True while global dirty tracking (migration-style logging) is on. */
export function globalDirtyLogActive(): boolean {
  return globalDirtyLog !== 0;
}

/**
 * memory_global_dirty_log_start(): every RAM FlatRange gains the MIGRATION
 * bit.  Listeners get logGlobalStart (forward), then one update transaction
 * reports log_start per range.  (QEMU's postponed stop while the VM is
 * paused is the run loop's business and is not modelled.)
 */
export function startGlobalDirtyLog(): void {
  const was = globalDirtyLog;
  globalDirtyLog = 1;
  if (was) return;
  for (const l of listeners.live()) l.listener.logGlobalStart?.();
  beginTransaction();
  markUpdatePending();
  commitTransaction();
}

/** memory_global_dirty_log_stop(): update transaction first, then logGlobalStop (reverse). */
export function stopGlobalDirtyLog(): void {
  if (!globalDirtyLog) return;
  globalDirtyLog = 0;
  beginTransaction();
  markUpdatePending();
  commitTransaction();
  const all = listeners.live();
  for (let i = all.length - 1; i >= 0; i--) all[i].listener.logGlobalStop?.();
}
