// The mc146818 CMOS/RTC and pc_cmos_init against QEMU 7.2: the CMOS dumps of
// test/fixtures/qemu-pc/pci-cmos (at reset, and after POST with an 8 MiB IDE
// disk), reproduced byte for byte with the clock set to the time of the
// capture; the memory-size rule of hw/i386/pc.c at other sizes; and the RTC's
// registers (hw/rtc/mc146818rtc.c) under a clock the test controls.
import { Mc146818Rtc, RtcReg } from '../../lib/devices/mc146818-rtc';
import { hostRtcClock } from '../../lib/devices/rtc-clock';
import { pcCmosInit, pcCmosInitLate, pcSetBootDevices, x86RtcSetCpusCount } from '../../lib/machines/pc/cmos-init';
import { fixtureCmos, NS_PER_S, rtcRig, utcNs } from './rtc-rig';

const M = 1n << 20n;
const G = 1n << 30n;

type Rig = ReturnType<typeof rtcRig>;

/** The pc machine's CMOS set-up for -m `ram` (below/above split given), 1 CPU, first reset. */
function pcInit(r: Rig, belowSize: bigint, aboveSize = 0n, drives: Parameters<typeof pcCmosInitLate>[1] = {}) {
  pcCmosInit(r.rtc, { ramSplit: { below4g: belowSize, above4g: aboveSize } });
  x86RtcSetCpusCount(r.rtc, 1);
  r.rtc.reset();
  pcCmosInitLate(r.rtc, drives);
}

const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

describe('CMOS at -m 128 equals QEMU 7.2', () => {
  test('at reset: all 128 bytes, with the clock at the capture time (2026-12-01 18:45:41 UTC)', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41, 300));
    try {
      pcInit(r, 128n * M);
      expect(hex(r.dump())).toBe(hex(fixtureCmos('reset-state-m128-pci-cmos-cpuid-dump.txt')));
    } finally {
      r.close();
    }
  });

  test("after POST with an 8 MiB disk (16/16/63): disk bytes 0x12/0x19-0x23, UF set by the updates since, SeaBIOS's writes", () => {
    // QEMU starts the guest's second at realize time (rtc_set_date_from_host), not on the host's second
    const r = rtcRig(utcNs(2026, 12, 1, 18, 33, 30, 600));
    try {
      pcInit(r, 128n * M, 0n, { ide: [{ cylinders: 16, heads: 16, sectors: 63, translation: 'none' }] });
      // what SeaBIOS writes during POST (pc-machine.md section 5)
      r.setCmos(0x0f, 0);
      r.setCmos(RtcReg.A, 0x26);
      r.setCmos(RtcReg.B, r.cmos(RtcReg.B) & ~0x01);
      r.cmos(RtcReg.C);
      r.clock.advance(1_500_000_000n); // guest 18:33:31.5, one update cycle later
      expect(hex(r.dump())).toBe(hex(fixtureCmos('after-post-m128-with-disk-pci-cmos-e820-dump.txt')));
    } finally {
      r.close();
    }
  });

  test('the time bytes follow the injected clock (BCD, 24 h, century), the rest stays', () => {
    const r = rtcRig(utcNs(1999, 12, 31, 23, 59, 58, 500));
    try {
      pcInit(r, 128n * M);
      const want = fixtureCmos('reset-state-m128-pci-cmos-cpuid-dump.txt');
      const time = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x37];
      const got = r.dump();
      expect(time.map((i) => got[i])).toEqual([0x58, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19, 0x19]); // a Friday
      expect(got.filter((_, i) => !time.includes(i))).toEqual(want.filter((_, i) => !time.includes(i)));
      r.clock.advance(2n * NS_PER_S); // into 2000-01-01 00:00:00.5, a Saturday
      expect(time.map((i) => r.cmos(i))).toEqual([0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20, 0x20]);
    } finally {
      r.close();
    }
  });
});

describe('pc_cmos_init rules at other sizes (hw/i386/pc.c)', () => {
  const sizes = (r: Rig) => ({
    base: r.cmos(0x15) | (r.cmos(0x16) << 8),
    ext: r.cmos(0x17) | (r.cmos(0x18) << 8),
    ext2: r.cmos(0x30) | (r.cmos(0x31) << 8),
    above16m: r.cmos(0x34) | (r.cmos(0x35) << 8),
    above4g: r.cmos(0x5b) | (r.cmos(0x5c) << 8) | (r.cmos(0x5d) << 16),
  });
  test.each([
    ['512K', 512n * 1024n, 0n, { base: 512, ext: 0, ext2: 0, above16m: 0, above4g: 0 }],
    ['16M', 16n * M, 0n, { base: 640, ext: 15 * 1024, ext2: 15 * 1024, above16m: 0, above4g: 0 }],
    ['1G', 1n * G, 0n, { base: 640, ext: 0xffff, ext2: 0xffff, above16m: 0x3f00, above4g: 0 }],
    ['3G', 3n * G, 0n, { base: 640, ext: 0xffff, ext2: 0xffff, above16m: 0xbf00, above4g: 0 }],
    ['3584M (3G + 512M)', 3n * G, 512n * M, { base: 640, ext: 0xffff, ext2: 0xffff, above16m: 0xbf00, above4g: 0x2000 }],
    ['5G (3G + 2G)', 3n * G, 2n * G, { base: 640, ext: 0xffff, ext2: 0xffff, above16m: 0xbf00, above4g: 0x8000 }],
    ['max-ram-below-4g=3.5G -m 1T', 3584n * M, 1024n * G - 3584n * M, { base: 640, ext: 0xffff, ext2: 0xffff, above16m: 0xdf00, above4g: 0xff2000 }],
  ])('-m %s', (_name, below, above, want) => {
    const r = rtcRig(utcNs(2026, 1, 1, 0, 0, 0));
    try {
      pcInit(r, below, above);
      expect(sizes(r)).toEqual(want);
    } finally {
      r.close();
    }
  });

  test('boot order nibbles, -no-fd-bootchk, CPU count, floppies, a slave disk and translations', () => {
    const r = rtcRig(utcNs(2026, 1, 1, 0, 0, 0));
    try {
      pcInit(r, 128n * M);
      expect([r.cmos(0x3d), r.cmos(0x38)]).toEqual([0x12, 0x30]);
      pcSetBootDevices(r.rtc, 'dc', true);
      expect([r.cmos(0x3d), r.cmos(0x38)]).toEqual([0x23, 0x00]);
      pcSetBootDevices(r.rtc, 'n', false);
      expect([r.cmos(0x3d), r.cmos(0x38)]).toEqual([0x04, 0x01]);
      expect(() => pcSetBootDevices(r.rtc, 'cdan', true)).toThrow(new RangeError('Too many boot devices for PC'));
      expect(() => pcSetBootDevices(r.rtc, 'cx', true)).toThrow(new RangeError("Invalid boot device for PC: 'x'"));
      x86RtcSetCpusCount(r.rtc, 4);
      expect(r.cmos(0x5f)).toBe(3);
      x86RtcSetCpusCount(r.rtc, 288);
      expect(r.cmos(0x5f)).toBe(0);
      pcCmosInitLate(r.rtc, {
        floppies: ['144', '288'],
        ide: [null, { cylinders: 1024, heads: 16, sectors: 63, translation: 'lba' }, null, { cylinders: 2, heads: 4, sectors: 17, translation: 'large' }],
      });
      expect(r.cmos(0x10)).toBe(0x45);
      expect(r.cmos(0x14)).toBe(0x06 | 0x41);
      expect(r.cmos(0x12)).toBe(0x0f);
      expect([r.cmos(0x1a), ...Array.from({ length: 9 }, (_, i) => r.cmos(0x24 + i))]).toEqual([47, 0x00, 0x04, 16, 0xff, 0xff, 0xc8, 0x00, 0x04, 63]);
      expect(r.cmos(0x39)).toBe((1 << 2) | (2 << 6));
      expect(() => pcCmosInitLate(r.rtc, { ide: [{ cylinders: 0, heads: 16, sectors: 63, translation: 'none' }] })).toThrow(RangeError);
      expect(() => pcCmosInitLate(r.rtc, { floppies: ['360' as never] })).toThrow(RangeError);
    } finally {
      r.close();
    }
  });
});

describe('mc146818 RTC registers', () => {
  test('0x70 reads 0xff; bit 7 of the index (NMI mask) is ignored; C and D are read-only; 0x37 aliases 0x32 and moves the index', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41));
    try {
      expect(r.inb(0x70)).toBe(0xff);
      r.setCmos(0x8f, 0x5a);
      expect(r.rtc.getCmos(0x0f)).toBe(0x5a);
      r.setCmos(RtcReg.D, 0);
      r.setCmos(RtcReg.C, 0xff);
      expect([r.cmos(RtcReg.C), r.cmos(RtcReg.D)]).toEqual([0x00, 0x80]);
      r.outb(0x70, 0x37);
      expect(r.inb(0x71)).toBe(0x20);
      r.outb(0x71, 0x21); // the index is now 0x32
      expect(r.rtc.getCmos(0x32)).toBe(0x21);
      expect(r.rtc.getCmos(0x37)).toBe(0);
      expect(r.io.read(0x70, 2).data).toEqual(Uint8Array.of(0xff, 0x21)); // a 16-bit read is two byte accesses
    } finally {
      r.close();
    }
  });

  test('UIP reads 1 only in the last 244 µs of each second: a guest polling it sees it rise and fall', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41));
    try {
      r.clock.advance(999_000_000n);
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) {
        seen.push(r.cmos(RtcReg.A) >> 7);
        r.clock.advance(100_000n); // 100 µs per poll
      }
      expect(seen.join('')).toBe('00000000110000000000'); // at 999.8 ms and 999.9 ms of the second
      expect(r.cmos(RtcReg.A) & 0x7f).toBe(0x26);
      expect(r.cmos(RtcReg.SECONDS)).toBe(0x42);
    } finally {
      r.close();
    }
  });

  test('binary mode and 12-hour mode per register B; SET stops the clock, clearing it starts the written time', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41));
    try {
      r.setCmos(RtcReg.B, 0x02 | 0x04); // 24 h, binary
      expect([r.cmos(RtcReg.HOURS), r.cmos(RtcReg.MINUTES), r.cmos(RtcReg.YEAR), r.cmos(RtcReg.CENTURY)]).toEqual([18, 45, 26, 20]);
      r.setCmos(RtcReg.B, 0x00); // 12 h, BCD: 6 PM
      expect(r.cmos(RtcReg.HOURS)).toBe(0x86);
      r.setCmos(RtcReg.B, 0x80 | 0x02); // SET, 24 h
      for (const [i, v] of [[RtcReg.HOURS, 0x09], [RtcReg.MINUTES, 0x30], [RtcReg.SECONDS, 0x00], [RtcReg.DAY_OF_MONTH, 0x15],
        [RtcReg.MONTH, 0x06], [RtcReg.YEAR, 0x24], [RtcReg.CENTURY, 0x20]]) r.setCmos(i, v);
      r.clock.advance(5n * NS_PER_S);
      expect(r.cmos(RtcReg.SECONDS)).toBe(0x00); // frozen while SET
      r.setCmos(RtcReg.B, 0x02);
      r.clock.advance(61n * NS_PER_S);
      expect([r.cmos(RtcReg.HOURS), r.cmos(RtcReg.MINUTES), r.cmos(RtcReg.SECONDS), r.cmos(RtcReg.DAY_OF_WEEK)]).toEqual([0x09, 0x31, 0x01, 0x07]);
      // a time register written while running restarts the clock from it
      r.setCmos(RtcReg.MINUTES, 0x00);
      expect(r.cmos(RtcReg.MINUTES)).toBe(0x00);
      r.clock.advance(60n * NS_PER_S);
      expect(r.cmos(RtcReg.MINUTES)).toBe(0x01);
    } finally {
      r.close();
    }
  });

  test('divider reset (A = 0x70) stops updates; leaving it, the first update comes half a second later', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41));
    try {
      r.setCmos(RtcReg.A, 0x70);
      r.clock.advance(3n * NS_PER_S);
      expect(r.cmos(RtcReg.SECONDS)).toBe(0x41);
      r.setCmos(RtcReg.A, 0x26);
      r.clock.advance(400_000_000n);
      expect(r.cmos(RtcReg.SECONDS)).toBe(0x41);
      r.clock.advance(200_000_000n);
      expect(r.cmos(RtcReg.SECONDS)).toBe(0x42);
    } finally {
      r.close();
    }
  });
});

describe('mc146818 RTC interrupts (IRQ 8) from timers on the injected clock', () => {
  test('update-ended: UIE raises the line at the next second; reading C returns 0x90 and lowers it', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41, 100));
    try {
      r.cmos(RtcReg.C);
      r.setCmos(RtcReg.B, 0x12); // UIE, 24 h
      expect(r.clock.pending()).toBe(1);
      r.clock.advance(800_000_000n);
      expect(r.levels).toEqual([]);
      r.clock.advance(200_000_000n);
      expect(r.levels).toEqual([true]);
      expect(r.cmos(RtcReg.C)).toBe(0x90);
      expect(r.levels).toEqual([true, false]);
      expect(r.cmos(RtcReg.C)).toBe(0x00);
    } finally {
      r.close();
    }
  });

  test('periodic: PIE at rate 6 (1024 Hz) ticks every 976.5 µs; clearing PIE stops it', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41, 100));
    try {
      r.setCmos(RtcReg.B, 0x42); // PIE, 24 h
      r.clock.advance(900_000n);
      expect(r.levels).toEqual([]);
      r.clock.advance(100_000n);
      expect(r.levels).toEqual([true]);
      expect(r.cmos(RtcReg.C)).toBe(0xc0);
      r.clock.advance(1_000_000n);
      expect(r.cmos(RtcReg.C)).toBe(0xc0);
      expect(r.levels).toEqual([true, false, true, false]);
      r.setCmos(RtcReg.B, 0x02);
      expect(r.clock.pending()).toBe(0);
      r.clock.advance(5_000_000n);
      expect(r.cmos(RtcReg.C)).toBe(0x00);
    } finally {
      r.close();
    }
  });

  test('alarm: AIE fires when the time matches; 0xc0 in all three alarm bytes matches every second', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41, 100));
    try {
      r.setCmos(RtcReg.HOURS_ALARM, 0x18);
      r.setCmos(RtcReg.MINUTES_ALARM, 0x45);
      r.setCmos(RtcReg.SECONDS_ALARM, 0x44);
      r.cmos(RtcReg.C);
      r.setCmos(RtcReg.B, 0x22); // AIE
      r.clock.advance(2n * NS_PER_S);
      expect(r.levels).toEqual([]);
      r.clock.advance(1n * NS_PER_S);
      expect(r.levels).toEqual([true]);
      expect(r.cmos(RtcReg.C)).toBe(0xb0); // IRQF | AF | UF
      for (const i of [RtcReg.HOURS_ALARM, RtcReg.MINUTES_ALARM, RtcReg.SECONDS_ALARM]) r.setCmos(i, 0xc0);
      r.clock.advance(1n * NS_PER_S);
      expect(r.cmos(RtcReg.C)).toBe(0xb0);
      // an alarm passed while nobody looked (no IRQ line armed in time) is still flagged
      r.setCmos(RtcReg.B, 0x02);
      r.setCmos(RtcReg.SECONDS_ALARM, 0x00);
      r.setCmos(RtcReg.MINUTES_ALARM, 0x00);
      r.setCmos(RtcReg.HOURS_ALARM, 0x03);
      r.cmos(RtcReg.C);
      r.clock.advance(20n * 3600n * NS_PER_S);
      expect(r.cmos(RtcReg.C)).toBe(0x30);
      // enabling an interrupt whose flag is already set raises the line at once
      r.clock.advance(1n * NS_PER_S);
      r.setCmos(RtcReg.B, 0x12);
      expect(r.levels.at(-1)).toBe(true);
    } finally {
      r.close();
    }
  });

  test('onAlarm: the alarm asks for a wake-up from its own timer while AIE is set, not without AIE', () => {
    let alarms = 0;
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41, 100), { onAlarm: () => { alarms++; } });
    try {
      for (const i of [RtcReg.HOURS_ALARM, RtcReg.MINUTES_ALARM, RtcReg.SECONDS_ALARM]) r.setCmos(i, 0xc0);
      r.cmos(RtcReg.C);
      r.clock.advance(2n * NS_PER_S); // AIE clear: AF sets, no wake-up
      expect(alarms).toBe(0);
      r.cmos(RtcReg.C);
      r.setCmos(RtcReg.B, 0x22); // AIE, as x86/s3.c sets it before S3
      r.clock.advance(1n * NS_PER_S); // no guest access: the timer fired
      expect(alarms).toBe(1);
      r.clock.advance(1n * NS_PER_S); // AF still set: the timer is off until register C is read
      expect(alarms).toBe(1);
      expect(() => new Mc146818Rtc({ onAlarm: 1 as never })).toThrow(TypeError);
    } finally {
      r.close();
    }
  });

  test('reset clears PIE/AIE/SQWE and the flags, lowers IRQ 8, keeps 0x0f only when it is 0xfe (S3 resume)', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41, 100));
    try {
      r.setCmos(RtcReg.B, 0x7a); // PIE AIE UIE SQWE 24h
      r.clock.advance(2n * NS_PER_S);
      expect(r.levels.at(-1)).toBe(true);
      r.setCmos(0x0f, 0x05);
      r.rtc.reset();
      expect(r.levels.at(-1)).toBe(false);
      expect(r.rtc.getCmos(RtcReg.B)).toBe(0x12);
      expect(r.rtc.getCmos(RtcReg.C)).toBe(0x00);
      expect(r.rtc.getCmos(0x0f)).toBe(0x00);
      r.setCmos(0x0f, 0xfe);
      r.rtc.reset();
      expect(r.rtc.getCmos(0x0f)).toBe(0xfe);
    } finally {
      r.close();
    }
  });
});

describe('mc146818 RTC state, host clock and bad input', () => {
  test('saveState/loadState move the registers, index and clock to another device; bad state changes nothing', () => {
    const a = rtcRig(utcNs(2026, 12, 1, 18, 45, 41));
    const b = rtcRig(utcNs(2026, 12, 1, 18, 45, 41)); // the same host clock: the state refers to it
    try {
      pcInit(a, 128n * M);
      a.setCmos(RtcReg.B, 0x12);
      a.outb(0x70, 0x3d);
      const state = a.rtc.saveState();
      expect(() => b.rtc.loadState({ ...(state as object), cmos: new Uint8Array(3) })).toThrow(TypeError);
      expect(() => b.rtc.loadState({ ...(state as object), baseRtc: 5 })).toThrow(TypeError);
      expect(b.cmos(RtcReg.B)).toBe(0x02);
      b.rtc.loadState(state);
      expect(b.inb(0x71)).toBe(0x12); // the saved index (0x3d) is selected
      expect(hex(b.dump())).toBe(hex(a.dump()));
    } finally {
      a.close();
      b.close();
    }
  });

  test('the default clock is the host clock, in UTC', () => {
    const rtc = new Mc146818Rtc();
    try {
      const now = new Date();
      const bcd = (v: number) => ((Math.trunc(v / 10) << 4) | (v % 10));
      expect(rtc.getCmos(RtcReg.YEAR)).toBe(bcd(now.getUTCFullYear() % 100));
      expect(rtc.getCmos(RtcReg.DAY_OF_MONTH)).toBe(bcd(now.getUTCDate()));
      const t = Number(hostRtcClock.now() / 1_000_000n);
      expect(Math.abs(t - Date.now())).toBeLessThan(1000);
    } finally {
      rtc.close();
    }
  });

  test('garbage in every register and every divider never throws and the device keeps working', () => {
    const r = rtcRig(utcNs(2026, 12, 1, 18, 45, 41));
    try {
      for (let v = 0; v < 256; v += 17) {
        for (let i = 0; i < 128; i++) r.setCmos(i, v);
        r.clock.advance(123_456_789n);
        expect(r.dump()).toHaveLength(128);
      }
      r.setCmos(RtcReg.A, 0x26);
      r.setCmos(RtcReg.B, 0x02);
      expect(() => r.rtc.setCmos(128, 0)).toThrow(RangeError);
      expect(() => r.rtc.setCmos(0, 256)).toThrow(RangeError);
      expect(() => new Mc146818Rtc({ clock: {} as never })).toThrow(TypeError);
      expect(() => new Mc146818Rtc({ irq: 8 as never })).toThrow(TypeError);
    } finally {
      r.close();
    }
  });
});
