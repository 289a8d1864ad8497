// QEMU's vmport (hw/i386/vmport.c): VMware's backdoor port 0x5658 ("VX").
// A guest loads EAX with the magic 'VMXh' (0x564d5868) and ECX with a
// command and reads (or writes) the port; the answer comes back in
// registers. Of QEMU 7.2's commands this has GETVERSION (0x0a: EAX 6, EBX
// the magic, ECX 2, "VMware ESX Server": vmware-vmx-version, x-report-vmx-type,
// vmware-vmx-type), GETBIOSUUID (0x13: the UUID in EAX-EDX, all zero as
// QEMU's without -uuid) and GETRAMSIZE (0x14: EAX the RAM size, EBX 0x1177).
// A wrong magic or another command gives EAX all ones
// (x-signal-unsupported-cmd). As in QEMU
// (x-read-set-eax), EAX is set to the answer too, so an 8- or 16-bit read
// still leaves the whole answer in EAX; a write sets EAX the same way
// (vmport_ioport_write). The region implements 4-byte accesses only: a
// narrower one reads 4 bytes and keeps the low ones (access_with_adjusted_size).
//
// Not here (they answer all ones): QEMU's vmmouse (commands 39-41), which
// the pc machine adds with the i8042, GETHZ (45: the host's TSC rate) and
// GET_VCPU_INFO (68: the CPU model's x2APIC bit).
import { currentVcpu } from '../kvm/current-cpu';
import type { Registers } from '../kvm/registers';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import type { Device, DeviceMapping } from './device';

export const VMPORT_PORT = 0x5658;
export const VMPORT_MAGIC = 0x564d5868;
export const VMPORT_CMD_GETVERSION = 0x0a;
export const VMPORT_CMD_GETBIOSUUID = 0x13;
export const VMPORT_CMD_GETRAMSIZE = 0x14;
/** GETVERSION's EAX (vmport_cmd_get_version). */
const VMPORT_VERSION = 6;
/** GETVERSION's ECX: vmware-vmx-type 2, VMware ESX Server. */
const VMPORT_VMX_TYPE = 2;
/** GETRAMSIZE's EBX (vmport_cmd_ram_size). */
const VMPORT_RAMSIZE_EBX = 0x1177;
const ALL_ONES = 0xffffffff;

/** The registers of the vCPU that accessed the port (a Vcpu has these). */
export interface VmportCpu {
  getRegs(): Registers;
  setRegs(regs: Partial<Registers>): void;
}

export interface VmportOptions {
  /** The machine's RAM size in bytes (QEMU's ram_size; GETRAMSIZE gives its low 32 bits). */
  ramSize: bigint | number;
  /** The accessing vCPU (default: the run loop's current vCPU); null: an access from the host. */
  cpu?: () => VmportCpu | null;
}

const VMPORT_OPTIONS = { ramSize: true, cpu: true } as const satisfies OptionKeys<VmportOptions>;

/** No snapshot state: QEMU's vmport has none (its command table is fixed at realize). */
export class Vmport implements Device {
  /** QEMU's type name. */
  readonly name = 'vmport';
  /** "vmport", 1 byte. */
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];
  private readonly ramSize: number;
  private readonly cpu: () => VmportCpu | null;

  constructor(options: VmportOptions) {
    const opts = checkOptions(options, VMPORT_OPTIONS, 'new Vmport()');
    const ram = typeof opts.ramSize === 'number' && Number.isSafeInteger(opts.ramSize) ? BigInt(opts.ramSize) : opts.ramSize;
    if (typeof ram !== 'bigint' || ram < 0n) throw new RangeError(`vmport ramSize must be a byte count (bigint or safe integer), got ${String(opts.ramSize)}`);
    if (opts.cpu !== undefined && typeof opts.cpu !== 'function') throw new TypeError('vmport cpu must be a function () => the accessing vCPU or null');
    this.ramSize = Number(ram & 0xffffffffn);
    this.cpu = opts.cpu ?? currentVcpu;
    this.region = MemoryRegion.io('vmport', 1, {
      read: () => this.command(),
      write: () => { this.command(); },
      impl: { minAccessSize: 4, maxAccessSize: 4 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(VMPORT_PORT), region: this.region }];
  }

  /** vmport_ioport_read: runs the command in the CPU's registers; EAX gets the answer. */
  private command(): number {
    const cpu = this.cpu();
    if (cpu === null) return ALL_ONES; // no CPU's registers to read (QEMU's monitor would crash here)
    const regs = cpu.getRegs();
    // QEMU's env->regs[] are target_ulong: a 32-bit value replaces all 64 bits
    let set: Partial<Registers> = { rax: BigInt(ALL_ONES) };
    if (Number(regs.rax & 0xffffffffn) === VMPORT_MAGIC) {
      const cmd = Number(regs.rcx & 0xffn);
      if (cmd === VMPORT_CMD_GETVERSION) set = { rax: BigInt(VMPORT_VERSION), rbx: BigInt(VMPORT_MAGIC), rcx: BigInt(VMPORT_VMX_TYPE) };
      else if (cmd === VMPORT_CMD_GETBIOSUUID) set = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n };
      else if (cmd === VMPORT_CMD_GETRAMSIZE) set = { rax: BigInt(this.ramSize), rbx: BigInt(VMPORT_RAMSIZE_EBX) };
    }
    cpu.setRegs(set);
    return Number(set.rax);
  }
}
