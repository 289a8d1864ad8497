// struct kvm_cpuid2 / kvm_cpuid_entry2: the CPUID leaves KVM offers or a
// guest sees, as plain objects.
import { layout } from '../binding';

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** struct kvm_cpuid2's header: u32 nent, u32 padding. */
const HEADER = 8;

function entrySize(): number {
  return layout('sizeof.kvm_cpuid_entry2');
}

/** An empty struct kvm_cpuid2 with room for `n` entries (nent = n), for the GET ioctls. */
export function cpuidBuffer(n: number): Uint8Array {
  const bytes = new Uint8Array(HEADER + n * entrySize());
  new DataView(bytes.buffer).setUint32(0, n, true);
  return bytes;
}

export function decodeCpuid(bytes: Uint8Array): CpuidEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = entrySize();
  const n = dv.getUint32(0, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = HEADER + i * size;
    const w = (k: number) => dv.getUint32(at + 4 * k, true);
    out.push({ function: w(0), index: w(1), flags: w(2), eax: w(3), ebx: w(4), ecx: w(5), edx: w(6) });
  }
  return out;
}

export function encodeCpuid(entries: readonly CpuidEntry[]): Uint8Array {
  const size = entrySize();
  const bytes = cpuidBuffer(entries.length);
  const dv = new DataView(bytes.buffer);
  entries.forEach((e, i) => {
    const at = HEADER + i * size;
    [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx].forEach((v, k) => dv.setUint32(at + 4 * k, v >>> 0, true));
  });
  return bytes;
}
