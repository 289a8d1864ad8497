// QEMU's mc146818rtc (hw/rtc/mc146818rtc.c): the PC's CMOS RAM and real-time
// clock on ports 0x70 (index; bit 7, the NMI mask, is ignored as in QEMU;
// reads return 0xff) and 0x71 (data). The clock is the host's (QEMU's
// `-rtc base=utc`, base_year 2000 as the pc machine sets it); the guest's
// clock is `baseRtc` seconds at host time `lastUpdate`, plus `offset`.
//
// Timers are evaluated lazily: every access first catches up with the clock
// (update-ended, alarm and periodic flags in register C), and a host timer is
// armed only while one of those events could raise IRQ 8.
//
// Simplifications, all invisible to a guest that follows the data sheet:
// UIP is a function of the clock (the last 244 µs of each guest second), not
// also latched while QEMU's update timer is pending; the alarm compares the
// alarm hour with its own PM bit (QEMU takes the PM bit of the current hour);
// and when the host timer is late by two or more periods the periodic
// interrupt restarts its phase from now (lost ticks are dropped either way:
// QEMU's default lost_tick_policy is discard).
//
// The register file (indexes, bits, the calendar in BCD or binary) is
// mc146818-regs.ts; this file is the ports, the clock and IRQ 8.
import { MemoryRegion } from '../memory/region';
import type { MemoryRegionOps } from '../memory/types';
import { checkOptions, type OptionKeys } from '../options';
import { type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import { hex } from '../util/hex';
import type { Device, DeviceMapping } from './device';
import { type IrqLine, toIrqLine } from './irq-line';
import {
  alarmBetween, CMOS_SIZE, floorDiv, isTimeRegister, mod, REG_A_UIP, REG_B_AIE, REG_B_PIE, REG_B_SET, REG_B_SQWE, REG_B_UIE,
  REG_C_AF, REG_C_IRQF, REG_C_MASK, REG_C_PF, REG_C_UF, RtcReg, setCmosTime, timeFromRegisters,
} from './mc146818-regs';
import { hostRtcClock, type RtcClock } from './rtc-clock';

export { CMOS_SIZE, RtcReg } from './mc146818-regs';

/** RTC_ISA_BASE: where the pc machine maps the "rtc" ports. */
export const RTC_ISA_BASE = 0x70;
const NS = 1_000_000_000n;
const RTC_CLOCK_RATE = 32768n;
/** UIP_HOLD_LENGTH: 8 cycles of the 32.768 kHz clock, in ns (integer, as in QEMU). */
const UIP_HOLD_NS = (8n * NS) / RTC_CLOCK_RATE;

export interface Mc146818RtcOptions {
  /**
   * The IRQ output (ISA IRQ 8 on a PC): an IrqLine (kvmIrqLine(),
   * callbackIrqLine()) or a function of the level. Without it the flags in
   * register C still work (polled guests) and no host timer is armed.
   */
  irq?: IrqLine | ((level: boolean) => void);
  /** The host clock and timers (default: the real ones). */
  clock?: RtcClock;
  /**
   * Called when the alarm fires while AIE is set: QEMU's rtc_update_timer asks
   * for a wake-up from S3 then (qemu_system_wakeup_request(QEMU_WAKEUP_REASON_RTC)).
   */
  onAlarm?: () => void;
}

const RTC_OPTIONS = { irq: true, clock: true, onAlarm: true } as const satisfies OptionKeys<Mc146818RtcOptions>;

export class Mc146818Rtc implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'mc146818rtc';
  readonly snapshotName = 'mc146818rtc';
  /** "rtc": 2 bytes at 0x70, with its child "rtc-index" (1 byte at offset 0), as in QEMU's tree. */
  readonly region: MemoryRegion;
  readonly indexRegion: MemoryRegion;
  /** "rtc" at RTC_ISA_BASE in the I/O space (isa_register_ioport, priority 0). */
  readonly mappings: readonly DeviceMapping[];
  private readonly irq: IrqLine | null;
  private readonly clock: RtcClock;
  private readonly onAlarm: (() => void) | undefined;
  private cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  /** base_rtc: guest seconds (Unix time) at host time lastUpdate */
  private baseRtc = 0n;
  private lastUpdate = 0n;
  /** sub-second phase of the guest clock, ns */
  private offset = 0n;
  /** the guest second whose update-ended event has been processed */
  private updatedSecond = 0n;
  /** next_periodic_time (host ns), or null while no periodic interrupt runs */
  private nextPeriodic: bigint | null = null;
  private irqLevel = false;
  private cancelTimer: (() => void) | null = null;

  constructor(options?: Mc146818RtcOptions) {
    const opts = checkOptions(options, RTC_OPTIONS, 'new Mc146818Rtc()');
    this.irq = toIrqLine(opts.irq, 'rtc irq') ?? null;
    this.clock = opts.clock ?? hostRtcClock;
    if (typeof this.clock.now !== 'function' || typeof this.clock.setTimer !== 'function') {
      throw new TypeError('rtc clock must have now() and setTimer(deadlineNs, callback)');
    }
    if (opts.onAlarm !== undefined && typeof opts.onAlarm !== 'function') throw new TypeError('rtc onAlarm must be a function () => void');
    this.onAlarm = opts.onAlarm;
    // rtc_realizefn
    this.cmos[RtcReg.A] = 0x26;
    this.cmos[RtcReg.B] = 0x02;
    this.cmos[RtcReg.C] = 0x00;
    this.cmos[RtcReg.D] = 0x80;
    this.setDateFromHost();
    const ops: MemoryRegionOps = {
      read: (offset) => this.ioRead(Number(offset)),
      write: (offset, value) => this.ioWrite(Number(offset), Number(value)),
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    };
    this.region = MemoryRegion.io('rtc', 2, ops);
    this.indexRegion = MemoryRegion.io('rtc-index', 1, ops);
    this.region.addSubregion(0n, this.indexRegion);
    this.mappings = [{ space: 'io', address: BigInt(RTC_ISA_BASE), region: this.region }];
  }

  /** mc146818rtc_set_cmos_data: what the board stores (pc_cmos_init). */
  setCmos(index: number, value: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= CMOS_SIZE) throw new RangeError(`CMOS index must be 0..127, got ${String(index)}`);
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`CMOS byte at ${hex(index)} must be 0..255, got ${String(value)}`);
    this.cmos[index] = value;
  }

  /** mc146818rtc_get_cmos_data: the stored byte, without the side effects of a guest read. */
  getCmos(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= CMOS_SIZE) throw new RangeError(`CMOS index must be 0..127, got ${String(index)}`);
    return this.cmos[index];
  }

  /** rtc_reset: the guest's interrupt enables and flags go; 0x0f keeps only an S3-resume 0xfe. */
  reset(): void {
    const now = this.clock.now();
    this.catchUp(now);
    if (this.cmos[0x0f] !== 0xfe) this.cmos[0x0f] = 0;
    this.cmos[RtcReg.B] &= ~(REG_B_PIE | REG_B_AIE | REG_B_SQWE);
    this.cmos[RtcReg.C] &= ~(REG_C_UF | REG_C_IRQF | REG_C_PF | REG_C_AF);
    this.periodicUpdate(now, 0, false);
    this.setIrq(false);
    this.armTimer();
  }

  // ------------------------------------------------------------ ports

  private ioRead(offset: number): number {
    if ((offset & 1) === 0) return 0xff; // the index port is write-only
    const now = this.clock.now();
    this.catchUp(now);
    if (this.index === RtcReg.PS2_CENTURY) this.index = RtcReg.CENTURY; // QEMU moves the index for good
    if (isTimeRegister(this.index)) {
      if (this.running()) this.updateTime(now);
      return this.cmos[this.index];
    }
    switch (this.index) {
      case RtcReg.A:
        return this.cmos[RtcReg.A] | (this.updateInProgress(now) ? REG_A_UIP : 0);
      case RtcReg.C: {
        const ret = this.cmos[RtcReg.C];
        this.setIrq(false);
        this.cmos[RtcReg.C] = 0;
        this.armTimer(); // a cleared UF/AF may need the update timer again
        return ret;
      }
      default:
        return this.cmos[this.index];
    }
  }

  private ioWrite(offset: number, data: number): void {
    if ((offset & 1) === 0) {
      this.index = data & 0x7f;
      return;
    }
    const now = this.clock.now();
    this.catchUp(now);
    const b = this.cmos[RtcReg.B];
    if (this.index === RtcReg.PS2_CENTURY) this.index = RtcReg.CENTURY;
    if (isTimeRegister(this.index)) {
      this.cmos[this.index] = data;
      if (this.running()) this.setTime(now); // in SET mode the time starts when SET is cleared
      return;
    }
    switch (this.index) {
      case RtcReg.SECONDS_ALARM:
      case RtcReg.MINUTES_ALARM:
      case RtcReg.HOURS_ALARM:
        this.cmos[this.index] = data;
        break;
      case RtcReg.A: {
        const a = this.cmos[RtcReg.A];
        const periodChanged = ((a ^ data) & 0x0f) !== 0;
        const oldPeriod = this.periodClocks();
        if ((data & 0x60) === 0x60) {
          // divider reset: the clock stops here
          if (this.running()) this.updateTime(now);
        } else if ((a & 0x60) === 0x60 && (data & 0x70) <= 0x20 && !(b & REG_B_SET)) {
          // leaving divider reset: the first update comes half a second later
          this.offset = 500_000_000n;
          this.setTime(now);
        }
        this.cmos[RtcReg.A] = data & ~REG_A_UIP; // UIP is read-only
        if (periodChanged) this.periodicUpdate(now, oldPeriod, true);
        break;
      }
      case RtcReg.B: {
        const pieChanged = ((b ^ data) & REG_B_PIE) !== 0;
        const oldPeriod = this.periodClocks();
        let value = data;
        if (value & REG_B_SET) {
          if (this.running()) this.updateTime(now);
          value &= ~REG_B_UIE; // SET clears UIE (data sheet)
        } else if (b & REG_B_SET && (this.cmos[RtcReg.A] & 0x70) <= 0x20) {
          // leaving SET mode: the written time starts, keeping the sub-second phase
          this.offset = mod(this.guestNs(now), NS);
          this.setTime(now);
        }
        // A flag already set when its interrupt becomes enabled fires at once.
        if (value & this.cmos[RtcReg.C] & REG_C_MASK) {
          this.cmos[RtcReg.C] |= REG_C_IRQF;
          this.setIrq(true);
        } else {
          this.cmos[RtcReg.C] &= ~REG_C_IRQF;
          this.setIrq(false);
        }
        this.cmos[RtcReg.B] = value;
        if (pieChanged) this.periodicUpdate(now, oldPeriod, true);
        break;
      }
      case RtcReg.C:
      case RtcReg.D:
        break; // read-only
      default:
        this.cmos[this.index] = data;
    }
    this.armTimer();
  }

  // ------------------------------------------------------------ clock

  private guestNs(now: bigint): bigint {
    return this.baseRtc * NS + now - this.lastUpdate + this.offset;
  }

  /** rtc_running: neither SET nor a divider that stops the clock. */
  private running(): boolean {
    return !(this.cmos[RtcReg.B] & REG_B_SET) && (this.cmos[RtcReg.A] & 0x70) <= 0x20;
  }

  /** Divider chain in reset: no update cycles, no update-ended or alarm events. */
  private dividerReset(): boolean {
    return (this.cmos[RtcReg.A] & 0x60) === 0x60;
  }

  private updateInProgress(now: bigint): boolean {
    return this.running() && mod(this.guestNs(now), NS) >= NS - UIP_HOLD_NS;
  }

  /** rtc_set_date_from_host */
  private setDateFromHost(): void {
    const now = this.clock.now();
    this.baseRtc = floorDiv(now, NS);
    this.lastUpdate = now;
    this.offset = 0n;
    this.updatedSecond = this.baseRtc;
    setCmosTime(this.cmos, this.baseRtc);
  }

  /** rtc_set_time: the guest clock restarts from the time registers. */
  private setTime(now: bigint): void {
    this.baseRtc = timeFromRegisters(this.cmos);
    this.lastUpdate = now;
    this.updatedSecond = floorDiv(this.guestNs(now), NS);
  }

  /** rtc_update_time: the time registers from the guest clock (not in SET mode). */
  private updateTime(now: bigint): void {
    if (!(this.cmos[RtcReg.B] & REG_B_SET)) setCmosTime(this.cmos, floorDiv(this.guestNs(now), NS));
  }

  // ------------------------------------------------------------ events

  /** Everything due up to `now`: update-ended (and alarm) at each guest second, periodic ticks. */
  private catchUp(now: bigint): void {
    if (this.dividerReset()) {
      this.updatedSecond = floorDiv(this.guestNs(now), NS);
    } else {
      const second = floorDiv(this.guestNs(now), NS);
      if (second > this.updatedSecond) {
        let irqs = REG_C_UF;
        if (!(this.cmos[RtcReg.C] & REG_C_AF) && alarmBetween(this.cmos, this.updatedSecond, second)) irqs |= REG_C_AF;
        this.updatedSecond = second;
        this.raiseFlags(irqs);
        if (irqs & REG_C_AF && this.cmos[RtcReg.B] & REG_B_AIE) this.onAlarm?.();
      }
    }
    if (this.nextPeriodic !== null && now >= this.nextPeriodic) {
      const period = BigInt(this.periodClocks());
      let next = clockToNs(nsToClock(this.nextPeriodic) + period) + 1n;
      if (next <= now) next = clockToNs(nsToClock(now) + period) + 1n; // two or more ticks lost: restart from now
      this.nextPeriodic = next;
      this.cmos[RtcReg.C] |= REG_C_PF | REG_C_IRQF; // periodic ticks run only while PIE is set
      this.setIrq(true);
    }
  }

  /** rtc_update_timer's flag logic: new flags that are enabled in B raise the interrupt. */
  private raiseFlags(irqs: number): void {
    const fresh = irqs & ~this.cmos[RtcReg.C];
    this.cmos[RtcReg.C] |= irqs;
    if (fresh & this.cmos[RtcReg.B]) {
      this.cmos[RtcReg.C] |= REG_C_IRQF;
      this.setIrq(true);
    }
  }

  /** rtc_periodic_clock_ticks: the period in 32 kHz cycles, 0 when PIE is off or the rate is 0. */
  private periodClocks(): number {
    if (!(this.cmos[RtcReg.B] & REG_B_PIE)) return 0;
    let code = this.cmos[RtcReg.A] & 0x0f;
    if (code === 0) return 0;
    if (code <= 2) code += 7; // rates 1 and 2 behave as 8 and 9
    return 1 << (code - 1);
  }

  /** periodic_timer_update (discard policy): a changed period keeps the time since the last tick. */
  private periodicUpdate(now: bigint, oldPeriod: number, periodChange: boolean): void {
    const period = BigInt(this.periodClocks());
    if (period === 0n) {
      this.nextPeriodic = null;
      return;
    }
    const cur = nsToClock(now);
    let lost = 0n;
    if (oldPeriod && periodChange && this.nextPeriodic !== null) {
      lost = cur - (nsToClock(this.nextPeriodic) - BigInt(oldPeriod));
      if (lost < 0n) lost = 0n;
      if (lost > period) lost = period;
    }
    this.nextPeriodic = clockToNs(cur + period - lost) + 1n;
  }

  /** The host time of the next event that could raise IRQ 8, or null. */
  private nextDeadline(): bigint | null {
    let deadline = this.nextPeriodic;
    const b = this.cmos[RtcReg.B];
    const c = this.cmos[RtcReg.C];
    if (!this.dividerReset() && ((b & REG_B_UIE && !(c & REG_C_UF)) || (b & REG_B_AIE && !(c & REG_C_AF)))) {
      const update = this.lastUpdate + (this.updatedSecond + 1n - this.baseRtc) * NS - this.offset;
      if (deadline === null || update < deadline) deadline = update;
    }
    return deadline;
  }

  /** Keeps one host timer for the next event that can interrupt (none without an IRQ line). */
  private armTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (this.irq === null) return;
    const deadline = this.nextDeadline();
    if (deadline === null) return;
    this.cancelTimer = this.clock.setTimer(deadline, () => {
      this.cancelTimer = null;
      this.catchUp(this.clock.now());
      this.armTimer();
    });
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq?.set(level);
  }

  // ------------------------------------------------------------ snapshot

  saveState(): DeviceStateValue {
    this.catchUp(this.clock.now());
    return {
      cmos: this.cmos.slice(), index: this.index, baseRtc: this.baseRtc, lastUpdate: this.lastUpdate, offset: this.offset,
      updatedSecond: this.updatedSecond, nextPeriodic: this.nextPeriodic, irqLevel: this.irqLevel,
    };
  }

  loadState(state: DeviceStateValue): void {
    const name = 'mc146818rtc';
    const s = state as Record<string, unknown>;
    const index = stateField(state, 'index', 'number', name);
    const irqLevel = stateField(state, 'irqLevel', 'boolean', name);
    if (!(s.cmos instanceof Uint8Array) || s.cmos.length !== CMOS_SIZE) throw new TypeError(`${name} state: cmos must be a Uint8Array of ${CMOS_SIZE} bytes`);
    if (!Number.isInteger(index) || index < 0 || index >= CMOS_SIZE) throw new RangeError(`${name} state: index must be 0..127`);
    for (const key of ['baseRtc', 'lastUpdate', 'offset', 'updatedSecond']) {
      if (typeof s[key] !== 'bigint') throw new TypeError(`${name} state: ${key} must be a bigint`);
    }
    if (s.nextPeriodic !== null && typeof s.nextPeriodic !== 'bigint') throw new TypeError(`${name} state: nextPeriodic must be a bigint or null`);
    this.cmos = s.cmos.slice();
    this.index = index;
    this.baseRtc = s.baseRtc as bigint;
    this.lastUpdate = s.lastUpdate as bigint;
    this.offset = s.offset as bigint;
    this.updatedSecond = s.updatedSecond as bigint;
    this.nextPeriodic = s.nextPeriodic as bigint | null;
    this.setIrq(irqLevel);
    this.armTimer();
  }

  /** Stops the timer, takes the regions out of their container and frees them. */
  close(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.indexRegion.close();
    this.region.close();
  }
}

/** muldiv64(ns, 32768, 1e9) */
function nsToClock(ns: bigint): bigint {
  return floorDiv(ns * RTC_CLOCK_RATE, NS);
}

/** periodic_clock_to_ns */
function clockToNs(clock: bigint): bigint {
  return floorDiv(clock * NS, RTC_CLOCK_RATE);
}
