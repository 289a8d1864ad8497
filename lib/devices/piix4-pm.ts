/**
 * The PIIX4 power-management function 00:01.3, 8086:7113 (QEMU 7.2
 * hw/acpi/piix4.c, TYPE_PIIX4_PM "PIIX4_PM"), as this KVM runs it: no SMM.
 *
 * - config 0x40 (dword & 0xffc0) is the PM base, 0x80 bit 0 enables it: the
 *   64-byte `piix4-pm` block (acpi-pm-regs.ts) sits there in the bus's I/O
 *   space, disabled at 0 after reset (pm_io_space_update);
 * - config 0x90 (dword & 0xffc0) is the SMBus base, 0xd2 bit 0 enables the
 *   64-byte `pm-smbus` region (smbus_io_space_update; 0xb100 at realize, the
 *   pc machine's smb_io_base);
 * - 0x5b = 0x02 at realize and reset: "SMM already initialised", so SeaBIOS
 *   skips SMM set-up (src/fw/smm.c), which this KVM could not run;
 * - `apm-io` at 0xb2/0xb3 (hw/isa/apm.c): 0xf1/0xf0 written to 0xb2 set and
 *   clear SCI_EN; any other command would raise an SMI, which does not exist here;
 * - `acpi-gpe0` at 0xafe0, 4 bytes (GPE_BASE, GPE_LEN);
 * - the SCI is an IrqLine (GSI 9 on the pc machine, not a PIRQ).
 *
 * Not modelled: the SMBus controller's registers (the region has no ops).
 * The PCI and CPU hotplug blocks at 0xae00 and 0xaf00 are devices of their
 * own (acpi-pci-hotplug.ts, acpi-cpu-hotplug.ts) that the board plugs.
 */
import { MemoryRegion } from '../memory/region';
import { transaction } from '../memory/transaction';
import type { DeviceStateValue } from '../snapshot/device-state';
import { AcpiPmRegs, type AcpiPmRegsState, hostPmClock, type PmClock, type SleepRequest } from './acpi-pm-regs';
import type { DeviceMapping } from './device';
import { PCI_VENDOR_ID_INTEL } from './i440fx';
import { toIrqLine, type IrqLine } from './irq-line';
import type { PciBus } from './pci/pci-bus';
import { PCI_STATUS, PciDevice, type PciDeviceState } from './pci/pci-device';

export const PCI_DEVICE_ID_INTEL_82371AB_3 = 0x7113;
export const PCI_CLASS_BRIDGE_OTHER = 0x0680;
/** devfn 00:01.3 on the pc machine (pc_piix.c: piix3_devfn + 3) */
export const PIIX4_PM_DEVFN = 0x0b;
export const PIIX4_PM_BASE = 0x40;
export const PIIX4_PM_ENABLE = 0x80;
export const PIIX4_SMB_BASE = 0x90;
export const PIIX4_SMB_HSTCFG = 0xd2;
/** the pc machine's SMBus base at realize (pc_piix.c) */
export const PIIX4_DEFAULT_SMB_BASE = 0xb100;
export const APM_CNT_IOPORT = 0xb2;
export const GPE_BASE = 0xafe0;
const GPE_LEN = 4;
const ACPI_ENABLE = 0xf1;
const ACPI_DISABLE = 0xf0;
const IO_BASE_MASK = 0xffc0;

export interface Piix4PmOptions {
  bus: PciBus;
  /** the SCI line (GSI 9) */
  sci: IrqLine | ((level: boolean) => void);
  /** the guest asked for a sleep state through PM1_CNT.SLP_EN: S5 is power-off, S4 too in QEMU, S3 is suspend */
  onSleep?: (state: SleepRequest) => void;
  /** QEMU_CLOCK_VIRTUAL for the PM timer and its overflow interrupt (default: the host's clock) */
  clock?: PmClock;
  /** what piix4_pm_machine_ready finds on the ISA bus: COM1 at 0x3f8, COM2 at 0x2f8, LPT1 at 0x378 */
  isa?: { com1?: boolean; com2?: boolean; lpt1?: boolean };
  devfn?: number;
}

/** The saved state: the configuration space, the ACPI registers and APM's status byte. */
export type Piix4PmState = PciDeviceState & { acpi: AcpiPmRegsState; apmStatus: number };

/**
 * The contents of fw_cfg `etc/system-states` that QEMU adds with the PIIX4 PM
 * (hw/acpi/core.c acpi_pm1_cnt_init): for S0-S5, bit 7 "supported" and the
 * SLP_TYP value; the PIIX4 defaults keep S3 and S4 (s4_val 2) enabled.
 */
export function piix4SystemStates(opts: { disableS3?: boolean; disableS4?: boolean; s4Value?: number } = {}): Uint8Array {
  const s4 = opts.s4Value ?? 2;
  if (!Number.isInteger(s4) || s4 < 0 || s4 > 7) throw new RangeError(`s4Value must be a SLP_TYP value from 0 to 7, got ${String(s4)}`);
  return Uint8Array.from([0x80, 0, 0, 1 | (opts.disableS3 ? 0 : 0x80), s4 | (opts.disableS4 ? 0 : 0x80), 0x80]);
}

export class Piix4Pm extends PciDevice {
  readonly acpi: AcpiPmRegs;
  readonly smbus: MemoryRegion;
  readonly apm: MemoryRegion;
  /** `apm-io` at 0xb2 and `acpi-gpe0` at 0xafe0 (fixed); the PM and SMBus blocks move with their bases, so the function maps them itself */
  override readonly mappings: readonly DeviceMapping[];
  private apmStatus = 0;

  constructor(opts: Piix4PmOptions) {
    const sci = toIrqLine(opts?.sci, 'Piix4Pm: options.sci');
    if (!sci) throw new TypeError('Piix4Pm: options.sci is required (the SCI line, GSI 9 on the pc machine)');
    if (opts.onSleep !== undefined && typeof opts.onSleep !== 'function') throw new TypeError('Piix4Pm: options.onSleep must be a function (state) => void');
    const clock = opts.clock ?? hostPmClock;
    if (typeof clock?.now !== 'function' || typeof clock.setTimer !== 'function') {
      throw new TypeError('Piix4Pm: options.clock must have now(): bigint (nanoseconds) and setTimer(deadlineNs, callback), like RtcClock');
    }
    super(opts.bus, opts.devfn ?? PIIX4_PM_DEVFN, {
      name: 'PIIX4_PM', vendorId: PCI_VENDOR_ID_INTEL, deviceId: PCI_DEVICE_ID_INTEL_82371AB_3, revision: 0x03,
      classId: PCI_CLASS_BRIDGE_OTHER, interruptPin: 1,
    });
    const c = this.config;
    // piix4_pm_realize
    c[PCI_STATUS] = 0x80;
    c[PCI_STATUS + 1] = 0x02;
    c[0x5b] = 0x02;
    c[PIIX4_SMB_BASE] = (PIIX4_DEFAULT_SMB_BASE | 1) & 0xff;
    c[PIIX4_SMB_BASE + 1] = PIIX4_DEFAULT_SMB_BASE >> 8;
    c[PIIX4_SMB_HSTCFG] = 0x09;
    // piix4_pm_machine_ready
    const isa = opts.isa ?? {};
    c[0x5f] = 0x10 | (isa.lpt1 ? 0x80 : 0);
    c[0x63] = 0x60;
    c[0x67] = (isa.com1 ? 0x08 : 0) | (isa.com2 ? 0x90 : 0);
    this.acpi = new AcpiPmRegs('piix4-pm', { sci, clock, s4Value: 2, acpiOnly: true, gpeLength: GPE_LEN, onSleep: opts.onSleep });
    this.smbus = MemoryRegion.io('pm-smbus', 64);
    this.apm = MemoryRegion.io('apm-io', 2, {
      endianness: 'little',
      read: (offset) => (offset === 1n ? this.apmStatus : 0),
      write: (offset, value) => {
        const v = Number(value & 0xffn);
        if (offset === 1n) this.apmStatus = v;
        else if (v === ACPI_ENABLE || v === ACPI_DISABLE) this.acpi.setSciEnable(v === ACPI_ENABLE);
      },
    });
    this.mappings = [
      { space: 'io', address: BigInt(APM_CNT_IOPORT), region: this.apm },
      { space: 'io', address: BigInt(GPE_BASE), region: this.acpi.gpe },
    ];
    transaction(() => {
      this.acpi.block.setEnabled(false);
      this.bus.io.addSubregion(PIIX4_DEFAULT_SMB_BASE, this.smbus);
      this.bus.io.addSubregion(0, this.acpi.block);
      this.updateSmbus();
      this.updatePm();
    });
    this.reset(); // the state QEMU's machine reset leaves before the guest runs
  }

  private base(off: number): number {
    const c = this.config;
    return (c[off] | (c[off + 1] << 8)) & IO_BASE_MASK;
  }

  /** pm_io_space_update */
  private updatePm(): void {
    transaction(() => {
      this.acpi.block.setEnabled((this.config[PIIX4_PM_ENABLE] & 1) !== 0);
      this.acpi.block.setAddress(this.base(PIIX4_PM_BASE));
    });
  }

  /** smbus_io_space_update */
  private updateSmbus(): void {
    transaction(() => {
      this.smbus.setEnabled((this.config[PIIX4_SMB_HSTCFG] & 1) !== 0);
      this.smbus.setAddress(this.base(PIIX4_SMB_BASE));
    });
  }

  /** where the PM block decodes now, or null while 0x80 bit 0 is clear */
  get pmBase(): number | null {
    return this.acpi.block.enabled ? this.base(PIIX4_PM_BASE) : null;
  }

  /** pm_write_config */
  override configWrite(address: number, value: number, len: number): void {
    super.configWrite(address, value, len);
    const touches = (reg: number, n: number) => address < reg + n && reg < address + len;
    if (touches(PIIX4_PM_ENABLE, 1) || touches(PIIX4_PM_BASE, 4)) this.updatePm();
    if (touches(PIIX4_SMB_HSTCFG, 1) || touches(PIIX4_SMB_BASE, 4)) this.updateSmbus();
  }

  /** piix4_pm_reset: 0x41-0x43 keep the base the firmware wrote, 0x80 disables it */
  protected override resetDevice(): void {
    this.config.fill(0, 0x58, 0x5c);
    this.config[PIIX4_PM_BASE] = 0x01;
    this.config[PIIX4_PM_ENABLE] = 0;
    this.config[0x5b] = 0x02;
    this.acpi.reset();
    this.updatePm();
  }

  override saveState(): Piix4PmState {
    return { ...super.saveState(), acpi: this.acpi.saveState(), apmStatus: this.apmStatus };
  }

  override loadState(state: DeviceStateValue): void {
    const s = state as Partial<Piix4PmState> | null;
    const apm = s?.apmStatus;
    if (typeof apm !== 'number' || !Number.isInteger(apm) || apm < 0 || apm > 0xff) throw new RangeError(`PIIX4_PM: apmStatus must be a byte, got ${String(apm)}`);
    const config = super.saveState();
    super.loadState(state);
    try {
      this.acpi.loadState(s?.acpi, 'PIIX4_PM');
    } catch (e) {
      super.loadState(config); // a bad ACPI part leaves the function as it was
      throw e;
    }
    this.apmStatus = apm;
  }

  /** vmstate_acpi_post_load */
  protected override postLoad(): void {
    this.updatePm();
    this.updateSmbus();
  }

  /** Removes the PM and SMBus blocks from the bus's I/O space and closes every region this function made. */
  override close(): void {
    super.close();
    transaction(() => {
      this.acpi.close();
      this.smbus.close();
      this.apm.close();
    });
  }
}
