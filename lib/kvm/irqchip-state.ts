// The in-kernel interrupt controller and PIT structs of <linux/kvm.h>
// (kvm_irqchip, kvm_pit_state2, kvm_pit_config, kvm_irq_level) behind typed
// objects, so that code outside lib/kvm never builds these byte buffers. The
// chip and PIT states stay opaque: their contents are the kernel's business,
// node-kvm only saves and restores them whole.
import { kvmConstant, layout } from '../binding';
import { toUint } from '../util/integers';

/** kvm_irqchip.chip_id: KVM_IRQCHIP_PIC_MASTER (0), KVM_IRQCHIP_PIC_SLAVE (1), KVM_IRQCHIP_IOAPIC (2). */
export type IrqchipId = 0 | 1 | 2;
export const IRQCHIP_IDS: readonly IrqchipId[] = [0, 1, 2];

/** One in-kernel interrupt controller's state (struct kvm_irqchip), opaque but for its chip id. */
export interface IrqchipState {
  readonly chipId: IrqchipId;
  /** The whole struct kvm_irqchip, as KVM_GET_IRQCHIP returned it. */
  readonly bytes: Uint8Array;
}

/** The in-kernel PIT's state (struct kvm_pit_state2), opaque. */
export interface Pit2State {
  /** The whole struct kvm_pit_state2, as KVM_GET_PIT2 returned it. */
  readonly bytes: Uint8Array;
}

// struct kvm_irqchip: u32 chip_id, u32 pad, then the chip's union.
/** A buffer for KVM_GET_IRQCHIP of `chipId`. */
export function irqchipBuffer(chipId: IrqchipId): Uint8Array {
  if (!IRQCHIP_IDS.includes(chipId)) throw new RangeError(`chipId must be 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC), got ${String(chipId)}`);
  const bytes = new Uint8Array(layout('sizeof.kvm_irqchip'));
  new DataView(bytes.buffer).setUint32(0, chipId, true);
  return bytes;
}

/**
 * Wraps saved struct kvm_irqchip bytes (a snapshot's, say) after checking their
 * size and chip id, so that KVM_SET_IRQCHIP gets nothing it would misread.
 */
export function irqchipState(bytes: unknown): IrqchipState {
  const size = layout('sizeof.kvm_irqchip');
  if (!(bytes instanceof Uint8Array) || bytes.length !== size) throw new TypeError(`an irqchip state must be a ${size}-byte struct kvm_irqchip`);
  const chipId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (!IRQCHIP_IDS.includes(chipId as IrqchipId)) throw new RangeError(`an irqchip state names chip ${chipId}; KVM has chips 0 (PIC master), 1 (PIC slave) and 2 (IOAPIC)`);
  return { chipId: chipId as IrqchipId, bytes };
}

/** A buffer for KVM_GET_PIT2. */
export function pit2Buffer(): Uint8Array {
  return new Uint8Array(layout('sizeof.kvm_pit_state2'));
}

/** Wraps saved struct kvm_pit_state2 bytes after checking their size. */
export function pit2State(bytes: unknown): Pit2State {
  const size = layout('sizeof.kvm_pit_state2');
  if (!(bytes instanceof Uint8Array) || bytes.length !== size) throw new TypeError(`a PIT state must be a ${size}-byte struct kvm_pit_state2`);
  return { bytes };
}

// struct kvm_pit_config: u32 flags, u32 pad[15].
export function pitConfig(options: { speakerDummy: boolean }): Uint8Array {
  const bytes = new Uint8Array(layout('sizeof.kvm_pit_config'));
  if (options.speakerDummy) new DataView(bytes.buffer).setUint32(0, kvmConstant('KVM_PIT_SPEAKER_DUMMY'), true);
  return bytes;
}

/**
 * struct kvm_irq_level (u32 irq, u32 level), encoded into one buffer that is
 * reused: KVM_IRQ_LINE is on a device's hot path (every interrupt edge).
 */
export class IrqLevelBuffer {
  readonly bytes = new Uint8Array(layout('sizeof.kvm_irq_level'));
  private readonly view = new DataView(this.bytes.buffer);

  set(gsi: number, level: boolean): Uint8Array {
    this.view.setUint32(0, toUint(gsi, 32, 'gsi'), true);
    this.view.setUint32(4, level ? 1 : 0, true);
    return this.bytes;
  }
}
