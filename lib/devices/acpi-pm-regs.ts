/**
 * The ACPI fixed-hardware registers QEMU's PIIX4 PM puts in its `piix4-pm`
 * block (QEMU 7.2 hw/acpi/core.c): PM1a_EVT (`acpi-evt`, +0, 4 bytes: status
 * then enable, 16-bit accesses only), PM1a_CNT (`acpi-cnt`, +4, 2 bytes) and
 * PM_TMR (`acpi-tmr`, +8, 4 bytes, 32-bit accesses only).
 *
 * - PM_TMR counts at 3.579545 MHz from the clock (QEMU's virtual clock), 24 bits.
 * - TMR_STS is set once the counter passes the next multiple of 2^23 after the
 *   last clear (QEMU computes it when status is read; reset makes it 0, so the
 *   bit reads set until the guest clears it, as in QEMU).  While TMR_EN is set
 *   and TMR_STS clear, a timer on the clock raises the SCI at that moment
 *   (acpi_pm_tmr_update).
 * - PM1 status bits clear when written with 1; the SCI is asserted while an
 *   enabled status bit is set (acpi_update_sci).
 * - GPE0 (`acpi-gpe0`, `gpeLength` bytes, mapped by the owner): the first
 *   half status (write 1 to clear), the second half enable, byte accesses
 *   (acpi_gpe_ioport_readb/writeb); status & enable of its first byte raises the SCI.
 * - A PM1 control write with SLP_EN asks for a sleep state by SLP_TYP: 0 is
 *   S5 (soft off), 1 is S3, `s4Value` is S4 (QEMU powers off for it too).
 * - RTC_EN in PM1 enable lets the RTC alarm wake the machine from S3
 *   (acpi_pm1_evt_write_en → qemu_system_wakeup_enable); after the wake-up's
 *   reset, WAK_STS and the waking event's status bit read set (acpi_notify_wakeup).
 */
import { MemoryRegion } from '../memory/region';
import { transaction } from '../memory/transaction';
import type { IrqLine } from './irq-line';
import { hostRtcClock, type RtcClock } from './rtc-clock';

export const PM_TIMER_FREQUENCY = 3579545n;
const NS_PER_SEC = 1_000_000_000n;
export const ACPI_BITMASK_TIMER_STATUS = 0x0001;
export const ACPI_BITMASK_POWER_BUTTON_STATUS = 0x0100;
export const ACPI_BITMASK_RT_CLOCK_STATUS = 0x0400;
export const ACPI_BITMASK_WAKE_STATUS = 0x8000;
export const ACPI_BITMASK_TIMER_ENABLE = 0x0001;
export const ACPI_BITMASK_GLOBAL_LOCK_ENABLE = 0x0020;
export const ACPI_BITMASK_POWER_BUTTON_ENABLE = 0x0100;
export const ACPI_BITMASK_RT_CLOCK_ENABLE = 0x0400;
/** the enable bits that can raise the SCI (ACPI_BITMASK_PM1_COMMON_ENABLED) */
const PM1_COMMON_ENABLED = ACPI_BITMASK_RT_CLOCK_ENABLE | ACPI_BITMASK_POWER_BUTTON_ENABLE | ACPI_BITMASK_GLOBAL_LOCK_ENABLE | ACPI_BITMASK_TIMER_ENABLE;
export const ACPI_BITMASK_SCI_ENABLE = 0x0001;
export const ACPI_BITMASK_SLEEP_ENABLE = 0x2000;
const PM_TIMER_MASK = 0xffffffn;

/** What a guest's SLP_EN write asks for: S5 (soft off), S3 (suspend to RAM) or S4 (suspend to disk). */
export type SleepRequest = 'S3' | 'S4' | 'S5';

/** What woke the machine from S3 (QEMU's WakeupReason): the RTC alarm, or anything else (QEMU_WAKEUP_REASON_OTHER). */
export type WakeupReason = 'rtc' | 'other';

/**
 * QEMU_CLOCK_VIRTUAL: nanoseconds and one-shot timers.  The PM timer only
 * needs a steady count, so the RTC's host clock (monotonic since load) serves.
 */
export type PmClock = RtcClock;
export const hostPmClock: PmClock = hostRtcClock;

export interface AcpiPmRegsOptions {
  /** the SCI (GSI 9 on the pc machine) */
  sci: IrqLine;
  clock: PmClock;
  /** SLP_TYP of S4 (QEMU's s4_val, 2 for the PIIX4) */
  s4Value: number;
  /** QEMU's acpi_only: no SMM, so SCI_EN is set at reset (the OS never has to ask for ACPI mode) */
  acpiOnly: boolean;
  /** GPE0 block length in bytes (GPE_LEN, 4 for the PIIX4) */
  gpeLength: number;
  onSleep?: (state: SleepRequest) => void;
}

/** The saved state: QEMU's vmstate fields ar.pm1.evt.sts/en, ar.pm1.cnt.cnt, ar.tmr.overflow_time. */
export interface AcpiPmRegsState { [key: string]: number | bigint | Uint8Array; sts: number; en: number; cnt: number; overflowTime: bigint; gpe: Uint8Array }

export class AcpiPmRegs {
  /** the 64-byte `piix4-pm` container with the three register blocks */
  readonly block: MemoryRegion;
  readonly evt: MemoryRegion;
  readonly cnt: MemoryRegion;
  readonly tmr: MemoryRegion;
  readonly gpe: MemoryRegion;
  /** GPE0 status bytes then enable bytes */
  private readonly gpeRegs: Uint8Array;
  private sts = 0;
  private en = 0;
  private control = 0;
  /** PM ticks at which TMR_STS sets */
  private overflowTime = 0n;
  private sciLevel: boolean | null = null;
  private cancelTimer: (() => void) | null = null;

  constructor(name: string, private readonly opts: AcpiPmRegsOptions) {
    this.block = MemoryRegion.container(name, 64);
    this.evt = MemoryRegion.io('acpi-evt', 4, {
      endianness: 'little',
      valid: { minAccessSize: 2, maxAccessSize: 2 },
      read: (offset) => (offset === 0n ? this.status() : offset === 2n ? this.en : 0),
      write: (offset, value) => {
        if (offset === 0n) this.writeStatus(Number(value));
        else if (offset === 2n) this.en = Number(value);
        else return;
        this.updateSci();
      },
    });
    this.cnt = MemoryRegion.io('acpi-cnt', 2, {
      endianness: 'little',
      valid: { minAccessSize: 2, maxAccessSize: 2 },
      read: () => this.control,
      write: (_offset, value) => this.writeControl(Number(value)),
    });
    this.tmr = MemoryRegion.io('acpi-tmr', 4, {
      endianness: 'little',
      valid: { minAccessSize: 4, maxAccessSize: 4 },
      read: () => Number(this.ticks() & PM_TIMER_MASK),
      write: () => { /* read-only */ },
    });
    this.gpeRegs = new Uint8Array(opts.gpeLength);
    const half = opts.gpeLength / 2;
    this.gpe = MemoryRegion.io('acpi-gpe0', opts.gpeLength, {
      endianness: 'little',
      valid: { minAccessSize: 1, maxAccessSize: 4 },
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      read: (offset) => this.gpeRegs[Number(offset)],
      write: (offset, value) => {
        const i = Number(offset);
        this.gpeRegs[i] = i < half ? this.gpeRegs[i] & ~Number(value) : Number(value);
        this.updateSci();
      },
    });
    // acpi_pm_tmr_init, acpi_pm1_evt_init, acpi_pm1_cnt_init: children in QEMU's order
    transaction(() => {
      this.block.addSubregion(8, this.tmr);
      this.block.addSubregion(0, this.evt);
      this.block.addSubregion(4, this.cnt);
    });
    this.reset();
  }

  /** acpi_pm_tmr_get_clock: the clock in 3.579545 MHz ticks */
  private ticks(): bigint {
    return (this.opts.clock.now() * PM_TIMER_FREQUENCY) / NS_PER_SEC;
  }

  /** acpi_pm1_evt_get_sts */
  private status(): number {
    if (this.ticks() >= this.overflowTime) this.sts |= ACPI_BITMASK_TIMER_STATUS;
    return this.sts;
  }

  /** acpi_pm1_evt_write_sts: write 1 to clear; clearing TMR_STS sets the next overflow */
  private writeStatus(value: number): void {
    if (this.status() & value & ACPI_BITMASK_TIMER_STATUS) {
      this.overflowTime = (this.ticks() + 0x800000n) & ~0x7fffffn;
    }
    this.sts &= ~value;
  }

  /** acpi_pm1_cnt_write */
  private writeControl(value: number): void {
    this.control = value & ~ACPI_BITMASK_SLEEP_ENABLE;
    if (!(value & ACPI_BITMASK_SLEEP_ENABLE)) return;
    const type = (value >> 10) & 7;
    const state: SleepRequest | null = type === 0 ? 'S5' : type === 1 ? 'S3' : type === this.opts.s4Value ? 'S4' : null;
    if (state) this.opts.onSleep?.(state);
  }

  /** Whether `reason` may wake the machine: the RTC only while RTC_EN is set (QEMU's wakeup_reason_mask); 'other' always. */
  wakeupEnabled(reason: WakeupReason): boolean {
    return reason !== 'rtc' || (this.en & ACPI_BITMASK_RT_CLOCK_ENABLE) !== 0;
  }

  /**
   * acpi_notify_wakeup, after the wake-up's system reset: WAK_STS with the
   * event's status bit (QEMU reports a wake-up of no ACPI event as the power button).
   */
  notifyWakeup(reason: WakeupReason): void {
    this.sts |= ACPI_BITMASK_WAKE_STATUS | (reason === 'rtc' ? ACPI_BITMASK_RT_CLOCK_STATUS : ACPI_BITMASK_POWER_BUTTON_STATUS);
    this.updateSci();
  }

  /** ACPI_ENABLE / ACPI_DISABLE through APM (acpi_pm1_cnt_update) */
  setSciEnable(on: boolean): void {
    this.control = on ? this.control | ACPI_BITMASK_SCI_ENABLE : this.control & ~ACPI_BITMASK_SCI_ENABLE;
  }

  /** acpi_update_sci: drives the SCI when its level changes, then (re)arms the overflow timer */
  private updateSci(): void {
    const sts = this.status();
    const level = (sts & this.en & PM1_COMMON_ENABLED) !== 0 || (this.gpeRegs[0] & this.gpeRegs[this.gpeRegs.length / 2]) !== 0;
    if (level !== this.sciLevel) {
      this.sciLevel = level;
      this.opts.sci.set(level);
    }
    this.armTimer((this.en & ACPI_BITMASK_TIMER_ENABLE) !== 0 && !(sts & ACPI_BITMASK_TIMER_STATUS));
  }

  /**
   * acpi_pm_tmr_update: a timer at the moment the counter reaches the overflow
   * time.  Rounded up (QEMU rounds down), so that the status read at the
   * deadline already sees TMR_STS.
   */
  private armTimer(on: boolean): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (!on) return;
    const deadline = (this.overflowTime * NS_PER_SEC + PM_TIMER_FREQUENCY - 1n) / PM_TIMER_FREQUENCY;
    this.cancelTimer = this.opts.clock.setTimer(deadline, () => {
      this.cancelTimer = null;
      this.updateSci();
    });
  }

  /** acpi_pm1_evt_reset, acpi_pm1_cnt_reset, acpi_pm_tmr_reset, then acpi_update_sci */
  reset(): void {
    this.sts = 0;
    this.en = 0;
    this.control = this.opts.acpiOnly ? ACPI_BITMASK_SCI_ENABLE : 0;
    this.overflowTime = 0n;
    this.gpeRegs.fill(0);
    this.updateSci();
  }

  saveState(): AcpiPmRegsState {
    return { sts: this.sts, en: this.en, cnt: this.control, overflowTime: this.overflowTime, gpe: this.gpeRegs.slice() };
  }

  loadState(state: Partial<AcpiPmRegsState> | undefined, what: string): void {
    const { sts, en, cnt, overflowTime, gpe } = state ?? {};
    for (const [k, v] of Object.entries({ sts, en, cnt })) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what}: ${k} must be a 16-bit unsigned integer, got ${String(v)}`);
    }
    if (typeof overflowTime !== 'bigint') throw new TypeError(`${what}: overflowTime must be a bigint (PM timer ticks)`);
    if (!(gpe instanceof Uint8Array) || gpe.length !== this.gpeRegs.length) throw new TypeError(`${what}: gpe must be a ${this.gpeRegs.length}-byte Uint8Array`);
    this.sts = sts as number;
    this.en = en as number;
    this.control = cnt as number;
    this.overflowTime = overflowTime;
    this.gpeRegs.set(gpe);
    this.sciLevel = null;
    this.updateSci();
  }

  close(): void {
    this.armTimer(false);
    transaction(() => {
      for (const r of [this.evt, this.cnt, this.tmr, this.gpe]) r.close();
      this.block.close();
    });
  }
}
