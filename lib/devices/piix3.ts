/**
 * The PIIX3 PCI-to-ISA bridge, function 00:01.0, 8086:7000 (QEMU 7.2
 * hw/isa/piix3.c, TYPE_PIIX3_DEVICE "PIIX3"), function 0 of the
 * multi-function PIIX3 (header type 0x80).
 *
 * - PIRQ routing, config 0x60-0x63 (PIRQA#-PIRQD#): a value below 16 routes
 *   the PIRQ to that ISA IRQ, anything else (0x80 at reset) disables it.  A
 *   device's INTx# pin reaches PIRQ (pin - 1 + slot - 1) & 3
 *   (pc_piix.c pci_slot_get_pirq).  Each PIRQ is the wired-OR of the lines
 *   plugged into it (`intxLine`), each ISA IRQ the OR of the PIRQs routed to
 *   it; a write touching 0x60-0x63 re-routes (piix3_write_config).
 * - `piix3-reset-control` at 0xcf9 (priority 1 over pci-conf-idx): a write
 *   with bit 2 set requests a system reset (bit 1: hard rather than soft,
 *   which QEMU does not distinguish); otherwise bit 1 is stored and read back
 *   (rcr_write / rcr_read).
 * - ELCR at 0x4d0/0x4d1, `kvm-elcr`, one byte each, as QEMU names them with
 *   KVM's in-kernel irqchip (hw/i386/kvm/i8259.c).  There the kernel's PIC
 *   decodes both ports itself (linux arch/x86/kvm/i8259.c), so a guest access
 *   never reaches these regions: they are what `info mtree` shows.  Without
 *   an in-kernel PIC they behave as QEMU's i8259 ELCR (hw/intc/i8259.c:
 *   masks 0xf8 master, 0xde slave) and tell the board (onElcrWrite).
 *
 * ISA IRQ lines are driven only when their level changes: the in-kernel
 * chip has one userspace source per GSI, so re-driving a line low would
 * clear another device's level on the same IRQ.
 */
import { MemoryRegion } from '../memory/region';
import type { DeviceStateValue } from '../snapshot/device-state';
import { hex } from '../util/hex';
import type { DeviceMapping } from './device';
import { PCI_VENDOR_ID_INTEL } from './i440fx';
import { toIrqLine, type IrqLine } from './irq-line';
import type { PciBus } from './pci/pci-bus';
import { PCI_COMMAND, PCI_STATUS, PciDevice, type PciDeviceState } from './pci/pci-device';

export const PCI_DEVICE_ID_INTEL_82371SB_0 = 0x7000;
export const PCI_CLASS_BRIDGE_ISA = 0x0601;
/** devfn 00:01.0 on the pc machine */
export const PIIX3_DEVFN = 0x08;
export const PIIX_PIRQCA = 0x60;
export const PIIX_NUM_PIRQS = 4;
export const ISA_NUM_IRQS = 16;
export const PIIX_RCR_IOPORT = 0xcf9;
export const ELCR_IOPORT = 0x4d0;
/** The ELCR bits that exist (i8259_init_chip elcr_mask): master 0xf8, slave 0xde. */
export const ELCR_MASK = [0xf8, 0xde] as const;

export type ResetKind = 'hard' | 'soft';

export interface Piix3Options {
  bus: PciBus;
  /** the 16 ISA IRQ inputs of the interrupt controllers (the in-kernel chip's GSIs 0-15) */
  isaIrqs: readonly (IrqLine | ((level: boolean) => void))[];
  /** the guest wrote 0xcf9 with bit 2 set: QEMU's qemu_system_reset_request(GUEST_RESET) */
  onResetRequest?: (kind: ResetKind) => void;
  /** the guest wrote the ELCR: `index` 0 is 0x4d0 (IRQ 0-7), 1 is 0x4d1 (IRQ 8-15); `value` is already masked */
  onElcrWrite?: (index: 0 | 1, value: number) => void;
  devfn?: number;
}

/** The saved state: the configuration space, the reset control and ELCR bytes. */
export type Piix3State = PciDeviceState & { rcr: number; elcr: number[] };

function checkPirq(pirq: unknown): number {
  if (typeof pirq !== 'number' || !Number.isInteger(pirq) || pirq < 0 || pirq >= PIIX_NUM_PIRQS) {
    throw new RangeError(`PIRQ must be 0-3 (PIRQA#-PIRQD#), got ${String(pirq)}`);
  }
  return pirq;
}

export class Piix3 extends PciDevice {
  readonly resetControl: MemoryRegion;
  readonly elcrRegions: readonly MemoryRegion[];
  /** reset control at 0xcf9 (priority 1), ELCR at 0x4d0 and 0x4d1, in the I/O space */
  override readonly mappings: readonly DeviceMapping[];
  private readonly isaIrqs: readonly IrqLine[];
  /** the levels of the lines plugged into each PIRQ */
  private readonly sources: Set<{ level: boolean }>[] = Array.from({ length: PIIX_NUM_PIRQS }, () => new Set());
  /** the level last driven on each ISA IRQ */
  private readonly isaLevels: boolean[] = new Array(ISA_NUM_IRQS).fill(false);
  private rcr = 0;
  private readonly elcr = [0, 0];
  private readonly onResetRequest?: (kind: ResetKind) => void;
  private readonly onElcrWrite?: (index: 0 | 1, value: number) => void;

  constructor(opts: Piix3Options) {
    if (!Array.isArray(opts?.isaIrqs) || opts.isaIrqs.length !== ISA_NUM_IRQS) {
      throw new TypeError(`Piix3: options.isaIrqs must be an array of ${ISA_NUM_IRQS} IrqLines (ISA IRQ 0-15)`);
    }
    const lines = opts.isaIrqs.map((l, i) => toIrqLine(l, `Piix3: options.isaIrqs[${i}]`)!);
    for (const [k, f] of [['onResetRequest', opts.onResetRequest], ['onElcrWrite', opts.onElcrWrite]] as const) {
      if (f !== undefined && typeof f !== 'function') throw new TypeError(`Piix3: options.${k} must be a function`);
    }
    super(opts.bus, opts.devfn ?? PIIX3_DEVFN, {
      name: 'PIIX3', vendorId: PCI_VENDOR_ID_INTEL, deviceId: PCI_DEVICE_ID_INTEL_82371SB_0, classId: PCI_CLASS_BRIDGE_ISA, multifunction: true,
    });
    this.isaIrqs = lines;
    this.onResetRequest = opts.onResetRequest;
    this.onElcrWrite = opts.onElcrWrite;
    this.resetControl = MemoryRegion.io('piix3-reset-control', 1, {
      endianness: 'little',
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      read: () => this.rcr,
      write: (_offset, value) => {
        if (value & 4n) {
          this.onResetRequest?.(value & 2n ? 'hard' : 'soft');
          return;
        }
        this.rcr = Number(value & 2n);
      },
    });
    this.elcrRegions = [0, 1].map((i) => MemoryRegion.io('kvm-elcr', 1, {
      read: () => this.elcr[i],
      write: (_offset, value) => {
        this.elcr[i] = Number(value) & ELCR_MASK[i];
        this.onElcrWrite?.(i as 0 | 1, this.elcr[i]);
      },
    }));
    this.mappings = [
      { space: 'io', address: BigInt(PIIX_RCR_IOPORT), region: this.resetControl, priority: 1 },
      { space: 'io', address: BigInt(ELCR_IOPORT), region: this.elcrRegions[0] },
      { space: 'io', address: BigInt(ELCR_IOPORT + 1), region: this.elcrRegions[1] },
    ];
    this.reset(); // the state QEMU's machine reset leaves before the guest runs
  }

  /** piix3_route_intx_pin_to_irq: the ISA IRQ PIRQ `pirq` reaches, or null when it is disabled */
  pirqRoute(pirq: number): number | null {
    const irq = this.config[PIIX_PIRQCA + checkPirq(pirq)];
    return irq < ISA_NUM_IRQS ? irq : null;
  }

  /** pci_slot_get_pirq: the PIRQ that INTx# `pin` (1-4, INTA#-INTD#) of the device at `devfn` is wired to */
  static pirqOf(devfn: number, pin: number): number {
    if (!Number.isInteger(devfn) || devfn < 0 || devfn > 0xff) throw new RangeError(`devfn must be 0-0xff, got ${String(devfn)}`);
    if (!Number.isInteger(pin) || pin < 1 || pin > 4) throw new RangeError(`INTx pin must be 1-4 (INTA#-INTD#), got ${String(pin)}`);
    return (pin - 1 + (devfn >> 3) - 1) & 3;
  }

  /**
   * A new line for one device output into PIRQ `pirq`: it follows the routing
   * registers, and shares its PIRQ with every other line plugged into it (wired-OR).
   */
  pirqLine(pirq: number, name?: string): IrqLine {
    const p = checkPirq(pirq);
    const src = { level: false };
    this.sources[p].add(src);
    return {
      name: name ?? `PIRQ${'ABCD'[p]}`,
      set: (level) => {
        if (src.level === !!level) return;
        src.level = !!level;
        this.updateIsaIrqs();
      },
    };
  }

  /** The line for INTx# `pin` (1-4) of the function at `devfn` (its PIRQ by the slot rule). */
  intxLine(devfn: number, pin: number): IrqLine {
    const pirq = Piix3.pirqOf(devfn, pin);
    return this.pirqLine(pirq, `${hex(devfn)} INT${'ABCD'[pin - 1]}# → PIRQ${'ABCD'[pirq]}`);
  }

  /** pci_bus_get_irq_level: is any line of PIRQ `pirq` asserted? */
  pirqLevel(pirq: number): boolean {
    for (const s of this.sources[checkPirq(pirq)]) if (s.level) return true;
    return false;
  }

  /** piix3_update_irq_levels + piix3_set_irq_pic: every ISA IRQ is the OR of the PIRQs routed to it */
  private updateIsaIrqs(): void {
    const want: boolean[] = new Array(ISA_NUM_IRQS).fill(false);
    for (let p = 0; p < PIIX_NUM_PIRQS; p++) {
      const irq = this.pirqRoute(p);
      if (irq !== null && this.pirqLevel(p)) want[irq] = true;
    }
    want.forEach((level, irq) => {
      if (level === this.isaLevels[irq]) return;
      this.isaLevels[irq] = level;
      this.isaIrqs[irq].set(level);
    });
  }

  override configWrite(address: number, value: number, len: number): void {
    super.configWrite(address, value, len);
    if (address < PIIX_PIRQCA + PIIX_NUM_PIRQS && PIIX_PIRQCA < address + len) this.updateIsaIrqs();
  }

  /** piix3_reset (the generic PCI reset then clears the command register it sets) */
  protected override resetDevice(): void {
    const c = this.config;
    const set: [number, number][] = [
      [PCI_COMMAND, 0x07], [PCI_COMMAND + 1, 0], [PCI_STATUS, 0], [PCI_STATUS + 1, 0x02],
      [0x4c, 0x4d], [0x4e, 0x03], [0x4f, 0], [0x60, 0x80], [0x61, 0x80], [0x62, 0x80], [0x63, 0x80],
      [0x69, 0x02], [0x70, 0x80], [0x76, 0x0c], [0x77, 0x0c], [0x78, 0x02], [0x79, 0], [0x80, 0], [0x82, 0],
      [0xa0, 0x08], [0xa2, 0], [0xa3, 0], [0xa4, 0], [0xa5, 0], [0xa6, 0], [0xa7, 0], [0xa8, 0x0f],
      [0xaa, 0], [0xab, 0], [0xac, 0], [0xae, 0],
    ];
    for (const [off, v] of set) c[off] = v;
    this.rcr = 0;
    this.updateIsaIrqs();
  }

  override saveState(): Piix3State {
    return { ...super.saveState(), rcr: this.rcr, elcr: [...this.elcr] };
  }

  override loadState(state: DeviceStateValue): void {
    const s = state as Partial<Piix3State> | null;
    const bytes = [s?.rcr, ...(Array.isArray(s?.elcr) && s.elcr.length === 2 ? s.elcr : [undefined])];
    if (bytes.some((b) => typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 0xff)) {
      throw new RangeError('PIIX3: a state has rcr (a byte) and elcr (two bytes)');
    }
    super.loadState(state);
    this.rcr = s!.rcr! & 2;
    s!.elcr!.forEach((v, i) => { this.elcr[i] = v & ELCR_MASK[i]; });
  }

  /** piix3_post_load: re-derive the ISA levels from the loaded routing */
  protected override postLoad(): void {
    this.updateIsaIrqs();
  }

  override close(): void {
    super.close();
    this.resetControl.close();
    for (const r of this.elcrRegions) r.close();
  }
}
