/**
 * `info mtree` text (QEMU 7.2 mtree_info / mtree_print_mr / mtree_print_flatview).
 *
 * All numbers are %016 lowercase hex of 64-bit values; printed ends are
 * inclusive (size 0 prints start-start, 2^64 prints ...ffffffffffffffff).
 * QEMU emits address-space groups and FlatViews in GLib hash order, which is
 * effectively random; we use creation order of the first address space.
 */
import { checkOptions } from '../options';
import type { AddressSpace } from './address-space';
import type { FlatView } from './flat-view';
import type { MemoryRegion } from './region';
import { TWO_64 } from './size';
import { compareAddresses, compareAscending } from '../util/compare';
import { hexPadded } from '../util/hex';


/** MR_SIZE(): size - 1, or 0 for an empty region (as a 64-bit value) */
function mrSize(size: bigint): bigint {
  return size === 0n ? 0n : size - 1n;
}

/** children in printing order: addr ascending, then priority descending, else list order */
function printOrder(mr: MemoryRegion): MemoryRegion[] {
  const list = mr._subregions.ordered().slice();
  list.sort((a, b) => compareAddresses(a._addr, b._addr) || b._priority - a._priority);
  return list;
}

/** alias targets still to print as `memory-region:` sections, each once, in the order met */
class AliasQueue {
  readonly list: MemoryRegion[] = [];
  private readonly seen = new Set<MemoryRegion>();

  add(mr: MemoryRegion): void {
    if (this.seen.has(mr)) return;
    this.seen.add(mr);
    this.list.push(mr);
  }
}

/**
 * mtree_print_mr, depth first in printing order.  QEMU recurses; this walk
 * keeps its own stack so that trees of any depth print.
 */
function printRegion(
  lines: string[], root: MemoryRegion, level: number, base: bigint,
  showDisabled: boolean, aliasQueue: AliasQueue | null,
): void {
  const stack: { mr: MemoryRegion; level: number; base: bigint }[] = [{ mr: root, level, base }];
  while (stack.length > 0) {
    const { mr, level, base } = stack.pop()!;
    const curStart = (base + mr._addr) % TWO_64;
    const curEnd = (curStart + mrSize(mr._size)) % TWO_64;
    const overflow = curStart < base || curEnd < curStart;
    if (mr.alias && aliasQueue) aliasQueue.add(mr.alias);
    if (mr._enabled || showDisabled) {
      const head = `${overflow ? '[DETECTED OVERFLOW!] ' : ''}${'  '.repeat(level)}${hexPadded(curStart, 16)}-${hexPadded(curEnd, 16)} (prio ${mr._priority}, ${mr._nonvolatile ? 'nv-' : ''}${mr.typeName}): `;
      const dis = mr._enabled ? '' : ' [disabled]';
      if (mr.alias) {
        const o = mr._aliasOffset;
        lines.push(`${head}alias ${mr.name} @${mr.alias.name} ${hexPadded(o, 16)}-${hexPadded(o + mrSize(mr._size), 16)}${dis}`);
      } else {
        lines.push(`${head}${mr.name}${dis}`);
      }
    }
    // children are visited even when this line was not printed (QEMU quirk);
    // pushed last first, so that the first child is printed next
    const kids = printOrder(mr);
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ mr: kids[i], level: level + 1, base: curStart });
  }
}

/** The tree of one region at level 1 (what `info mtree [-D]` prints under an address-space header). */
export function formatTreeOf(root: MemoryRegion, showDisabled = true): string {
  const lines: string[] = [];
  printRegion(lines, root, 1, 0n, showDisabled, null);
  return lines.map((l) => l + '\n').join('');
}

/** One `info mtree -f` range line per FlatRange (with `indent` before each). */
export function formatFlatRanges(view: FlatView, spaces: readonly AddressSpace[], indent: string): string {
  const hooks = spaces.map((s) => s._accelHooks()).flat();
  let out = '';
  for (const fr of view.ranges) {
    const mr = fr.mr;
    let line = `${indent}${hexPadded(fr.start, 16)}-${hexPadded(fr.start + mrSize(fr.size), 16)} (prio ${mr._priority}, ${fr.nonvolatile ? 'nv-' : ''}${fr.readonly ? 'rom' : mr.typeName}): ${mr.name}`;
    if (fr.offsetInRegion !== 0n) line += ` @${hexPadded(fr.offsetInRegion, 16)}`;
    for (const h of hooks) {
      if (h.hasMemory!(fr.start, fr.size)) line += ` ${h.accelName}`;
    }
    out += line + '\n';
  }
  return out;
}

export interface MtreeOptions {
  /** `-f`: print FlatViews instead of trees */
  flat?: boolean;
  /** `-D`: print disabled regions too (default false, like QEMU) */
  disabled?: boolean;
}

/**
 * The whole `info mtree` page for the given address spaces (default order:
 * as given).  Tree mode groups address spaces by root and then prints every
 * alias target as `memory-region: <name>`; flat mode prints each distinct
 * FlatView once with its address spaces.
 */
export function formatMtree(spaces: readonly AddressSpace[], options?: MtreeOptions): string {
  const opts = checkOptions(options, { flat: true, disabled: true }, 'formatMtree()');
  const lines: string[] = [];
  if (opts.flat) {
    const views: FlatView[] = [];
    for (const s of spaces) if (!views.includes(s.currentView)) views.push(s.currentView);
    views.forEach((v, n) => {
      const mine = spaces.filter((s) => s.currentView === v);
      lines.push(`FlatView #${n}`);
      for (const s of mine) {
        const r = s.root;
        lines.push(` AS "${s.name}", root: ${r.name}${r.alias ? `, alias ${r.alias.name}` : ''}`);
      }
      lines.push(` Root memory region: ${v.root ? v.root.name : '(none)'}`);
      if (v.ranges.length === 0) {
        lines.push('  No rendered FlatView');
      } else {
        const text = formatFlatRanges(v, mine, '  ');
        lines.push(...text.slice(0, -1).split('\n'));
      }
      lines.push('');
    });
    return lines.map((l) => l + '\n').join('');
  }
  const showDisabled = !!opts.disabled;
  const groups: { root: MemoryRegion; names: string[] }[] = [];
  for (const s of spaces) {
    const g = groups.find((x) => x.root === s.root);
    if (g) g.names.push(s.name);
    else groups.push({ root: s.root, names: [s.name] });
  }
  const aliasQueue = new AliasQueue();
  for (const g of groups) {
    const names = g.names.slice().sort(compareAscending);
    for (const n of names) lines.push(`address-space: ${n}`);
    printRegion(lines, g.root, 1, 0n, showDisabled, aliasQueue);
    lines.push('');
  }
  for (let i = 0; i < aliasQueue.list.length; i++) {
    const mr = aliasQueue.list[i];
    lines.push(`memory-region: ${mr.name}`);
    printRegion(lines, mr, 1, 0n, showDisabled, aliasQueue);
    lines.push('');
  }
  return lines.map((l) => l + '\n').join('');
}
