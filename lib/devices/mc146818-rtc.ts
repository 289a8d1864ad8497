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
import { MemoryRegion } from '../memory/region';
import type { MemoryRegionOps } from '../memory/types';
import { checkOptions, type OptionKeys } from '../options';
import { type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import { hex } from '../util/hex';
import { hostRtcClock, type RtcClock } from './rtc-clock';

/** CMOS indexes (hw/rtc/mc146818rtc_regs.h). */
export const RtcReg = {
  SECONDS: 0x00,
  SECONDS_ALARM: 0x01,
  MINUTES: 0x02,
  MINUTES_ALARM: 0x03,
  HOURS: 0x04,
  HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06,
  DAY_OF_MONTH: 0x07,
  MONTH: 0x08,
  YEAR: 0x09,
  A: 0x0a,
  B: 0x0b,
  C: 0x0c,
  D: 0x0d,
  /** REG_IBM_CENTURY_BYTE */
  CENTURY: 0x32,
  /** REG_IBM_PS2_CENTURY_BYTE: an alias of CENTURY (an access moves the index there). */
  PS2_CENTURY: 0x37,
} as const;

const REG_A_UIP = 0x80;
const REG_B_SET = 0x80;
const REG_B_PIE = 0x40;
const REG_B_AIE = 0x20;
const REG_B_UIE = 0x10;
const REG_B_SQWE = 0x08;
const REG_B_DM = 0x04;
const REG_B_24H = 0x02;
const REG_C_IRQF = 0x80;
const REG_C_PF = 0x40;
const REG_C_AF = 0x20;
const REG_C_UF = 0x10;
const REG_C_MASK = 0x70;

export const CMOS_SIZE = 128;
const NS = 1_000_000_000n;
const RTC_CLOCK_RATE = 32768n;
/** UIP_HOLD_LENGTH: 8 cycles of the 32.768 kHz clock, in ns (integer, as in QEMU). */
const UIP_HOLD_NS = (8n * NS) / RTC_CLOCK_RATE;
const SEC_PER_DAY = 86400n;

/** Where the RTC's interrupt goes (ISA IRQ 8 on a PC). */
export interface RtcIrqLine {
  set(level: boolean): void;
}

export interface Mc146818RtcOptions {
  /** IRQ 8; without it the flags in register C still work (polled guests). */
  irq?: RtcIrqLine | null;
  /** The host clock and timers (default: the real ones). */
  clock?: RtcClock;
}

const RTC_OPTIONS = { irq: true, clock: true } as const satisfies OptionKeys<Mc146818RtcOptions>;

export class Mc146818Rtc implements SnapshotDevice {
  readonly snapshotName = 'mc146818rtc';
  /** "rtc": 2 bytes at 0x70, with its child "rtc-index" (1 byte at offset 0), as in QEMU's tree. */
  readonly region: MemoryRegion;
  readonly indexRegion: MemoryRegion;
  private readonly irq: RtcIrqLine | null;
  private readonly clock: RtcClock;
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
    this.irq = opts.irq ?? null;
    if (this.irq !== null && typeof this.irq.set !== 'function') throw new TypeError('rtc irq must be an object with set(level: boolean)');
    this.clock = opts.clock ?? hostRtcClock;
    if (typeof this.clock.now !== 'function' || typeof this.clock.setTimer !== 'function') {
      throw new TypeError('rtc clock must have now() and setTimer(deadlineNs, callback)');
    }
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
    switch (this.index) {
      case RtcReg.CENTURY:
      case RtcReg.SECONDS:
      case RtcReg.MINUTES:
      case RtcReg.HOURS:
      case RtcReg.DAY_OF_WEEK:
      case RtcReg.DAY_OF_MONTH:
      case RtcReg.MONTH:
      case RtcReg.YEAR:
        if (this.running()) this.updateTime(now);
        return this.cmos[this.index];
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
    switch (this.index) {
      case RtcReg.SECONDS_ALARM:
      case RtcReg.MINUTES_ALARM:
      case RtcReg.HOURS_ALARM:
        this.cmos[this.index] = data;
        break;
      case RtcReg.CENTURY:
      case RtcReg.SECONDS:
      case RtcReg.MINUTES:
      case RtcReg.HOURS:
      case RtcReg.DAY_OF_WEEK:
      case RtcReg.DAY_OF_MONTH:
      case RtcReg.MONTH:
      case RtcReg.YEAR:
        this.cmos[this.index] = data;
        if (this.running()) this.setTime(now); // in SET mode the time starts when SET is cleared
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
    this.setCmosTime(this.baseRtc);
  }

  /** rtc_set_time: the guest clock restarts from the time registers. */
  private setTime(now: bigint): void {
    this.baseRtc = this.timeFromRegisters();
    this.lastUpdate = now;
    this.updatedSecond = floorDiv(this.guestNs(now), NS);
  }

  /** rtc_update_time: the time registers from the guest clock (not in SET mode). */
  private updateTime(now: bigint): void {
    if (!(this.cmos[RtcReg.B] & REG_B_SET)) this.setCmosTime(floorDiv(this.guestNs(now), NS));
  }

  /** rtc_set_cmos from a guest Unix time (gmtime). */
  private setCmosTime(seconds: bigint): void {
    const t = gmtime(seconds);
    const bcd = (v: number) => this.toBcd(v);
    this.cmos[RtcReg.SECONDS] = bcd(t.sec);
    this.cmos[RtcReg.MINUTES] = bcd(t.min);
    if (this.cmos[RtcReg.B] & REG_B_24H) {
      this.cmos[RtcReg.HOURS] = bcd(t.hour);
    } else {
      this.cmos[RtcReg.HOURS] = bcd(t.hour % 12 || 12) | (t.hour >= 12 ? 0x80 : 0);
    }
    this.cmos[RtcReg.DAY_OF_WEEK] = bcd(t.wday + 1);
    this.cmos[RtcReg.DAY_OF_MONTH] = bcd(t.mday);
    this.cmos[RtcReg.MONTH] = bcd(t.mon + 1);
    this.cmos[RtcReg.YEAR] = bcd(t.year % 100);
    this.cmos[RtcReg.CENTURY] = bcd(Math.trunc(t.year / 100));
  }

  /** rtc_get_time + mktimegm */
  private timeFromRegisters(): bigint {
    const c = this.cmos;
    let hour = this.fromBcd(c[RtcReg.HOURS] & 0x7f);
    if (!(c[RtcReg.B] & REG_B_24H)) {
      hour %= 12;
      if (c[RtcReg.HOURS] & 0x80) hour += 12;
    }
    const year = this.fromBcd(c[RtcReg.YEAR]) + this.fromBcd(c[RtcReg.CENTURY]) * 100;
    return mktimegm(year, this.fromBcd(c[RtcReg.MONTH]), this.fromBcd(c[RtcReg.DAY_OF_MONTH]),
      hour, this.fromBcd(c[RtcReg.MINUTES]), this.fromBcd(c[RtcReg.SECONDS]));
  }

  private toBcd(v: number): number {
    return this.cmos[RtcReg.B] & REG_B_DM ? v & 0xff : ((Math.trunc(v / 10) << 4) | (v % 10)) & 0xff;
  }

  /** rtc_from_bcd: -1 for a "don't care" value (bits 7 and 6 set). */
  private fromBcd(a: number): number {
    if ((a & 0xc0) === 0xc0) return -1;
    return this.cmos[RtcReg.B] & REG_B_DM ? a : (a >> 4) * 10 + (a & 0x0f);
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
        if (!(this.cmos[RtcReg.C] & REG_C_AF) && this.alarmBetween(this.updatedSecond, second)) irqs |= REG_C_AF;
        this.updatedSecond = second;
        this.raiseFlags(irqs);
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

  /** Whether a guest second in (from, to] matches the alarm registers (a day of seconds at most). */
  private alarmBetween(from: bigint, to: bigint): boolean {
    const c = this.cmos;
    const sec = this.fromBcd(c[RtcReg.SECONDS_ALARM]);
    const min = this.fromBcd(c[RtcReg.MINUTES_ALARM]);
    const rawHour = c[RtcReg.HOURS_ALARM];
    const h24 = (c[RtcReg.B] & REG_B_24H) !== 0;
    let hour = (rawHour & 0xc0) === 0xc0 ? -1 : this.fromBcd(h24 ? rawHour : rawHour & 0x7f);
    if (hour !== -1 && !h24) hour = (hour % 12) + (rawHour & 0x80 ? 12 : 0);
    const start = to - from > SEC_PER_DAY ? to - SEC_PER_DAY + 1n : from + 1n;
    for (let s = start; s <= to; s++) {
      const ofDay = Number(mod(s, SEC_PER_DAY));
      if ((sec === -1 || sec === ofDay % 60) && (min === -1 || min === Math.trunc(ofDay / 60) % 60) &&
          (hour === -1 || hour === Math.trunc(ofDay / 3600))) return true;
    }
    return false;
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

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

function mod(a: bigint, b: bigint): bigint {
  const r = a % b;
  return r < 0n ? r + b : r;
}

/** muldiv64(ns, 32768, 1e9) */
function nsToClock(ns: bigint): bigint {
  return floorDiv(ns * RTC_CLOCK_RATE, NS);
}

/** periodic_clock_to_ns */
function clockToNs(clock: bigint): bigint {
  return floorDiv(clock * NS, RTC_CLOCK_RATE);
}

/** gmtime for the fields the RTC holds; a time beyond what Date covers reads as the epoch. */
function gmtime(seconds: bigint): { sec: number; min: number; hour: number; wday: number; mday: number; mon: number; year: number } {
  const ms = Number(seconds) * 1000;
  const d = new Date(Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : 0);
  return {
    sec: d.getUTCSeconds(), min: d.getUTCMinutes(), hour: d.getUTCHours(), wday: d.getUTCDay(),
    mday: d.getUTCDate(), mon: d.getUTCMonth(), year: d.getUTCFullYear(),
  };
}

/** QEMU's mktimegm (include/qemu/cutils.h): days from the civil date, C integer division. */
function mktimegm(year: number, month: number, day: number, hour: number, min: number, sec: number): bigint {
  let y = year;
  let m = month;
  if (m < 3) {
    m += 12;
    y--;
  }
  const days = day + Math.trunc((153 * m - 457) / 5) + 365 * y + Math.trunc(y / 4) - Math.trunc(y / 100) + Math.trunc(y / 400) - 719469;
  return BigInt(days) * SEC_PER_DAY + BigInt(3600 * hour + 60 * min + sec);
}
