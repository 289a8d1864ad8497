// The fields of the in-kernel 8259 and IOAPIC states (the chip union of
// struct kvm_irqchip, <linux/kvm.h>), for the code that must write a given
// state (a system reset) or look at one (tests): snapshots keep the structs
// opaque (irqchip-state.ts).
//
// struct kvm_pic_state (16 u8 at offset 8): last_irr, irr, imr, isr,
// priority_add, irq_base, read_reg_select, poll, special_mask, init_state,
// auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode, init4, elcr,
// elcr_mask. struct kvm_ioapic_state (at offset 8): u64 base_address,
// u32 ioregsel, u32 id, u32 irr, u32 pad, u64 redirtbl[24]. Kernel ABI,
// fixed since Linux 2.6.
import { layout } from '../binding';
import { toU64, toUint } from '../util/integers';
import { irqchipBuffer, irqchipState, type IrqchipState } from './irqchip-state';

const CHIP_OFFSET = 8;
const PIC_FIELDS = [
  'lastIrr', 'irr', 'imr', 'isr', 'priorityAdd', 'irqBase', 'readRegSelect', 'poll', 'specialMask', 'initState',
  'autoEoi', 'rotateOnAutoEoi', 'specialFullyNestedMode', 'init4', 'elcr', 'elcrMask',
] as const;
/** KVM_IOAPIC_NUM_PINS */
export const IOAPIC_NUM_PINS = 24;
const OFF_IOAPIC_BASE = CHIP_OFFSET;
const OFF_IOREGSEL = CHIP_OFFSET + 8;
const OFF_IOAPIC_ID = CHIP_OFFSET + 12;
const OFF_IOAPIC_IRR = CHIP_OFFSET + 16;
const OFF_REDIRTBL = CHIP_OFFSET + 24;

/** One 8259's registers, as kvm_pic_state holds them (each a byte). */
export type PicFields = { readonly [K in (typeof PIC_FIELDS)[number]]: number };

/** The IOAPIC's registers, as kvm_ioapic_state holds them. */
export interface IoapicFields {
  readonly baseAddress: bigint;
  readonly ioregsel: number;
  readonly id: number;
  /** Pins whose input is asserted but not yet delivered, one bit per pin. */
  readonly irr: number;
  /** The 24 redirection entries (64 bits each). */
  readonly redirtbl: readonly bigint[];
}

function view(state: IrqchipState): DataView {
  const bytes = irqchipState(state?.bytes).bytes;
  if (bytes.length < OFF_REDIRTBL + IOAPIC_NUM_PINS * 8) throw new RangeError('struct kvm_irqchip is smaller than the IOAPIC state');
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The registers of a PIC master (chip 0) or slave (chip 1) state. */
export function picFields(state: IrqchipState): PicFields {
  const v = view(state);
  if (state.chipId === 2) throw new RangeError('picFields() takes a PIC state (chip 0 or 1), got the IOAPIC (chip 2)');
  return Object.fromEntries(PIC_FIELDS.map((k, i) => [k, v.getUint8(CHIP_OFFSET + i)])) as PicFields;
}

/** A PIC master or slave state with these registers (the rest of the struct zero). */
export function picState(chipId: 0 | 1, fields: PicFields): IrqchipState {
  if (chipId !== 0 && chipId !== 1) throw new RangeError(`picState() takes chip 0 (master) or 1 (slave), got ${String(chipId)}`);
  const bytes = irqchipBuffer(chipId);
  PIC_FIELDS.forEach((k, i) => { bytes[CHIP_OFFSET + i] = toUint(fields?.[k], 8, `PIC ${k}`); });
  return irqchipState(bytes);
}

/** The registers of an IOAPIC (chip 2) state. */
export function ioapicFields(state: IrqchipState): IoapicFields {
  const v = view(state);
  if (state.chipId !== 2) throw new RangeError(`ioapicFields() takes the IOAPIC state (chip 2), got chip ${state.chipId}`);
  return {
    baseAddress: v.getBigUint64(OFF_IOAPIC_BASE, true),
    ioregsel: v.getUint32(OFF_IOREGSEL, true),
    id: v.getUint32(OFF_IOAPIC_ID, true),
    irr: v.getUint32(OFF_IOAPIC_IRR, true),
    redirtbl: Array.from({ length: IOAPIC_NUM_PINS }, (_, i) => v.getBigUint64(OFF_REDIRTBL + i * 8, true)),
  };
}

/** An IOAPIC state with these registers. */
export function ioapicState(fields: IoapicFields): IrqchipState {
  const redirtbl = fields?.redirtbl;
  if (!Array.isArray(redirtbl) || redirtbl.length !== IOAPIC_NUM_PINS) throw new TypeError(`ioapicState() needs redirtbl: ${IOAPIC_NUM_PINS} redirection entries`);
  if (layout('sizeof.kvm_irqchip') < OFF_REDIRTBL + IOAPIC_NUM_PINS * 8) throw new RangeError('struct kvm_irqchip is smaller than the IOAPIC state');
  const bytes = irqchipBuffer(2);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(OFF_IOAPIC_BASE, toU64(fields.baseAddress, 'IOAPIC baseAddress'), true);
  v.setUint32(OFF_IOREGSEL, toUint(fields.ioregsel, 32, 'IOAPIC ioregsel'), true);
  v.setUint32(OFF_IOAPIC_ID, toUint(fields.id, 32, 'IOAPIC id'), true);
  v.setUint32(OFF_IOAPIC_IRR, toUint(fields.irr, 32, 'IOAPIC irr'), true);
  redirtbl.forEach((e, i) => v.setBigUint64(OFF_REDIRTBL + i * 8, toU64(e, `IOAPIC redirtbl[${i}]`), true));
  return irqchipState(bytes);
}
