// Reading firmware tables out of guest memory as an OS finds them: the RSDP
// by scanning 0xe0000-0xfffff on 16-byte boundaries, the tables by the
// pointers between them, the MP floating pointer in 0xf0000-0xfffff; every
// structure's checksum checked on the way.
export type ReadGuest = (gpa: number, length: number) => Uint8Array;

export const sum8 = (b: Uint8Array): number => b.reduce((s, x) => (s + x) & 0xff, 0);
const ascii = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The first 16-byte aligned `signature` in [start, end) whose first `ckLen` bytes sum to 0, or null. */
export function scanFor(read: ReadGuest, start: number, end: number, signature: string, ckLen: number): number | null {
  const area = read(start, end - start);
  for (let i = 0; i + ckLen <= area.length; i += 16) {
    if (ascii(area.subarray(i, i + signature.length)) === signature && sum8(area.subarray(i, i + ckLen)) === 0) return start + i;
  }
  return null;
}

export interface FoundTable { signature: string; address: number; bytes: Uint8Array }

/** A table at `address`: its header's length of bytes (a thrown Error when its checksum is wrong). */
export function readTable(read: ReadGuest, address: number): FoundTable {
  const length = dv(read(address, 8)).getUint32(4, true);
  const bytes = read(address, length);
  const signature = ascii(bytes.subarray(0, 4));
  if (signature !== 'FACS' && sum8(bytes) !== 0) throw new Error(`${signature} at 0x${address.toString(16)}: bad checksum`);
  return { signature, address, bytes };
}

/** The RSDP and every table reachable from it (RSDT, XSDT entries, the FADT's FACS and DSDT), by signature. */
export function acpiTables(read: ReadGuest): { rsdp: FoundTable; tables: Map<string, FoundTable> } {
  const at = scanFor(read, 0xe0000, 0x100000, 'RSD PTR ', 20);
  if (at === null) throw new Error('no RSDP in 0xe0000-0xfffff');
  const head = read(at, 36);
  const revision = head[15];
  const rsdp = { signature: 'RSD PTR ', address: at, bytes: read(at, revision >= 2 ? 36 : 20) };
  if (revision >= 2 && sum8(rsdp.bytes) !== 0) throw new Error('RSDP: bad extended checksum');
  const tables = new Map<string, FoundTable>();
  const add = (a: number | bigint) => {
    if (Number(a) === 0) return;
    const t = readTable(read, Number(a));
    tables.set(t.signature, t);
  };
  const rsdtAt = dv(rsdp.bytes).getUint32(16, true);
  add(rsdtAt);
  if (revision >= 2) add(dv(rsdp.bytes).getBigUint64(24, true));
  for (const sdt of ['RSDT', 'XSDT']) {
    const t = tables.get(sdt);
    if (!t) continue;
    const width = sdt === 'RSDT' ? 4 : 8;
    for (let i = 36; i < t.bytes.length; i += width) add(width === 4 ? dv(t.bytes).getUint32(i, true) : dv(t.bytes).getBigUint64(i, true));
  }
  const fadt = tables.get('FACP');
  if (fadt) {
    add(dv(fadt.bytes).getUint32(36, true));
    add(dv(fadt.bytes).getUint32(40, true));
  }
  return { rsdp, tables };
}

/** The MADT's entries: [type, bytes] in order. */
export function madtEntries(madt: Uint8Array): { type: number; bytes: Uint8Array }[] {
  const out: { type: number; bytes: Uint8Array }[] = [];
  for (let i = 44; i < madt.length; i += madt[i + 1]) out.push({ type: madt[i], bytes: madt.subarray(i, i + madt[i + 1]) });
  return out;
}

/** The MP floating pointer (scanned in 0xf0000-0xfffff) and the configuration table it points to (checksums checked). */
export function mpTable(read: ReadGuest): { floating: Uint8Array; floatingAt: number; config: Uint8Array; configAt: number } {
  const floatingAt = scanFor(read, 0xf0000, 0x100000, '_MP_', 16);
  if (floatingAt === null) throw new Error('no MP floating pointer in 0xf0000-0xfffff');
  const floating = read(floatingAt, 16);
  const configAt = dv(floating).getUint32(4, true);
  const length = dv(read(configAt, 8)).getUint16(4, true);
  const config = read(configAt, length);
  if (ascii(config.subarray(0, 4)) !== 'PCMP' || sum8(config) !== 0) throw new Error('MP configuration table: bad signature or checksum');
  return { floating, floatingAt, config, configAt };
}
