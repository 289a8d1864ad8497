// The in-kernel interrupt controllers and timer (8259 PICs, IOAPIC, local
// APICs, 8254 PIT), created when the host offers them. They must exist before
// the first vCPU is created. With them, `hlt` waits in the kernel for an
// interrupt instead of exiting to userspace, and ports 0x20/0xa0 (PICs) and
// 0x40-0x43 (PIT) are handled by the kernel: the device maps no region.
import { IRQCHIP_IDS, irqchipState, pit2State } from '../kvm/irqchip-state';
import type { Vm } from '../kvm/vm';
import { checkOptions } from '../options';
import type { DeviceStateValue, SnapshotDevice } from '../snapshot/device-state';
import type { Device } from './device';
import { checkGsi, type IrqLine, kvmIrqLine } from './irq-line';

export type InKernelIrqchip = Device & SnapshotDevice & {
  /** True when KVM_CREATE_PIT2 succeeded. */
  readonly pit: boolean;
  /** Drives a GSI (0-23: ISA IRQs through PIC and IOAPIC). */
  setIrq(irq: number, level: boolean): void;
  /** The line into GSI `irq`, for a device's interrupt output. */
  line(irq: number): IrqLine;
};

/**
 * The kernel's PIC, IOAPIC and PIT state. Snapshots keep the raw structs
 * (`chips`: PIC master, PIC slave, IOAPIC; `pit`), as snapshot files always did.
 */
function saveChips(vm: Vm, pit: boolean): DeviceStateValue {
  const out: { [k: string]: DeviceStateValue } = { chips: IRQCHIP_IDS.map((id) => vm.getIrqchip(id).bytes) };
  if (pit) out.pit = vm.getPit2().bytes;
  return out;
}

/** The checked state, or null where the check failed (loadState reports it in its own words). */
function checked<T>(check: () => T): T | null {
  try {
    return check();
  } catch {
    return null;
  }
}

function loadChips(vm: Vm, pit: boolean, state: DeviceStateValue): void {
  const s = state as { chips?: unknown; pit?: unknown } | null;
  const chips = s?.chips;
  // Everything is checked before the kernel's state changes.
  const states = Array.isArray(chips) && chips.length === IRQCHIP_IDS.length ? chips.map((c) => checked(() => irqchipState(c))) : [];
  if (states.length === 0 || !states.every((c, i) => c?.chipId === IRQCHIP_IDS[i])) {
    throw new TypeError('kvm-irqchip state: chips must be the PIC master, PIC slave and IOAPIC structs');
  }
  const pitState = pit ? checked(() => pit2State(s?.pit)) : null;
  if (pit && pitState === null) throw new TypeError('kvm-irqchip state: pit must be a kvm_pit_state2 struct');
  for (const c of states) vm.setIrqchip(c!);
  if (pitState) vm.setPit2(pitState);
}

/**
 * Creates the in-kernel IRQ chip (and PIT when `pit` is true). Returns null
 * when the host lacks KVM_CAP_IRQCHIP.
 */
export function createInKernelIrqchip(vm: Vm, options?: { pit?: boolean }): InKernelIrqchip | null {
  const opts = checkOptions(options, { pit: true }, 'createInKernelIrqchip()');
  if (!vm.checkExtension('IRQCHIP')) return null;
  vm.createIrqchip();
  let pit = false;
  if ((opts.pit ?? true) && vm.checkExtension('PIT2')) {
    // The speaker port (0x61) stays with userspace (where nothing answers).
    vm.createPit2({ speakerDummy: true });
    pit = true;
  }
  return {
    name: 'kvm-irqchip',
    mappings: [],
    pit,
    snapshotName: 'kvm-irqchip',
    saveState: () => saveChips(vm, pit),
    loadState: (state) => loadChips(vm, pit, state),
    setIrq: (irq, high) => vm.irqLine(checkGsi(irq), high),
    line: (irq) => kvmIrqLine(vm, irq),
  };
}
