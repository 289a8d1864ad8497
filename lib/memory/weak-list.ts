/**
 * An ordered list that does not keep its members alive.
 *
 * The memory core keeps process-wide lists (every address space, every
 * listener registration, the default RAM list's blocks) that QEMU keeps as
 * plain lists because its objects are freed explicitly. Here a member the
 * program no longer references must still be collectable (its GC finalizers
 * release its fds and mappings), so the lists hold WeakRefs; members that
 * were collected are dropped the next time the list is read.
 */
export class WeakList<T extends object> {
  private refs: WeakRef<T>[] = [];

  /**
   * The live members in list order, as a fresh array (safe to keep while the
   * list changes). Drops the collected ones, so afterwards index i of this
   * array is index i of the list (for insertAt).
   */
  live(): T[] {
    const out: T[] = [];
    let dead = false;
    for (const r of this.refs) {
      const v = r.deref();
      if (v === undefined) dead = true;
      else out.push(v);
    }
    if (dead) this.refs = out.map((v) => new WeakRef(v));
    return out;
  }

  /** Inserts at `index` of the array live() last returned (without a collection in between). */
  insertAt(index: number, v: T): void {
    this.refs.splice(index, 0, new WeakRef(v));
  }

  push(v: T): void {
    this.refs.push(new WeakRef(v));
  }

  /** Removes `v`; false if it is not in the list. */
  remove(v: T): boolean {
    const i = this.refs.findIndex((r) => r.deref() === v);
    if (i < 0) return false;
    this.refs.splice(i, 1);
    return true;
  }
}
