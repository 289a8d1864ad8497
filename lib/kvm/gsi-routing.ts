// The GSI routing table (struct kvm_irq_routing of <linux/kvm.h>, for
// KVM_SET_GSI_ROUTING) and MSI messages (struct kvm_msi, for KVM_SIGNAL_MSI)
// behind typed objects. The table replaces KVM's whole default routing, so
// every entry is checked here, with the kernel's own rules
// (virt/kvm/irqchip.c setup_routing_entry, arch/x86/kvm/irq_comm.c
// kvm_set_routing_entry), before anything is sent: a bad table is a clear
// error and leaves the routing in force unchanged.
//
// struct kvm_irq_routing: u32 nr, u32 flags (0), entries[nr]. Each
// kvm_irq_routing_entry (48 bytes): u32 gsi, u32 type, u32 flags, u32 pad,
// then a 32-byte union: irqchip {u32 irqchip, u32 pin} or msi {u32
// address_lo, u32 address_hi, u32 data, u32 devid}. struct kvm_msi (32
// bytes): u32 address_lo, address_hi, data, flags, devid, u8 pad[12].
import { kvmConstant, layout } from '../binding';
import { toU64, toUint } from '../util/integers';
import { IRQCHIP_IDS, type IrqchipId } from './irqchip-state';
import { checkStructSize } from './struct-size';

const HEADER_SIZE = 8;
const ENTRY_SIZE = 48;
const MSI_SIZE = 32;
const OFF_U = 16;

/** Pins per chip: 8 on each 8259 (arch/x86/kvm/irq.h PIC_NUM_PINS / 2), 24 on the IOAPIC. */
const CHIP_PINS: Readonly<Record<IrqchipId, number>> = { 0: 8, 1: 8, 2: 24 };
const CHIP_NAMES: Readonly<Record<IrqchipId, string>> = { 0: 'the PIC master', 1: 'the PIC slave', 2: 'the IOAPIC' };

/** A GSI wired to a pin of an in-kernel interrupt controller (KVM_IRQ_ROUTING_IRQCHIP). */
export interface IrqchipRoute {
  readonly gsi: number;
  readonly type: 'irqchip';
  /** 0: PIC master, 1: PIC slave, 2: IOAPIC (kvm_irqchip.chip_id). */
  readonly irqchip: IrqchipId;
  readonly pin: number;
}

/** An MSI message: the address and data a device writes (0xfee0_0000 | destination << 12 | ...). */
export interface MsiMessage {
  /** Up to 64 bits; KVM reads the destination and mode bits of it. */
  readonly address: bigint | number;
  /** The 32-bit data word (vector, delivery mode, trigger mode). */
  readonly data: number;
}

/** A GSI that sends an MSI message when raised (KVM_IRQ_ROUTING_MSI). */
export interface MsiRoute extends MsiMessage {
  readonly gsi: number;
  readonly type: 'msi';
}

export type GsiRoute = IrqchipRoute | MsiRoute;

function checkSizes(): void {
  checkStructSize('kvm_irq_routing_entry', ENTRY_SIZE);
  checkStructSize('kvm_msi', MSI_SIZE);
  if (layout('irq_routing_entry.u') !== OFF_U) throw new Error(`node-kvm: kvm_irq_routing_entry.u is at ${layout('irq_routing_entry.u')} in <linux/kvm.h>, expected ${OFF_U}`);
}

function checkRoute(route: unknown, where: string, maxGsi: number): GsiRoute {
  if (typeof route !== 'object' || route === null) throw new TypeError(`${where} must be an object { gsi, type: 'irqchip', irqchip, pin } or { gsi, type: 'msi', address, data }`);
  const r = route as Record<string, unknown>;
  const gsi = r.gsi;
  if (typeof gsi !== 'number' || !Number.isInteger(gsi) || gsi < 0 || gsi > maxGsi) {
    throw new RangeError(`${where}.gsi must be an integer in [0, ${maxGsi}] (KVM_CAP_IRQ_ROUTING - 1), got ${String(gsi)}`);
  }
  if (r.type === 'irqchip') {
    const chip = r.irqchip as IrqchipId;
    if (!IRQCHIP_IDS.includes(chip)) throw new RangeError(`${where}.irqchip must be 0 (PIC master), 1 (PIC slave) or 2 (IOAPIC), got ${String(r.irqchip)}`);
    const pins = CHIP_PINS[chip];
    const pin = r.pin;
    if (typeof pin !== 'number' || !Number.isInteger(pin) || pin < 0 || pin >= pins) {
      throw new RangeError(`${where}.pin must be an integer in [0, ${pins - 1}] (${CHIP_NAMES[chip]} has ${pins} pins), got ${String(pin)}`);
    }
    return { gsi, type: 'irqchip', irqchip: chip, pin };
  }
  if (r.type === 'msi') {
    const address = toU64(r.address, `${where}.address`);
    return { gsi, type: 'msi', address, data: toUint(r.data, 32, `${where}.data`) };
  }
  throw new TypeError(`${where}.type must be 'irqchip' or 'msi', got ${String(r.type)}`);
}

/**
 * Checks a routing table as KVM would take it: at most `maxRoutes` entries,
 * GSIs below `maxRoutes` (KVM_CAP_IRQ_ROUTING), pins that exist, and per GSI
 * either one MSI or at most one pin of each chip. Returns the entries with
 * bigint MSI addresses.
 */
export function checkGsiRouting(entries: unknown, maxRoutes: number): GsiRoute[] {
  if (!Array.isArray(entries)) throw new TypeError('setGsiRouting() expects an array of routes ({ gsi, type: \'irqchip\', irqchip, pin } or { gsi, type: \'msi\', address, data })');
  if (entries.length > maxRoutes) throw new RangeError(`setGsiRouting(): ${entries.length} routes, KVM takes at most ${maxRoutes} (KVM_CAP_IRQ_ROUTING)`);
  const routes = entries.map((e, i) => checkRoute(e, `routes[${i}]`, maxRoutes - 1));
  const byGsi = new Map<number, GsiRoute[]>();
  routes.forEach((r, i) => {
    const same = byGsi.get(r.gsi) ?? [];
    // setup_routing_entry: an MSI GSI has no other entry; an irqchip GSI at most one pin per chip.
    const clash = same.find((o) => o.type === 'msi' || r.type === 'msi' || o.irqchip === r.irqchip);
    if (clash) {
      const what = clash.type === 'msi' || r.type === 'msi' ? 'a GSI with an MSI route can have no other route' : `a GSI can reach one pin of ${CHIP_NAMES[(r as IrqchipRoute).irqchip]}`;
      throw new RangeError(`routes[${i}]: GSI ${r.gsi} is routed twice (${what}); merge or drop one of its entries`);
    }
    byGsi.set(r.gsi, [...same, r]);
  });
  return routes;
}

/** The struct kvm_irq_routing bytes of checked `routes`. */
export function gsiRoutingBytes(routes: readonly GsiRoute[]): Uint8Array {
  checkSizes();
  const bytes = new Uint8Array(HEADER_SIZE + routes.length * ENTRY_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, routes.length, true);
  routes.forEach((r, i) => {
    const at = HEADER_SIZE + i * ENTRY_SIZE;
    v.setUint32(at, r.gsi, true);
    if (r.type === 'irqchip') {
      v.setUint32(at + 4, kvmConstant('KVM_IRQ_ROUTING_IRQCHIP'), true);
      v.setUint32(at + OFF_U, r.irqchip, true);
      v.setUint32(at + OFF_U + 4, r.pin, true);
    } else {
      v.setUint32(at + 4, kvmConstant('KVM_IRQ_ROUTING_MSI'), true);
      writeMsi(v, at + OFF_U, r);
    }
  });
  return bytes;
}

function writeMsi(v: DataView, at: number, msg: MsiMessage): void {
  const address = BigInt(msg.address);
  v.setUint32(at, Number(address & 0xffffffffn), true);
  v.setUint32(at + 4, Number(address >> 32n), true);
  v.setUint32(at + 8, msg.data, true);
}

/** The struct kvm_msi bytes of an MSI message (flags 0: no device id, as on x86). */
export function msiBytes(message: unknown): Uint8Array {
  if (typeof message !== 'object' || message === null) throw new TypeError('an MSI message must be an object { address, data }');
  const m = message as Record<string, unknown>;
  const checked = { address: toU64(m.address, 'MSI address'), data: toUint(m.data, 32, 'MSI data') };
  checkSizes();
  const bytes = new Uint8Array(MSI_SIZE);
  writeMsi(new DataView(bytes.buffer), 0, checked);
  return bytes;
}
