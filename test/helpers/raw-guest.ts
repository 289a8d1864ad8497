// A guest on the raw KVM layer (no memory model): 2 MiB of RAM at 0, code
// copied in, and a vCPU set up in real mode (code at 0x1000) or long mode
// (code at 0x100000, page tables at 0x10000). reset() restores the code and
// the vCPU state so one VM can run many guests.
import { allocateHostMemory, HostMemory, Kvm, setupLongMode, setupRealMode, Vcpu, Vm } from '../../lib';

export const RAM_SIZE = 2 << 20;
export const REAL_ENTRY = 0x1000n;
export const LONG_ENTRY = 0x100000n;

export interface RawGuest {
  vm: Vm;
  ram: HostMemory;
  vcpu: Vcpu;
  entry: bigint;
  write(gpa: bigint, bytes: ArrayLike<number>): void;
  reset(code?: ArrayLike<number>): void;
  close(): void;
}

export function rawGuest(kvm: Kvm, code: ArrayLike<number>, mode: 'real' | 'long' = 'long'): RawGuest {
  const vm = kvm.createVm();
  const ram = allocateHostMemory(RAM_SIZE);
  const bytes = ram.bytes();
  const entry = mode === 'real' ? REAL_ENTRY : LONG_ENTRY;
  const write = (gpa: bigint, b: ArrayLike<number>) => bytes.set(b, Number(gpa));
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memorySize: BigInt(RAM_SIZE), userspaceAddr: ram.hostAddress });
  const vcpu = vm.createVcpu(0);
  const reset = (newCode: ArrayLike<number> = code) => {
    bytes.fill(0);
    write(entry, newCode);
    if (mode === 'real') setupRealMode(vcpu, { ip: entry, sp: 0x8000n });
    else setupLongMode(vcpu, (g, b) => write(g, b), {
      gdtAddr: 0x500n, pageTableAddr: 0x10000n, identityMapSize: 1n << 30n, entry, stack: 0x80000n,
    });
  };
  reset();
  return {
    vm, ram, vcpu, entry, write, reset,
    close() {
      vm.close();
      ram.close();
    },
  };
}
