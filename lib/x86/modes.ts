// Put a vCPU into real, 32-bit protected or 64-bit long mode: the segment and
// control register state, and for long mode a GDT and identity-mapped page
// tables written into guest RAM.
import type { Segment, SpecialRegisters } from '../kvm/registers';
import type { Vcpu } from '../kvm/vcpu';
import { checkOptions } from '../options';

export type CpuMode = 'real' | 'protected' | 'long';

/** Writes bytes into guest-physical memory (e.g. `(gpa, b) => as.write(gpa, b)`). */
export type GuestWriter = (gpa: bigint, bytes: Uint8Array) => void;

// Control register bits (Intel SDM vol. 3, 2.5).
export const CR0_PE = 1n << 0n;
export const CR0_MP = 1n << 1n;
export const CR0_ET = 1n << 4n;
export const CR0_NE = 1n << 5n;
export const CR0_WP = 1n << 16n;
export const CR0_PG = 1n << 31n;
export const CR4_PAE = 1n << 5n;
export const CR4_OSFXSR = 1n << 9n;
export const CR4_OSXMMEXCPT = 1n << 10n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;

// Page table entry bits.
const PTE_PRESENT = 1n;
const PTE_WRITE = 2n;
const PTE_LARGE = 1n << 7n;

const SEL_CODE = 0x08;
const SEL_DATA = 0x10;
const SEL_TSS = 0x18;

function flatSegment(selector: number, code: boolean, long: boolean): Segment {
  return {
    base: 0n,
    limit: 0xffff_ffff,
    selector,
    type: code ? 0xb : 0x3, // execute/read accessed, or read/write accessed
    present: 1,
    dpl: 0,
    db: long && code ? 0 : 1,
    s: 1,
    l: long && code ? 1 : 0,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

/** The GDT entry (8 bytes) describing `seg`. */
function descriptor(seg: Segment): bigint {
  const limit = BigInt(seg.g ? seg.limit >>> 12 : seg.limit);
  const base = seg.base;
  const access = BigInt(seg.type | (seg.s << 4) | (seg.dpl << 5) | (seg.present << 7));
  const flags = BigInt((seg.avl) | (seg.l << 1) | (seg.db << 2) | (seg.g << 3));
  return (
    (limit & 0xffffn) |
    ((base & 0xffffffn) << 16n) |
    (access << 40n) |
    (((limit >> 16n) & 0xfn) << 48n) |
    (flags << 52n) |
    (((base >> 24n) & 0xffn) << 56n)
  );
}

function tssSegment(): Segment {
  // VMX requires a usable busy TSS in TR even when nothing uses it.
  return { base: 0n, limit: 0x67, selector: SEL_TSS, type: 0xb, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 };
}

function writeGdt(write: GuestWriter, at: bigint, segments: Segment[]): { base: bigint; limit: number } {
  const bytes = new Uint8Array(8 * (segments.length + 1));
  const dv = new DataView(bytes.buffer);
  segments.forEach((s, i) => dv.setBigUint64(8 * (i + 1), descriptor(s), true));
  write(at, bytes);
  return { base: at, limit: bytes.length - 1 };
}

/**
 * System state every mode set-up writes as well, so that nothing a previous
 * program loaded survives: an empty LDT (its reset value), no page-fault
 * address, no task priority, and the IDT of the mode (the real-mode IVT at 0,
 * none in protected and long mode until the program loads its own).
 */
function cleanSystemState(mode: CpuMode): Partial<SpecialRegisters> {
  return {
    ldt: { base: 0n, limit: 0xffff, selector: 0, type: 2, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 },
    idt: { base: 0n, limit: mode === 'real' ? 0xffff : 0 },
    cr2: 0n,
    cr8: 0n,
  };
}

/** Real mode at `cs:ip` (the reset state, with CS moved). */
export function setupRealMode(vcpu: Vcpu, options?: { cs?: number; ip?: bigint | number; sp?: bigint | number }): void {
  const opts = checkOptions(options, { cs: true, ip: true, sp: true }, 'setupRealMode()');
  const cs = opts.cs ?? 0;
  const sregs = vcpu.getSregs();
  const seg = (s: Segment, selector: number): Segment => ({ ...s, selector, base: BigInt(selector) << 4n, limit: 0xffff });
  vcpu.setSregs({
    cs: seg(sregs.cs, cs),
    ds: seg(sregs.ds, cs), es: seg(sregs.es, cs), ss: seg(sregs.ss, cs), fs: seg(sregs.fs, cs), gs: seg(sregs.gs, cs),
    cr0: sregs.cr0 & ~(CR0_PE | CR0_PG),
    cr4: 0n,
    efer: 0n,
    ...cleanSystemState('real'),
  });
  vcpu.setRegs({ rip: BigInt(opts.ip ?? 0), rsp: BigInt(opts.sp ?? 0), rflags: 2n });
}

export interface ProtectedModeOptions {
  /** Where the GDT goes in guest RAM (32 bytes). */
  gdtAddr: bigint;
  entry: bigint;
  stack?: bigint;
}

/** Flat 32-bit protected mode, paging off. */
export function setupProtectedMode(vcpu: Vcpu, write: GuestWriter, options: ProtectedModeOptions): void {
  const opts = checkOptions(options, { gdtAddr: true, entry: true, stack: true }, 'setupProtectedMode()');
  const code = flatSegment(SEL_CODE, true, false);
  const data = flatSegment(SEL_DATA, false, false);
  const gdt = writeGdt(write, opts.gdtAddr, [code, data, tssSegment()]);
  vcpu.setSregs({
    cs: code, ds: data, es: data, fs: data, gs: data, ss: data, tr: tssSegment(),
    gdt,
    cr0: CR0_PE | CR0_MP | CR0_ET | CR0_NE,
    cr4: 0n,
    efer: 0n,
    ...cleanSystemState('protected'),
  });
  vcpu.setRegs({ rip: opts.entry, rsp: opts.stack ?? 0n, rflags: 2n });
}

/** Size of the identity map's leaf pages. 'auto': 1 GiB when the vCPU's CPUID has pdpe1gb. */
export type LargePageSize = '2M' | '1G' | 'auto';

export interface LongModeOptions {
  /** Where the GDT goes in guest RAM (32 bytes). */
  gdtAddr: bigint;
  /** Where the page tables go, 4 KiB aligned: pageTableBytes(identityMapSize, pageSize) bytes. */
  pageTableAddr: bigint;
  /** How much to identity-map (default 4 GiB, at most 512 GiB). */
  identityMapSize?: bigint;
  /** Leaf page size (default 'auto'). */
  pageSize?: LargePageSize;
  entry: bigint;
  stack?: bigint;
}

/** CPUID.80000001H:EDX bit 26 (pdpe1gb): the CPU can map 1 GiB pages. */
export function cpuidHas1GPages(entries: readonly { function: number; edx: number }[]): boolean {
  return entries.some((e) => e.function === 0x8000_0001 && (e.edx & (1 << 26)) !== 0);
}

/** Bytes of guest RAM the long-mode page tables need for `size` bytes of identity map. */
export function pageTableBytes(size = 4n << 30n, pageSize: '2M' | '1G' = '2M'): bigint {
  if (pageSize === '1G') return 2n * 4096n; // PML4, PDPT with 1 GiB leaves
  const gigs = (size + (1n << 30n) - 1n) >> 30n;
  return (2n + gigs) * 4096n; // PML4, PDPT, one PD per GiB
}

/** Builds identity-mapping page tables placed at `pml4` (physical = linear). */
export function identityPageTables(pml4: bigint, size: bigint, pageSize: '2M' | '1G'): Uint8Array {
  const gigs = Number((size + (1n << 30n) - 1n) >> 30n);
  const pdpt = pml4 + 4096n;
  const tables = new Uint8Array(Number(pageTableBytes(size, pageSize)));
  const dv = new DataView(tables.buffer);
  dv.setBigUint64(0, pdpt | PTE_PRESENT | PTE_WRITE, true);
  for (let g = 0; g < gigs; g++) {
    if (pageSize === '1G') {
      dv.setBigUint64(4096 + 8 * g, (BigInt(g) << 30n) | PTE_PRESENT | PTE_WRITE | PTE_LARGE, true);
      continue;
    }
    const pd = pml4 + BigInt(2 + g) * 4096n;
    dv.setBigUint64(4096 + 8 * g, pd | PTE_PRESENT | PTE_WRITE, true);
    for (let i = 0; i < 512; i++) {
      const phys = (BigInt(g) << 30n) | (BigInt(i) << 21n);
      dv.setBigUint64((2 + g) * 4096 + 8 * i, phys | PTE_PRESENT | PTE_WRITE | PTE_LARGE, true);
    }
  }
  return tables;
}

/**
 * 64-bit long mode: flat segments and identity-mapped 2 MiB or 1 GiB pages.
 * 1 GiB pages need pdpe1gb in the vCPU's CPUID (set it first), or the guest's
 * first memory access page-faults on a reserved bit.
 */
export function setupLongMode(vcpu: Vcpu, write: GuestWriter, options: LongModeOptions): void {
  const opts = checkOptions(options, {
    gdtAddr: true, pageTableAddr: true, identityMapSize: true, pageSize: true, entry: true, stack: true,
  }, 'setupLongMode()');
  const size = opts.identityMapSize ?? 4n << 30n;
  if (opts.pageTableAddr % 4096n !== 0n) throw new RangeError('pageTableAddr must be 4 KiB aligned');
  if (size <= 0n || size > 512n << 30n) throw new RangeError('identityMapSize must be in (0, 512 GiB]');
  const requested = opts.pageSize ?? 'auto';
  if (!['2M', '1G', 'auto'].includes(requested)) throw new RangeError(`pageSize must be '2M', '1G' or 'auto', got ${String(requested)}`);
  const pageSize = requested === 'auto' ? (cpuidHas1GPages(vcpu.getCpuid()) ? '1G' : '2M') : requested;
  const pml4 = opts.pageTableAddr;
  write(pml4, identityPageTables(pml4, size, pageSize));

  const code = flatSegment(SEL_CODE, true, true);
  const data = flatSegment(SEL_DATA, false, true);
  const gdt = writeGdt(write, opts.gdtAddr, [code, data, tssSegment()]);
  const sregs: Partial<SpecialRegisters> = {
    cs: code, ds: data, es: data, fs: data, gs: data, ss: data, tr: tssSegment(),
    gdt,
    cr0: CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG,
    cr3: pml4,
    cr4: CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT,
    efer: EFER_LME | EFER_LMA,
    ...cleanSystemState('long'),
  };
  vcpu.setSregs(sregs);
  vcpu.setRegs({ rip: opts.entry, rsp: opts.stack ?? 0n, rflags: 2n });
}
