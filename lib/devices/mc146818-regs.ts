// The mc146818's register file as its clock logic reads and writes it
// (hw/rtc/mc146818rtc_regs.h, hw/rtc/mc146818rtc.c): the CMOS indexes, the
// bits of registers A-D, and the calendar registers, BCD or binary
// (register B's DM bit), 12- or 24-hour (its 24H bit). Pure functions of the
// 128 CMOS bytes; the device (mc146818-rtc.ts) keeps the clock and the IRQ.

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

/** The clock's own registers: reading one brings it up to date, writing one sets the time. */
export function isTimeRegister(index: number): boolean {
  return index === RtcReg.CENTURY || (index <= RtcReg.YEAR && index !== RtcReg.SECONDS_ALARM &&
    index !== RtcReg.MINUTES_ALARM && index !== RtcReg.HOURS_ALARM);
}

export const REG_A_UIP = 0x80;
export const REG_B_SET = 0x80;
export const REG_B_PIE = 0x40;
export const REG_B_AIE = 0x20;
export const REG_B_UIE = 0x10;
export const REG_B_SQWE = 0x08;
const REG_B_DM = 0x04;
const REG_B_24H = 0x02;
export const REG_C_IRQF = 0x80;
export const REG_C_PF = 0x40;
export const REG_C_AF = 0x20;
export const REG_C_UF = 0x10;
export const REG_C_MASK = 0x70;

export const CMOS_SIZE = 128;
export const SEC_PER_DAY = 86400n;

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

export function mod(a: bigint, b: bigint): bigint {
  const r = a % b;
  return r < 0n ? r + b : r;
}

function toBcd(cmos: Uint8Array, v: number): number {
  return cmos[RtcReg.B] & REG_B_DM ? v & 0xff : ((Math.trunc(v / 10) << 4) | (v % 10)) & 0xff;
}

/** rtc_from_bcd: -1 for a "don't care" value (bits 7 and 6 set). */
function fromBcd(cmos: Uint8Array, a: number): number {
  if ((a & 0xc0) === 0xc0) return -1;
  return cmos[RtcReg.B] & REG_B_DM ? a : (a >> 4) * 10 + (a & 0x0f);
}

/** rtc_set_cmos: the time registers from a guest Unix time (gmtime). */
export function setCmosTime(cmos: Uint8Array, seconds: bigint): void {
  const t = gmtime(seconds);
  const bcd = (v: number) => toBcd(cmos, v);
  cmos[RtcReg.SECONDS] = bcd(t.sec);
  cmos[RtcReg.MINUTES] = bcd(t.min);
  if (cmos[RtcReg.B] & REG_B_24H) {
    cmos[RtcReg.HOURS] = bcd(t.hour);
  } else {
    cmos[RtcReg.HOURS] = bcd(t.hour % 12 || 12) | (t.hour >= 12 ? 0x80 : 0);
  }
  cmos[RtcReg.DAY_OF_WEEK] = bcd(t.wday + 1);
  cmos[RtcReg.DAY_OF_MONTH] = bcd(t.mday);
  cmos[RtcReg.MONTH] = bcd(t.mon + 1);
  cmos[RtcReg.YEAR] = bcd(t.year % 100);
  cmos[RtcReg.CENTURY] = bcd(Math.trunc(t.year / 100));
}

/** rtc_get_time + mktimegm: the guest Unix time the time registers hold. */
export function timeFromRegisters(cmos: Uint8Array): bigint {
  const c = cmos;
  const bin = (a: number) => fromBcd(cmos, a);
  let hour = bin(c[RtcReg.HOURS] & 0x7f);
  if (!(c[RtcReg.B] & REG_B_24H)) {
    hour %= 12;
    if (c[RtcReg.HOURS] & 0x80) hour += 12;
  }
  const year = bin(c[RtcReg.YEAR]) + bin(c[RtcReg.CENTURY]) * 100;
  return mktimegm(year, bin(c[RtcReg.MONTH]), bin(c[RtcReg.DAY_OF_MONTH]), hour, bin(c[RtcReg.MINUTES]), bin(c[RtcReg.SECONDS]));
}

/** Whether a guest second in (from, to] matches the alarm registers (a day of seconds at most). */
export function alarmBetween(cmos: Uint8Array, from: bigint, to: bigint): boolean {
  const c = cmos;
  const sec = fromBcd(cmos, c[RtcReg.SECONDS_ALARM]);
  const min = fromBcd(cmos, c[RtcReg.MINUTES_ALARM]);
  const rawHour = c[RtcReg.HOURS_ALARM];
  const h24 = (c[RtcReg.B] & REG_B_24H) !== 0;
  let hour = (rawHour & 0xc0) === 0xc0 ? -1 : fromBcd(cmos, h24 ? rawHour : rawHour & 0x7f);
  if (hour !== -1 && !h24) hour = (hour % 12) + (rawHour & 0x80 ? 12 : 0);
  const start = to - from > SEC_PER_DAY ? to - SEC_PER_DAY + 1n : from + 1n;
  for (let s = start; s <= to; s++) {
    const ofDay = Number(mod(s, SEC_PER_DAY));
    if ((sec === -1 || sec === ofDay % 60) && (min === -1 || min === Math.trunc(ofDay / 60) % 60) &&
        (hour === -1 || hour === Math.trunc(ofDay / 3600))) return true;
  }
  return false;
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
