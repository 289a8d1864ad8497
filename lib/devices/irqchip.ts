// The in-kernel interrupt controllers and timer (8259 PICs, IOAPIC, local
// APICs, 8254 PIT), created when the host offers them. They must exist before
// the first vCPU is created. With them, `hlt` waits in the kernel for an
// interrupt instead of exiting to userspace, and ports 0x20/0xa0 (PICs) and
// 0x40-0x43 (PIT) are handled by the kernel.
import { kvmConstant, layout } from '../binding';
import type { Vm } from '../kvm/vm';

export interface InKernelIrqchip {
  /** True when KVM_CREATE_PIT2 succeeded. */
  readonly pit: boolean;
  /** Drives a GSI (0-23: ISA IRQs through PIC and IOAPIC). */
  setIrq(irq: number, level: boolean): void;
}

/**
 * Creates the in-kernel IRQ chip (and PIT when `pit` is true). Returns null
 * when the host lacks KVM_CAP_IRQCHIP.
 */
export function createInKernelIrqchip(vm: Vm, opts: { pit?: boolean } = {}): InKernelIrqchip | null {
  if (!vm.checkExtension('IRQCHIP')) return null;
  vm.ioctl('KVM_CREATE_IRQCHIP');
  let pit = false;
  if ((opts.pit ?? true) && vm.checkExtension('PIT2')) {
    const config = new Uint8Array(layout('sizeof.kvm_pit_config'));
    // The speaker port (0x61) stays with userspace (where nothing answers).
    new DataView(config.buffer).setUint32(0, kvmConstant('KVM_PIT_SPEAKER_DUMMY'), true);
    vm.ioctl('KVM_CREATE_PIT2', config);
    pit = true;
  }
  const level = new Uint8Array(layout('sizeof.kvm_irq_level'));
  const dv = new DataView(level.buffer);
  return {
    pit,
    setIrq(irq: number, high: boolean): void {
      if (!Number.isInteger(irq) || irq < 0 || irq > 23) throw new RangeError(`irq must be an integer in [0, 23], got ${String(irq)}`);
      dv.setUint32(0, irq, true);
      dv.setUint32(4, high ? 1 : 0, true);
      vm.ioctl('KVM_IRQ_LINE', level);
    },
  };
}
