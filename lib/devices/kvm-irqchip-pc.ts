// The in-kernel interrupt controllers and PIT as QEMU 7.2's pc machine has
// them on KVM (kernel-irqchip=on): the chips of createInKernelIrqchip(), plus
// - QEMU's GSI routing (hw/i386/kvm/ioapic.c kvm_pc_setup_irq_routing, from
//   hw/i386/pc.c pc_gsi_create): PIC master pins 0-7 but 2 on GSI 0-7, slave
//   pins 0-7 on GSI 8-15, IOAPIC pins 1-23 but 2 on GSI 1-23, and GSI 0 on
//   IOAPIC pin 2, where the MP/ACPI tables put the timer (ISA IRQ 0 is
//   overridden to pin 2). GSI 2 reaches nothing: pin 2 of the master is the
//   cascade. KVM's default routing has GSI 0 on IOAPIC pin 0 instead, so a
//   guest that takes the PIT through IOAPIC pin 2 would never see it.
// - the regions `info mtree` shows for them: in memory kvm-ioapic
//   (hw/i386/kvm/ioapic.c, 4 KiB at 0xfec00000) and kvm-apic-msi
//   (hw/i386/kvm/apic.c, 1 MiB at 0xfee00000, priority 4096 over the PCI
//   window); in I/O space kvm-pic at 0x20 and 0xa0 (hw/i386/kvm/i8259.c) and
//   kvm-pit at 0x40 (hw/i386/kvm/i8254.c). The kernel decodes the guest's
//   accesses to all of them itself (the local APIC page, the IOAPIC page,
//   the PIC and PIT ports), so these regions are what the map shows; only
//   kvm-apic-msi sees accesses: a write above the local APIC page is an MSI
//   (a DMA write of a device, or a guest store), which QEMU sends with
//   KVM_SIGNAL_MSI and so does this device. kvm-elcr (0x4d0/0x4d1), which
//   QEMU's PIC maps too, is mapped by the PIIX3 model (piix3.ts).
// - a system reset that puts the chips in QEMU's reset state
//   (kvm_pic_reset, kvm_ioapic_reset, kvm_pit_reset). The local APICs are
//   per vCPU: their reset is the vCPU reset's (KVM_SET_LAPIC).
import type { IrqchipRoute } from '../kvm/gsi-routing';
import { ioapicState, IOAPIC_NUM_PINS, picState } from '../kvm/irqchip-fields';
import { pit2StateOf } from '../kvm/pit-state';
import type { Vm } from '../kvm/vm';
import { KvmError } from '../errors';
import { MemoryRegion } from '../memory/region';
import { UINT64_MAX } from '../util/integers';
import type { DeviceMapping } from './device';
import { createInKernelIrqchip, type InKernelIrqchip } from './irqchip';
import { ELCR_MASK } from './piix3';

/** IO_APIC_DEFAULT_ADDRESS (include/hw/intc/ioapic.h; mapped by hw/i386/x86.c ioapic_init_gsi). */
export const IO_APIC_DEFAULT_ADDRESS = 0xfec00000n;
/** APIC_DEFAULT_ADDRESS and APIC_SPACE_SIZE (include/hw/i386/apic_internal.h). */
export const APIC_DEFAULT_ADDRESS = 0xfee00000n;
export const APIC_SPACE_SIZE = 0x100000;
/** target/i386/cpu-sysemu.c x86_cpu_apic_realize: kvm-apic-msi is mapped over everything. */
const APIC_MSI_PRIORITY = 0x1000;
/** IOAPIC_LVT_MASKED (hw/intc/ioapic_internal.h): a redirection entry's mask bit. */
const IOAPIC_LVT_MASKED = 1n << 16n;
/** The PIT channels' reset (pit_reset_common): mode 3, count 0x10000, gate high but on channel 2. */
const PIT_RESET_MODE = 3;
const PIT_RESET_COUNT = 0x10000;

/** The pc machine's routes, in QEMU's order (kvm_pc_setup_irq_routing with pci_enabled). */
export function pcGsiRouting(): IrqchipRoute[] {
  const routes: IrqchipRoute[] = [];
  for (let i = 0; i < 8; i++) if (i !== 2) routes.push({ gsi: i, type: 'irqchip', irqchip: 0, pin: i });
  for (let i = 8; i < 16; i++) routes.push({ gsi: i, type: 'irqchip', irqchip: 1, pin: i - 8 });
  for (let i = 0; i < IOAPIC_NUM_PINS; i++) {
    if (i !== 2) routes.push({ gsi: i, type: 'irqchip', irqchip: 2, pin: i === 0 ? 2 : i });
  }
  return routes;
}

export type PcInKernelIrqchip = InKernelIrqchip & {
  /** QEMU's reset of the in-kernel PICs, IOAPIC and PIT (a system reset). */
  reset(): void;
  /** Writes to kvm-apic-msi that KVM refused (QEMU: "KVM: injection failed, MSI lost"). */
  readonly lostMsis: number;
};

/** The kvm-apic-msi region: reads are all ones, a write is an MSI (hw/i386/kvm/apic.c kvm_apic_mem_write). */
function apicMsiRegion(vm: Vm, onLost: () => void): MemoryRegion {
  return MemoryRegion.io('kvm-apic-msi', APIC_SPACE_SIZE, {
    read: () => UINT64_MAX,
    write: (offset, value) => {
      // QEMU sends the offset as the address: KVM reads only its destination
      // and mode bits (arch/x86/kvm/irq_comm.c kvm_set_msi_irq).
      try {
        vm.signalMsi({ address: offset, data: Number(value & 0xffffffffn) });
      } catch (err) {
        // The guest chose the message; a refusal must not stop it (QEMU logs and goes on).
        if (!(err instanceof KvmError)) throw err;
        onLost();
      }
    },
  });
}

function resetChips(vm: Vm, pit: boolean): void {
  // kvm_pic_reset: ELCR 0, then pic_reset_common clears every register; elcr_mask is the chip's property.
  const pic = { lastIrr: 0, irr: 0, imr: 0, isr: 0, priorityAdd: 0, irqBase: 0, readRegSelect: 0, poll: 0, specialMask: 0, initState: 0, autoEoi: 0, rotateOnAutoEoi: 0, specialFullyNestedMode: 0, init4: 0, elcr: 0 };
  vm.setIrqchip(picState(0, { ...pic, elcrMask: ELCR_MASK[0] }));
  vm.setIrqchip(picState(1, { ...pic, elcrMask: ELCR_MASK[1] }));
  // kvm_ioapic_reset: ioapic_reset_common, with the IOAPIC's address.
  vm.setIrqchip(ioapicState({
    baseAddress: IO_APIC_DEFAULT_ADDRESS, ioregsel: 0, id: 0, irr: 0,
    redirtbl: Array.from({ length: IOAPIC_NUM_PINS }, () => IOAPIC_LVT_MASKED),
  }));
  if (!pit) return;
  // kvm_pit_reset: pit_reset_common, loaded now (QEMU's clock back in the kernel's CLOCK_MONOTONIC).
  const now = process.hrtime.bigint();
  vm.setPit2(pit2StateOf([0, 1, 2].map((i) => ({ count: PIT_RESET_COUNT, mode: PIT_RESET_MODE, gate: i !== 2, countLoadTime: now }))));
}

/**
 * Creates the pc machine's in-kernel IRQ chip and PIT with QEMU's routing
 * and regions. Returns null when the host lacks KVM_CAP_IRQCHIP. Like
 * createInKernelIrqchip(), before the first vCPU.
 */
export function createPcInKernelIrqchip(vm: Vm): PcInKernelIrqchip | null {
  const chip = createInKernelIrqchip(vm);
  if (chip === null) return null;
  vm.setGsiRouting(pcGsiRouting());
  let lostMsis = 0;
  const mappings: DeviceMapping[] = [
    { space: 'memory', address: IO_APIC_DEFAULT_ADDRESS, region: MemoryRegion.io('kvm-ioapic', 0x1000) },
    { space: 'memory', address: APIC_DEFAULT_ADDRESS, region: apicMsiRegion(vm, () => { lostMsis++; }), priority: APIC_MSI_PRIORITY },
    { space: 'io', address: 0x20n, region: MemoryRegion.io('kvm-pic', 2) },
    { space: 'io', address: 0x40n, region: MemoryRegion.io('kvm-pit', 4) },
    { space: 'io', address: 0xa0n, region: MemoryRegion.io('kvm-pic', 2) },
  ];
  return {
    ...chip,
    mappings,
    reset: () => resetChips(vm, chip.pit),
    get lostMsis() { return lostMsis; },
  };
}
