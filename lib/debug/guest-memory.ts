// A debugger's view of guest memory: guest-linear (virtual) addresses
// through the vCPU's current page tables (KVM_TRANSLATE; identity with
// paging off, so "linear" in real mode, as QEMU's gdbstub reads), page by
// page, RAM and ROM only. Reading device registers on a debugger's whim
// would have side effects (a UART's receive buffer), so MMIO reads as unmapped.
import type { Vcpu } from '../kvm/vcpu';
import type { AddressSpace } from '../memory/address-space';
import { MemTxResult } from '../memory/types';
import { hex } from '../util/hex';

const PAGE = 0x1000n;
const MASK64 = (1n << 64n) - 1n;

/** A guest-linear address with no RAM behind it (not mapped, or MMIO). */
export class GuestMemoryError extends RangeError {
  constructor(readonly address: bigint, why: string) {
    super(`guest address ${hex(address)} ${why}`);
    this.name = 'GuestMemoryError';
  }
}

export class GuestLinearMemory {
  constructor(private readonly system: AddressSpace) {}

  /** The guest-physical address of `linear`, or a GuestMemoryError. */
  physical(vcpu: Vcpu, linear: bigint): bigint {
    const t = vcpu.translate(linear & MASK64);
    if (!t.valid) throw new GuestMemoryError(linear, 'is not mapped by the guest\'s page tables');
    return t.physicalAddress;
  }

  read(vcpu: Vcpu, linear: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.pages(vcpu, linear, length, (gpa, at, n) => {
      const { data, result } = this.system.read(gpa, n);
      if (result !== MemTxResult.OK) throw new GuestMemoryError(linear + BigInt(at), 'cannot be read');
      out.set(data, at);
    });
    return out;
  }

  write(vcpu: Vcpu, linear: bigint, bytes: Uint8Array): void {
    // Translate every page first, so a write that fails changes nothing.
    const chunks: [bigint, number, number][] = [];
    this.pages(vcpu, linear, bytes.length, (gpa, at, n) => chunks.push([gpa, at, n]));
    for (const [gpa, at, n] of chunks) {
      if (this.system.write(gpa, bytes.subarray(at, at + n)) !== MemTxResult.OK) throw new GuestMemoryError(linear + BigInt(at), 'cannot be written');
    }
  }

  /** Calls `each` for every page-bounded piece of [linear, linear+length) with its physical address, after checking it is RAM. */
  private pages(vcpu: Vcpu, linear: bigint, length: number, each: (gpa: bigint, at: number, n: number) => void): void {
    let at = 0;
    while (at < length) {
      const va = (linear + BigInt(at)) & MASK64;
      const n = Math.min(length - at, Number(PAGE - (va % PAGE)));
      const gpa = this.physical(vcpu, va);
      const s = this.system.findSection(gpa, BigInt(n));
      if (s === null || !s.mr.isRam || s.size < BigInt(n)) throw new GuestMemoryError(va, `(physical ${hex(gpa)}) is not RAM or ROM`);
      each(gpa, at, n);
      at += n;
    }
  }
}
