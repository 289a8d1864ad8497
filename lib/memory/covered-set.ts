/**
 * The covered address space of one render (render.ts), and the address order
 * of the pieces it handed out.
 *
 * QEMU's render fills a terminating region's clip window with whatever no
 * region rendered earlier covers.  This set holds the covered space as
 * disjoint, non-touching intervals in a treap (touching ones are merged, so
 * each interval is removed at most once: amortised O(log n) per fill), and
 * every fill returns the uncovered pieces of its window.
 *
 * Two things keep a render of 100,000 regions cheap:
 *  - No object per interval.  The treap lives in typed arrays (plus two
 *    arrays of the exact bigint ends), so a render allocates nothing per
 *    interval that the garbage collector would have to copy and promote.
 *    Every bound has a Number key next to its bigint; Number(x) rounds
 *    monotonically, so unequal keys order their bigints, and equal keys
 *    below 2^53 are equal addresses: the bigints are compared only for
 *    addresses of 2^53 and more.  Exact over the whole 65-bit range.
 *  - No sort of the result.  The pieces are numbered in the order the fills
 *    returned them, and each interval keeps the chain of its pieces in
 *    address order (merging intervals concatenates chains), so an in-order
 *    walk of the treap lists all pieces sorted by address in O(n).
 */
import { treapPriority } from './treap-priority';

/** from 2^53 on a Number no longer holds every integer */
const EXACT = 2 ** 53;

/** a < b, for addresses given as (Number key, bigint) */
function lt(an: number, ab: bigint, bn: number, bb: bigint): boolean {
  return an < bn || (an === bn && an >= EXACT && ab < bb);
}

/** no node / no piece */
const NIL = -1;

export class CoveredSet {
  private root = NIL;
  // ---- interval nodes (index = node), never reused within a render
  private nodes = 0;
  private keyStart = new Float64Array(16);
  private keyEnd = new Float64Array(16);
  private readonly start: bigint[] = [];
  private readonly end: bigint[] = [];
  private pri = new Uint32Array(16);
  private left = new Int32Array(16);
  private right = new Int32Array(16);
  /** first and last piece of the node's interval, in address order */
  private head = new Int32Array(16);
  private tail = new Int32Array(16);
  // ---- pieces (index = the order fill returned them)
  private pieces = 0;
  /** the next piece of the same interval, in address order */
  private next = new Int32Array(16);
  /** entries of `out` written by the current fill */
  private written = 0;
  /** the chain being built by the current fill */
  private chainHead = NIL;
  private chainTail = NIL;
  // split results (no pair allocated per call)
  private splitL = NIL;
  private splitR = NIL;

  /**
   * Mark [s, e) covered and write a, b to `out` (from index 0 on) for every
   * piece [a, b) of [s, e) that was not covered before, in ascending order;
   * returns how many entries it wrote (twice the pieces).  `out` is the
   * caller's scratch, overwritten rather than emptied: truncating an array
   * drops its storage, and a render of 100,000 regions would allocate it
   * anew for every one of them.  Pieces are numbered across all fills in the
   * order they are written: `inOrder` sorts a list with one item per piece
   * in that order.
   */
  fill(s: bigint, e: bigint, out: bigint[]): number {
    const sn = Number(s);
    const en = Number(e);
    this.written = 0;
    if (this.insertIfFree(s, sn, e, en, out)) return this.written;
    this.chainHead = this.chainTail = NIL;
    this.split(this.root, sn, s, false);
    let left = this.splitL;
    const right = this.splitR;
    let newStart = s;
    let newStartKey = sn;
    let newEnd = e;
    let newEndKey = en;
    let cursor = s;
    let cursorKey = sn;
    const lmax = this.rightmost(left);
    if (lmax !== NIL && !lt(this.keyEnd[lmax], this.end[lmax], sn, s)) {
      // the interval before s reaches into (or touches) the window
      newStart = this.start[lmax];
      newStartKey = this.keyStart[lmax];
      this.appendChain(this.head[lmax], this.tail[lmax]);
      if (lt(cursorKey, cursor, this.keyEnd[lmax], this.end[lmax])) {
        if (lt(this.keyEnd[lmax], this.end[lmax], en, e)) {
          cursor = this.end[lmax];
          cursorKey = this.keyEnd[lmax];
        } else {
          cursor = e;
          cursorKey = en;
        }
      }
      if (lt(newEndKey, newEnd, this.keyEnd[lmax], this.end[lmax])) {
        newEnd = this.end[lmax];
        newEndKey = this.keyEnd[lmax];
      }
      left = this.popRightmost(left);
    }
    // intervals starting inside the window (or touching its end)
    this.split(right, en, e, true);
    const mid = this.splitL;
    const rest = this.splitR;
    if (mid !== NIL) {
      const stack: number[] = [];
      let n = mid;
      while (n !== NIL || stack.length > 0) {
        while (n !== NIL) {
          stack.push(n);
          n = this.left[n];
        }
        n = stack.pop()!;
        const ns = this.start[n];
        const nsKey = this.keyStart[n];
        if (lt(cursorKey, cursor, nsKey, ns) && lt(cursorKey, cursor, en, e)) {
          const gapEndsAtNode = lt(nsKey, ns, en, e);
          this.appendPiece(this.piece(cursor, gapEndsAtNode ? ns : e, out));
        }
        this.appendChain(this.head[n], this.tail[n]);
        const ne = this.end[n];
        const neKey = this.keyEnd[n];
        if (lt(cursorKey, cursor, neKey, ne)) {
          if (lt(neKey, ne, en, e)) {
            cursor = ne;
            cursorKey = neKey;
          } else {
            cursor = e;
            cursorKey = en;
          }
        }
        if (lt(newEndKey, newEnd, neKey, ne)) {
          newEnd = ne;
          newEndKey = neKey;
        }
        n = this.right[n];
      }
    }
    if (lt(cursorKey, cursor, en, e)) this.appendPiece(this.piece(cursor, e, out));
    const node = this.newNode(newStart, newStartKey, newEnd, newEndKey, this.chainHead, this.chainTail);
    this.root = this.merge(this.merge(left, node), rest);
    return this.written;
  }

  /**
   * `items`, one per piece in the order fill returned the pieces, rearranged
   * into address order (a new array).
   */
  inOrder<T>(items: readonly T[]): T[] {
    const sorted: T[] = [];
    const stack: number[] = [];
    let n = this.root;
    while (n !== NIL || stack.length > 0) {
      while (n !== NIL) {
        stack.push(n);
        n = this.left[n];
      }
      n = stack.pop()!;
      for (let p = this.head[n]; p !== NIL; p = this.next[p]) sorted.push(items[p]);
      n = this.right[n];
    }
    return sorted;
  }

  /**
   * The common case, a window that neither overlaps nor touches anything
   * covered (e.g. one of many disjoint devices): add it as an interval of its
   * own with one search and a treap insertion, instead of the general case's
   * three splits and two merges over the whole depth.  False, and nothing
   * changed, when [s, e) meets or touches a covered interval.
   */
  private insertIfFree(s: bigint, sn: number, e: bigint, en: number, out: bigint[]): boolean {
    // the intervals are disjoint and sorted: the ones that could meet [s, e]
    // (the last starting before s, the first starting at or after it) are on
    // the search path of s, and the others on it are farther away
    for (let t = this.root; t !== NIL;) {
      if (lt(this.keyStart[t], this.start[t], sn, s)) {
        if (!lt(this.keyEnd[t], this.end[t], sn, s)) return false;
        t = this.right[t];
      } else {
        if (!lt(en, e, this.keyStart[t], this.start[t])) return false;
        t = this.left[t];
      }
    }
    const p = this.piece(s, e, out);
    const node = this.newNode(s, sn, e, en, p, p);
    const pri = this.pri[node];
    let parent = NIL;
    let parentLeft = false;
    let t = this.root;
    while (t !== NIL && this.pri[t] > pri) {
      parent = t;
      parentLeft = lt(sn, s, this.keyStart[t], this.start[t]);
      t = parentLeft ? this.left[t] : this.right[t];
    }
    this.split(t, sn, s, false);
    this.left[node] = this.splitL;
    this.right[node] = this.splitR;
    if (parent === NIL) this.root = node;
    else if (parentLeft) this.left[parent] = node;
    else this.right[parent] = node;
    return true;
  }

  /** a new piece [a, b), written to out; its number */
  private piece(a: bigint, b: bigint, out: bigint[]): number {
    out[this.written++] = a;
    out[this.written++] = b;
    const p = this.pieces++;
    if (p === this.next.length) this.next = grown(this.next);
    this.next[p] = NIL;
    return p;
  }

  private appendPiece(p: number): void {
    this.appendChain(p, p);
  }

  /** append the chain h..t to the chain being built */
  private appendChain(h: number, t: number): void {
    if (this.chainTail === NIL) this.chainHead = h;
    else this.next[this.chainTail] = h;
    this.chainTail = t;
  }

  private newNode(s: bigint, sn: number, e: bigint, en: number, head: number, tail: number): number {
    const i = this.nodes++;
    if (i === this.pri.length) this.grow();
    this.keyStart[i] = sn;
    this.keyEnd[i] = en;
    this.start.push(s);
    this.end.push(e);
    this.pri[i] = treapPriority();
    this.left[i] = NIL;
    this.right[i] = NIL;
    this.head[i] = head;
    this.tail[i] = tail;
    return i;
  }

  private grow(): void {
    this.keyStart = grown(this.keyStart);
    this.keyEnd = grown(this.keyEnd);
    this.pri = grown(this.pri);
    this.left = grown(this.left);
    this.right = grown(this.right);
    this.head = grown(this.head);
    this.tail = grown(this.tail);
  }

  /** splitL: the nodes of t starting before the key (at or before it with orEqual), splitR the rest */
  private split(t: number, kn: number, k: bigint, orEqual: boolean): void {
    if (t === NIL) {
      this.splitL = this.splitR = NIL;
      return;
    }
    const goesLeft = orEqual ? !lt(kn, k, this.keyStart[t], this.start[t]) : lt(this.keyStart[t], this.start[t], kn, k);
    if (goesLeft) {
      this.split(this.right[t], kn, k, orEqual);
      this.right[t] = this.splitL;
      this.splitL = t;
    } else {
      this.split(this.left[t], kn, k, orEqual);
      this.left[t] = this.splitR;
      this.splitR = t;
    }
  }

  private merge(a: number, b: number): number {
    if (a === NIL) return b;
    if (b === NIL) return a;
    if (this.pri[a] > this.pri[b]) {
      this.right[a] = this.merge(this.right[a], b);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b]);
    return b;
  }

  /** t without its rightmost node */
  private popRightmost(t: number): number {
    if (this.right[t] === NIL) return this.left[t];
    this.right[t] = this.popRightmost(this.right[t]);
    return t;
  }

  private rightmost(t: number): number {
    if (t === NIL) return NIL;
    while (this.right[t] !== NIL) t = this.right[t];
    return t;
  }
}

/** a typed array of twice the length with a's contents */
function grown<T extends Float64Array | Uint32Array | Int32Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}
