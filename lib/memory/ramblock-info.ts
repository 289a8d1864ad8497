/**
 * `info ramblock` text (QEMU 7.2 softmmu/physmem.c ram_block_format, with
 * util/cutils.c size_to_str for the page size).
 */
import { hexPadded } from '../util/hex';
import type { RamList } from './ram-block';

const SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** C's "%0.3g" for a finite non-negative value */
function formatG3(v: number): string {
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(3)))));
  if (exp < -4 || exp >= 3) {
    const [m, e] = v.toExponential(2).split('e');
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = v.toFixed(Math.max(0, 2 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/**
 * size_to_str(): "4 KiB", "2 MiB", "0.977 KiB".  The unit switches when the
 * value would reach 1000 of the smaller one (QEMU's 1000/1024 correction).
 */
export function sizeToStr(bytes: bigint): string {
  const val = Number(bytes);
  // frexp(val / (1000.0 / 1024.0), &e) gives e = floor(log2(x)) + 1 for x > 0, 0 for 0
  const x = val / (1000 / 1024);
  const e = x === 0 ? 0 : Math.floor(Math.log2(x)) + 1;
  const i = Math.trunc((e - 1) / 10);
  return `${formatG3(val / 2 ** (i * 10))} ${SUFFIXES[i]}B`;
}

/** The whole `info ramblock` answer: a header, then one row per block in list order (largest first). */
export function formatRamBlocks(list: RamList): string {
  let out = `${'Block Name'.padStart(24)} ${'PSize'.padStart(8)}  ${'Offset'.padStart(18)} ${'Used'.padStart(18)} ${'Total'.padStart(18)}\n`;
  for (const b of list.blocks) {
    out += `${b.idstr.padStart(24)} ${sizeToStr(b.pageSize).padStart(8)}  0x${hexPadded(b.offset, 16)} 0x${hexPadded(b.usedLength, 16)} 0x${hexPadded(b.maxLength, 16)}\n`;
  }
  return out;
}
