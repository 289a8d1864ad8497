// The SMBIOS files of the pc machine (lib/machines/pc/smbios.ts) against
// QEMU 7.2's, byte for byte, at RAM sizes below 3.5 GiB, across it, above
// 4 GiB and beyond one 16 GiB DIMM, and for several -smp topologies
// (test/fixtures/qemu-pc/smbios, captured from QEMU's fw_cfg reads).
import * as fs from 'fs';
import * as path from 'path';
import { pcE820Entries } from '../../lib/machines/pc/e820';
import { pcRamSplit } from '../../lib/machines/pc/ram-split';
import { pcSmbiosTables } from '../../lib/machines/pc/smbios';
import { parseSize } from '../../lib/parse-size';
import { PC_FIXTURES } from '../helpers/pc';

interface Capture { args: string; anchor: string; tables: string }
const SMBIOS = JSON.parse(fs.readFileSync(path.join(PC_FIXTURES, 'smbios/smbios.json'), 'utf8')) as { captures: Capture[] };
/** CPUID leaf 1 EAX/EDX of qemu64 on the host the fixtures come from (fixtures/qemu-pc/smbios/README.txt). */
const CPUID_1 = { cpuidVersion: 0x00060fb1, cpuidFeatures: 0x078bfbfd };

/** The -m and -smp of a capture's args, as the machine derives them (QEMU 7.2: -smp N is one socket of N cores). */
function optionsOf(args: string) {
  const m = /-m (\S+)/.exec(args)![1];
  const ramSize = parseSize(/^\d+$/.test(m) ? `${m}M` : m, 'memory');
  const smpText = /-smp (\S+)/.exec(args)?.[1] ?? '1';
  const [cpus, ...props] = smpText.split(',');
  const prop = (k: string) => Number(props.find((p) => p.startsWith(`${k}=`))?.slice(k.length + 1) ?? 0);
  const sockets = prop('sockets') || 1;
  const cores = prop('cores') || Number(cpus) / sockets;
  const e820 = pcE820Entries({ ...pcRamSplit(ramSize), amdHyperTransportHole: true });
  return { ramSize, e820, smp: { sockets, cores, threads: 1 }, ...CPUID_1 };
}

test('the captures cover below 3.5 GiB, across it, above 4 GiB, two DIMMs, and two sockets', () => {
  expect(SMBIOS.captures.map((c) => c.args)).toEqual(expect.arrayContaining(['-m 128', '-m 3584', '-m 4096', '-m 20G', '-m 128 -smp 2', '-m 128 -smp 4,sockets=2,cores=2']));
});

test.each(SMBIOS.captures.map((c) => [c.args, c] as const))('%s: etc/smbios/smbios-tables and -anchor are QEMU\'s', (_args, c) => {
  const ours = pcSmbiosTables(optionsOf(c.args));
  expect(Buffer.from(ours.tables).toString('hex')).toBe(c.tables);
  expect(Buffer.from(ours.anchor).toString('hex')).toBe(c.anchor);
});

test('above the standard fields\' range the extended ones hold the sizes (type 16 at 2 TiB, type 19 above 4 TiB)', () => {
  const ramSize = 8n << 40n;
  const e820 = [{ address: 0n, length: 3n << 30n, type: 1 }, { address: 1n << 42n, length: ramSize - (3n << 30n), type: 1 }];
  const { tables } = pcSmbiosTables({ ramSize, e820, smp: { sockets: 1, cores: 1, threads: 1 }, ...CPUID_1 });
  const dv = new DataView(tables.buffer);
  // walk the structures: formatted length, then strings up to a double NUL
  const found = new Map<number, number[]>();
  for (let at = 0; at < tables.length;) {
    const type = tables[at];
    found.set(type, [...(found.get(type) ?? []), at]);
    let end = at + tables[at + 1];
    while (tables[end] !== 0 || tables[end + 1] !== 0) end++;
    at = end + 2;
  }
  const t16 = found.get(16)![0];
  expect(dv.getUint32(t16 + 7, true)).toBe(0x80000000);
  expect(dv.getBigUint64(t16 + 15, true)).toBe(ramSize);
  expect(dv.getUint16(t16 + 13, true)).toBe(512); // 16 GiB DIMMs
  expect(found.get(17)!.length).toBe(512);
  const high = found.get(19)![1];
  expect([dv.getUint32(high + 4, true), dv.getUint32(high + 8, true)]).toEqual([0xffffffff, 0xffffffff]);
  expect(dv.getBigUint64(high + 15, true)).toBe(1n << 42n);
  expect(dv.getBigUint64(high + 23, true)).toBe((1n << 42n) + ramSize - (3n << 30n) - 1n);
});

test('a bad topology or RAM size is a RangeError', () => {
  const base = { ramSize: 128n << 20n, e820: [], smp: { sockets: 1, cores: 1, threads: 1 }, ...CPUID_1 };
  expect(() => pcSmbiosTables({ ...base, smp: { sockets: 0, cores: 1, threads: 1 } })).toThrow(RangeError);
  expect(() => pcSmbiosTables({ ...base, smp: { sockets: 1, cores: 1.5, threads: 1 } })).toThrow(/smp.cores must be a positive integer/);
  expect(() => pcSmbiosTables({ ...base, ramSize: 0n })).toThrow(RangeError);
});
