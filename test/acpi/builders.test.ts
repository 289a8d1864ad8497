// lib/acpi's builders against the ACPI 6.4 and MP 1.4 specifications'
// structure rules: lengths, checksums (every table sums to 0; the RSDP's
// first 20 bytes and its whole 36), the pointers a table set fills in,
// alignment; bad descriptions are refused with a RangeError naming the field.
import { buildDsdt } from '../../lib/acpi/dsdt';
import { buildFacs, buildFadt, FADT_SIZE } from '../../lib/acpi/fadt';
import { buildMadt, IOAPIC_BASE, pcInterruptOverrides } from '../../lib/acpi/madt';
import { buildMpTable } from '../../lib/acpi/mptable';
import { buildRsdp, RSDP_V2_SIZE } from '../../lib/acpi/rsdp';
import { buildRsdt, buildXsdt } from '../../lib/acpi/rsdt';
import { acpiTable } from '../../lib/acpi/table-header';
import { buildAcpiTableSet } from '../../lib/acpi/table-set';
import { sum8 } from '../helpers/acpi';

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const MADT = { cpus: [{ uid: 0, apicId: 0 }, { uid: 1, apicId: 1 }], ioapics: [{ id: 0, address: IOAPIC_BASE, gsiBase: 0 }], overrides: pcInterruptOverrides([5, 9]) };

test('a table: header length, revision, ids, checksum', () => {
  const t = acpiTable('TEST', 3, Uint8Array.of(1, 2, 3));
  expect(t.length).toBe(39);
  expect(dv(t).getUint32(4, true)).toBe(39);
  expect(t[8]).toBe(3);
  expect(Buffer.from(t.subarray(10, 36)).toString('latin1')).toBe('BOCHS BXPCTEST\x01\x00\x00\x00BXPC\x01\x00\x00\x00');
  expect(sum8(t)).toBe(0);
});

test('RSDP revision 2: 36 bytes, the ACPI 1.0 checksum over 20, the extended one over 36, both addresses', () => {
  const r = buildRsdp({ revision: 2, rsdt: 0xe0100, xsdt: 0x1_0000_0000n });
  expect(r.length).toBe(RSDP_V2_SIZE);
  expect(sum8(r.subarray(0, 20))).toBe(0);
  expect(sum8(r)).toBe(0);
  expect([dv(r).getUint32(16, true), dv(r).getUint32(20, true), dv(r).getBigUint64(24, true)]).toEqual([0xe0100, 36, 0x1_0000_0000n]);
});

test('RSDT and XSDT: 4- and 8-byte entries', () => {
  expect(buildRsdt([1, 2]).length).toBe(44);
  const x = buildXsdt([0x1234n, 1n << 40n]);
  expect([x.length, sum8(x), dv(x).getBigUint64(44, true)]).toEqual([52, 0, 1n << 40n]);
});

test.each([1, 3, 5] as const)('FADT revision %i: its length, checksum, and the X_ fields from revision 3', (revision) => {
  const f = buildFadt({ revision, facs: 0x1000, dsdt: 0x2000, pm1aEvt: 0x600, pm1EvtLen: 4, pmTmr: 0x608, pmTmrLen: 4, flags: 0 });
  expect([f.length, f[8], sum8(f)]).toEqual([FADT_SIZE[revision], revision, 0]);
  expect([dv(f).getUint32(36, true), dv(f).getUint32(40, true)]).toEqual([0x1000, 0x2000]);
  if (revision >= 3) {
    expect(dv(f).getBigUint64(140, true)).toBe(0x2000n); // X_DSDT
    expect([...f.subarray(148, 152)]).toEqual([1, 32, 0, 0]); // X_PM1a_EVT_BLK: System I/O, 32 bits
    expect(dv(f).getBigUint64(152, true)).toBe(0x600n);
  }
  expect(buildFacs().length).toBe(64);
});

test('the DSDT: \\_S5 as AML (NameOp, "_S5_", PackageOp, PkgLength, 4 elements)', () => {
  expect(Buffer.from(buildDsdt({ s5SlpTyp: 0 }).subarray(36)).toString('hex')).toBe('085f53355f120604' + '00000000');
  expect(Buffer.from(buildDsdt({ s5SlpTyp: 5 }).subarray(36)).toString('hex')).toBe('085f53355f1207040a05000000');
});

test('the MADT: its length from its entries, checksum', () => {
  const m = buildMadt(MADT);
  expect([m.length, sum8(m)]).toEqual([44 + 2 * 8 + 12 + 3 * 10 + 6, 0]);
});

test('the MP table: both checksums, the entry count, the floating pointer\'s address', () => {
  const { floating, config } = buildMpTable({
    cpus: [{ apicId: 0, enabled: true }, { apicId: 1, enabled: true }], apicVersion: 0x14, cpuSignature: 0x663, cpuFeatures: 0x1,
    pciBus: false, ioapic: { id: 0, version: 0x11, address: IOAPIC_BASE }, pciIrqs: [], irq0Override: false,
  }, 0xf0010);
  expect([sum8(floating), sum8(config), dv(floating).getUint32(4, true)]).toEqual([0, 0, 0xf0010]);
  // 2 CPUs, the ISA bus, the IOAPIC, 16 ISA IRQs (no override: IRQ 2 too), 2 local interrupts
  expect(dv(config).getUint16(34, true)).toBe(2 + 1 + 1 + 16 + 2);
  expect(config.length).toBe(44 + 2 * 20 + 20 * 8);
  expect(config[44 + 20 + 3] & 2).toBe(0); // only the first CPU is the BSP
});

test('a table set: the RSDP at the base, the FACS 64-byte aligned, the others 16, every pointer filled in', () => {
  const set = buildAcpiTableSet({ rsdpRevision: 2, facs: true, dsdt: { s5SlpTyp: 0 }, fadt: { revision: 3, flags: 0 }, madt: MADT }, 0xe0000n, 0xf0000n);
  const by = new Map(set.tables.map((t) => [t.signature, t]));
  expect([...by.keys()]).toEqual(['RSD PTR ', 'FACS', 'DSDT', 'FACP', 'APIC', 'RSDT', 'XSDT']);
  expect(set.rsdp).toBe(0xe0000n);
  expect(by.get('FACS')!.address % 64n).toBe(0n);
  for (const t of set.tables) expect(t.address % 16n).toBe(0n);
  const fadt = by.get('FACP')!.bytes;
  expect(BigInt(dv(fadt).getUint32(36, true))).toBe(by.get('FACS')!.address);
  expect(BigInt(dv(fadt).getUint32(40, true))).toBe(by.get('DSDT')!.address);
  const rsdt = by.get('RSDT')!.bytes;
  expect([dv(rsdt).getUint32(36, true), dv(rsdt).getUint32(40, true)].map(BigInt)).toEqual([by.get('FACP')!.address, by.get('APIC')!.address]);
  const rsdp = by.get('RSD PTR ')!.bytes;
  expect(BigInt(dv(rsdp).getUint32(16, true))).toBe(by.get('RSDT')!.address);
  expect(dv(rsdp).getBigUint64(24, true)).toBe(by.get('XSDT')!.address);
  expect(() => buildAcpiTableSet({ rsdpRevision: 0, facs: false, dsdt: { s5SlpTyp: 0 }, fadt: { revision: 1, flags: 0 }, madt: MADT }, 0xe0000n, 0xe0100n)).toThrow(/past 0xe0100/);
});

test.each([
  ['a 3-character signature', () => acpiTable('ABC', 1, new Uint8Array())],
  ['an OEM ID of 5 characters', () => acpiTable('TEST', 1, new Uint8Array(), { oemId: 'BOCHS' })],
  ['an RSDT entry above 4 GiB', () => buildRsdt([2 ** 32])],
  ['a negative XSDT entry', () => buildXsdt([-5n])],
  ['an address beyond 2^53 as a number', () => buildRsdt([2 ** 60])],
  ['RSDP revision 1', () => buildRsdp({ revision: 1 as 0, rsdt: 0 })],
  ['FADT revision 2', () => buildFadt({ revision: 2 as 1, facs: 0, dsdt: 0, flags: 0 })],
  ['a MADT without CPUs', () => buildMadt({ ...MADT, cpus: [] })],
  ['an APIC ID of 256', () => buildMadt({ ...MADT, cpus: [{ uid: 0, apicId: 256 }] })],
  ['an \\_S5 SLP_TYP of 300', () => buildDsdt({ s5SlpTyp: 300 })],
  ['a base that is not 16-byte aligned', () => buildAcpiTableSet({ rsdpRevision: 0, facs: false, dsdt: { s5SlpTyp: 0 }, fadt: { revision: 1, flags: 0 }, madt: MADT }, 0xe0008n, 0xf0000n)],
])('%s: a RangeError', (_what, build) => {
  expect(build).toThrow(RangeError);
});
