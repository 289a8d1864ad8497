// The in-kernel interrupt controllers and timer (8259 PICs, IOAPIC, local
// APICs, 8254 PIT), created when the host offers them. They must exist before
// the first vCPU is created. With them, `hlt` waits in the kernel for an
// interrupt instead of exiting to userspace, and ports 0x20/0xa0 (PICs) and
// 0x40-0x43 (PIT) are handled by the kernel.
import { kvmConstant, layout } from '../binding';
import type { Vm } from '../kvm/vm';
import { checkOptions } from '../options';
import type { DeviceStateValue, SnapshotDevice } from '../snapshot/device-state';

export interface InKernelIrqchip extends SnapshotDevice {
  /** True when KVM_CREATE_PIT2 succeeded. */
  readonly pit: boolean;
  /** Drives a GSI (0-23: ISA IRQs through PIC and IOAPIC). */
  setIrq(irq: number, level: boolean): void;
}

// kvm_irqchip.chip_id values: the two 8259 PICs and the IOAPIC.
const CHIPS = [0, 1, 2] as const;

/** The kernel's PIC, IOAPIC and PIT state, as raw structs. */
function saveChips(vm: Vm, pit: boolean): DeviceStateValue {
  const chips = CHIPS.map((id) => {
    const bytes = new Uint8Array(layout('sizeof.kvm_irqchip'));
    new DataView(bytes.buffer).setUint32(0, id, true);
    vm.ioctl('KVM_GET_IRQCHIP', bytes);
    return bytes;
  });
  const out: { [k: string]: DeviceStateValue } = { chips };
  if (pit) {
    const bytes = new Uint8Array(layout('sizeof.kvm_pit_state2'));
    vm.ioctl('KVM_GET_PIT2', bytes);
    out.pit = bytes;
  }
  return out;
}

function loadChips(vm: Vm, pit: boolean, state: DeviceStateValue): void {
  const s = state as { chips?: unknown; pit?: unknown } | null;
  const chips = s?.chips;
  if (!Array.isArray(chips) || chips.length !== CHIPS.length ||
      !chips.every((c, i) => c instanceof Uint8Array && c.length === layout('sizeof.kvm_irqchip') && new DataView(c.buffer, c.byteOffset).getUint32(0, true) === CHIPS[i])) {
    throw new TypeError('kvm-irqchip state: chips must be the PIC master, PIC slave and IOAPIC structs');
  }
  if (pit && !(s?.pit instanceof Uint8Array && s.pit.length === layout('sizeof.kvm_pit_state2'))) {
    throw new TypeError('kvm-irqchip state: pit must be a kvm_pit_state2 struct');
  }
  for (const c of chips as Uint8Array[]) vm.ioctl('KVM_SET_IRQCHIP', c);
  if (pit) vm.ioctl('KVM_SET_PIT2', s!.pit as Uint8Array);
}

/**
 * Creates the in-kernel IRQ chip (and PIT when `pit` is true). Returns null
 * when the host lacks KVM_CAP_IRQCHIP.
 */
export function createInKernelIrqchip(vm: Vm, options?: { pit?: boolean }): InKernelIrqchip | null {
  const opts = checkOptions(options, { pit: true }, 'createInKernelIrqchip()');
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
    snapshotName: 'kvm-irqchip',
    saveState: () => saveChips(vm, pit),
    loadState: (state) => loadChips(vm, pit, state),
    setIrq(irq: number, high: boolean): void {
      if (!Number.isInteger(irq) || irq < 0 || irq > 23) throw new RangeError(`irq must be an integer in [0, 23], got ${String(irq)}`);
      dv.setUint32(0, irq, true);
      dv.setUint32(4, high ? 1 : 0, true);
      vm.ioctl('KVM_IRQ_LINE', level);
    },
  };
}
