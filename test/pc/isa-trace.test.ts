// Replays SeaBIOS 1.16.2's accesses to the small ISA devices from QEMU 7.2's
// traces (test/fixtures/qemu-pc/traces: "IN  <region> <port>.<size> <value>"
// and "OUT ..." lines, memory_region_ops_read/write, in guest order) and
// checks that every value QEMU returned is what the models return at the
// same point. All of these values are deterministic: the i8042 and its
// keyboard, port92, isa-debugcon; SeaBIOS never touches 0x61 or 0x80 on
// these runs (the traces have no such line, asserted below).
import * as fs from 'fs';
import * as path from 'path';
import { formatTreeOf } from '../../lib/memory';
import { PC_FIXTURES } from '../helpers/pc';
import { isaRig } from './isa-rig';

const PORTS = new Set([0x60, 0x64, 0x92, 0x61, 0x80, 0x402]);
const TRACES = ['seabios-io-sequence-m128-inkernel-irqchip.txt', 'seabios-io-sequence-m128-userspace-irqchip.txt', 'seabios-io-sequence-m128-with-disk.txt'];

interface Access { dir: 'IN' | 'OUT'; region: string; port: number; size: number; value: number; line: number }

function accesses(file: string): Access[] {
  const text = fs.readFileSync(path.join(PC_FIXTURES, 'traces', file), 'utf8');
  const out: Access[] = [];
  text.split('\n').forEach((l, i) => {
    const m = /^(IN|OUT) +(\S+) 0x([0-9a-f]+)\.(\d) 0x([0-9a-f]+)$/.exec(l);
    if (m) out.push({ dir: m[1] as 'IN' | 'OUT', region: m[2], port: parseInt(m[3], 16), size: Number(m[4]), value: parseInt(m[5], 16), line: i + 1 });
  });
  return out;
}

describe.each(TRACES)('SeaBIOS POST trace %s', (file) => {
  test('every IN of 0x60/0x64/0x92/0x402 returns what QEMU returned, in order; OUTs are replayed', () => {
    const all = accesses(file);
    const ours = all.filter((a) => PORTS.has(a.port));
    const r = isaRig();
    try {
      const byPort = new Map<number, number>();
      for (const a of ours) byPort.set(a.port, (byPort.get(a.port) ?? 0) + 1);
      expect(byPort.has(0x61) || byPort.has(0x80)).toBe(false);
      expect([...byPort.keys()].sort((x, y) => x - y)).toEqual([0x60, 0x64, 0x92, 0x402]);
      // the region names are QEMU's: each one our I/O tree shows at that port
      const tree = formatTreeOf(r.ioRoot);
      for (const a of ours) expect(tree).toContain(`${a.port.toString(16).padStart(16, '0')}-${a.port.toString(16).padStart(16, '0')} (prio 0, i/o): ${a.region}`);
      const got = ours.map((a) => {
        expect(a.size).toBe(1);
        if (a.dir === 'OUT') {
          r.outb(a.port, a.value);
          return `${a.line}: OUT ${a.region} ${a.value}`;
        }
        return `${a.line}: IN ${a.region} ${r.inb(a.port)}`;
      });
      expect(got).toEqual(ours.map((a) => `${a.line}: ${a.dir} ${a.region} ${a.value}`));
      // what the sequence left: translation on, aux off, IRQ 1 on (CTR 0x61), A20 on through port 0x92, no reset
      expect(r.take().filter((e) => !e.startsWith('irq1'))).toEqual(Array(all.filter((a) => a.dir === 'OUT' && a.port === 0x92).length).fill('port92 a20 1'));
      r.outb(0x64, 0x20);
      expect(r.inb(0x60)).toBe(0x61);
      expect(r.i8042.kbd.leds()).toBe(0);
    } finally {
      r.close();
    }
  });
});
