// Starting a kernel without firmware: the bytes a boot protocol's loader
// lays out (the kernel, its modules, the boot information) written into
// guest RAM, then the vCPU put into 32-bit flat protected mode, paging off,
// at the kernel's entry with the registers the protocol passes
// (multiboot: EAX = 0x2BADB002, EBX = the MBI; PVH: EBX = hvm_start_info).
// CR0 is PE alone (with ET, which the CPU hardwires), what the pc
// machine's option ROMs leave, so a kernel sees the same as under QEMU.
import type { Vcpu } from '../../kvm/vcpu';
import { CR0_ET, CR0_PE, type GuestWriter, setupProtectedMode } from '../../x86/modes';

/** Bytes for guest-physical `address`. */
export interface DirectBootWrite {
  address: bigint;
  bytes: Uint8Array;
}

/** What to write, and the registers the kernel starts with. */
export interface DirectBootEntry {
  writes: DirectBootWrite[];
  registers: { eip: bigint; eax?: bigint; ebx: bigint };
}

/** Writes `boot` and enters the kernel, with the flat GDT at `gdtAddr`. */
export function enterDirectBoot(vcpu: Vcpu, write: GuestWriter, boot: DirectBootEntry, gdtAddr: bigint): void {
  for (const w of boot.writes) write(w.address, w.bytes);
  setupProtectedMode(vcpu, write, { gdtAddr, entry: boot.registers.eip });
  vcpu.setSregs({ cr0: CR0_PE | CR0_ET });
  vcpu.setRegs({ rax: boot.registers.eax ?? 0n, rbx: boot.registers.ebx });
}
