/**
 * Global transaction state, QEMU style: one depth counter, one "update
 * pending" flag, the list of address spaces in creation order and the global
 * listener list.
 *
 * Every mutator runs inside its own begin/commit pair; nested transactions
 * only defer, and the outermost commit re-renders every address space once
 * (one FlatView per distinct flatview root) and diffs it for the listeners.
 */
import { MemoryRegionError } from './errors';
import type { FlatView } from './flat-view';
import type { MemoryRegion } from './region';
import type { MemoryListener } from './types';

/** What the transaction core needs from an AddressSpace (avoids an import cycle). */
export interface TxAddressSpace {
  /** render (or take from the cache) the new view; do not publish it yet */
  _prepareView(cache: Map<MemoryRegion | null, FlatView>): void;
  /** publish the prepared view and run the del/add diff for this AS's listeners */
  _installView(): void;
}

export interface ListenerRegistration {
  readonly listener: MemoryListener;
  readonly space: TxAddressSpace;
  readonly priority: number;
}

let depth = 0;
let updatePending = false;
let globalDirtyLog = 0;
const spaces: TxAddressSpace[] = [];
/** every registered listener, ascending priority, equal priority in registration order */
const listeners: ListenerRegistration[] = [];

export function transactionDepth(): number {
  return depth;
}

export function beginTransaction(): void {
  depth++;
}

/** Ask for a re-render at the outermost commit (QEMU memory_region_update_pending). */
export function markUpdatePending(): void {
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
      const cache = new Map<MemoryRegion | null, FlatView>();
      for (const s of spaces.slice()) s._prepareView(cache);
      for (const l of listeners.slice()) guard(() => l.listener.begin?.());
      for (const s of spaces.slice()) guard(() => s._installView());
      for (const l of listeners.slice()) guard(() => l.listener.commit?.());
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
  const i = spaces.indexOf(s);
  if (i >= 0) spaces.splice(i, 1);
}

/** @internal the address spaces in creation order */
export function allSpaces(): readonly TxAddressSpace[] {
  return spaces;
}

/** @internal insert after every listener of lower or equal priority */
export function registerListener(reg: ListenerRegistration): void {
  let i = listeners.length;
  while (i > 0 && listeners[i - 1].priority > reg.priority) i--;
  listeners.splice(i, 0, reg);
}

/** @internal */
export function unregisterListener(reg: ListenerRegistration): void {
  const i = listeners.indexOf(reg);
  if (i >= 0) listeners.splice(i, 1);
}

/** @internal */
export function globalListeners(): readonly ListenerRegistration[] {
  return listeners;
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
  for (const l of listeners) l.listener.logGlobalStart?.();
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
  for (let i = listeners.length - 1; i >= 0; i--) listeners[i].listener.logGlobalStop?.();
}
