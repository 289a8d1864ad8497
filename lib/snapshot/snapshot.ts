// A machine snapshot: vCPU state, device state and a copy of every RAM block,
// held outside the guest's mappings, plus the layout it belongs to. Snapshots
// are taken and restored by the Machine (machine.snapshot(), restore()).
//
// File format (version 1), little-endian:
//   0   8 bytes  magic "NKVMSNAP"
//   8   u32      format version
//   12  u32      header length H
//   16  H bytes  header, UTF-8 JSON: layout, vCPU and RAM blob table, device
//                states, payload length and SHA-256
//   16+H         payload: the blobs, back to back
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { type DeviceStateValue, stateFromJson, stateToJson } from './device-state';
import type { VcpuState } from './vcpu-state';

export const SNAPSHOT_MAGIC = 'NKVMSNAP';
export const SNAPSHOT_FORMAT_VERSION = 1;

/** What a snapshot must match to be restored: the machine's shape and memory map. */
export interface SnapshotLayout {
  memory: bigint;
  mode: string;
  irqchip: boolean;
  serialPort: number | null;
  debugExitPort: number | null;
  ramBlocks: { name: string; size: bigint }[];
  devices: string[];
  /** `info mtree -f` of the machine's address spaces. */
  memoryMap: string;
}

export type SnapshotErrorKind = 'layout' | 'version' | 'corrupt' | 'truncated' | 'closed' | 'format';

export class SnapshotError extends Error {
  constructor(readonly kind: SnapshotErrorKind, message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

const layoutKeys = new WeakMap<SnapshotLayout, string>();

/** One string that is equal exactly when two layouts are (computed once per layout object). */
function layoutKey(l: SnapshotLayout): string {
  let k = layoutKeys.get(l);
  if (k === undefined) {
    k = JSON.stringify([l.memory.toString(16), l.mode, l.irqchip, l.serialPort, l.debugExitPort,
      l.ramBlocks.map((b) => [b.name, b.size.toString(16)]), l.devices, l.memoryMap]);
    layoutKeys.set(l, k);
  }
  return k;
}

/** A readable account of how two layouts differ, or null when they match. */
export function layoutDifference(want: SnapshotLayout, have: SnapshotLayout): string | null {
  // The restore hot path: the same layout object (a snapshot of this machine,
  // topology unchanged), or one whose key matches.
  if (want === have || layoutKey(want) === layoutKey(have)) return null;
  const scalar: (keyof SnapshotLayout)[] = ['memory', 'mode', 'irqchip', 'serialPort', 'debugExitPort'];
  for (const k of scalar) {
    if (want[k] !== have[k]) return `${k} is ${String(have[k])} here but ${String(want[k])} in the snapshot`;
  }
  const blocks = (l: SnapshotLayout) => l.ramBlocks.map((b) => `${b.name}:0x${b.size.toString(16)}`).join(', ');
  if (blocks(want) !== blocks(have)) return `RAM blocks are [${blocks(have)}] here but [${blocks(want)}] in the snapshot`;
  if (want.devices.join(',') !== have.devices.join(',')) {
    return `devices are [${have.devices.join(', ')}] here but [${want.devices.join(', ')}] in the snapshot`;
  }
  if (want.memoryMap !== have.memoryMap) {
    const a = want.memoryMap.split('\n');
    const b = have.memoryMap.split('\n');
    const i = a.findIndex((line, k) => line !== b[k]);
    const at = i < 0 ? a.length : i;
    return `the memory map differs: the snapshot has "${a[at] ?? '(end)'}" where this machine has "${b[at] ?? '(end)'}"`;
  }
  return null;
}

const VCPU_BLOBS = ['regs', 'sregs', 'events', 'fpu', 'xcrs', 'msrs', 'debugregs', 'mpState', 'lapic'] as const;

export class Snapshot {
  /** @internal use machine.snapshot() */
  constructor(
    readonly layout: SnapshotLayout,
    /** @internal */ readonly vcpus: readonly VcpuState[],
    /** @internal */ readonly devices: ReadonlyMap<string, DeviceStateValue>,
    /** @internal RAM block name → contents */ readonly ram: ReadonlyMap<string, Uint8Array>,
  ) {}

  /** Bytes of guest RAM the snapshot holds. */
  get ramBytes(): number {
    let n = 0;
    for (const b of this.ram.values()) n += b.length;
    return n;
  }

  /** Writes the snapshot to `file` (atomically: a temporary file, then rename). */
  save(file: string): void {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('save() needs a file path');
    const blobs: Uint8Array[] = [];
    let offset = 0;
    const place = (bytes: Uint8Array): [number, number] => {
      blobs.push(bytes);
      const at: [number, number] = [offset, bytes.length];
      offset += bytes.length;
      return at;
    };
    const vcpus = this.vcpus.map((v) => {
      const table: Record<string, [number, number]> = {};
      for (const name of VCPU_BLOBS) {
        const bytes = v[name];
        if (bytes) table[name] = place(bytes);
      }
      return { id: v.id, fpuKind: v.fpuKind, blobs: table };
    });
    const ram = [...this.ram].map(([name, bytes]) => ({ name, blob: place(bytes) }));
    const hash = createHash('sha256');
    for (const b of blobs) hash.update(b);
    const header = Buffer.from(JSON.stringify({
      library: 'node-kvm',
      layout: { ...this.layout, memory: `0x${this.layout.memory.toString(16)}`,
        ramBlocks: this.layout.ramBlocks.map((b) => ({ name: b.name, size: `0x${b.size.toString(16)}` })) },
      vcpus,
      ram,
      devices: Object.fromEntries([...this.devices].map(([k, v]) => [k, stateToJson(v)])),
      payloadLength: offset,
      payloadSha256: hash.digest('hex'),
    }));
    const prefix = Buffer.alloc(16);
    prefix.write(SNAPSHOT_MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
    prefix.writeUInt32LE(header.length, 12);
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    const fd = fs.openSync(tmp, 'w');
    try {
      for (const part of [prefix, header, ...blobs]) {
        for (let done = 0; done < part.length;) done += fs.writeSync(fd, part, done, part.length - done);
      }
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  }

  /** Reads a snapshot file, checking magic, version, sizes and checksum. */
  static read(file: string): Snapshot {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('read() needs a file path');
    const data = fs.readFileSync(file);
    const where = `snapshot file ${file}`;
    if (data.length < 16) throw new SnapshotError('truncated', `${where} is truncated (${data.length} bytes, not even a header)`);
    if (data.toString('latin1', 0, 8) !== SNAPSHOT_MAGIC) throw new SnapshotError('format', `${where} is not a node-kvm snapshot (bad magic)`);
    const version = data.readUInt32LE(8);
    if (version !== SNAPSHOT_FORMAT_VERSION) {
      throw new SnapshotError('version', `${where} has format version ${version}; this node-kvm reads version ${SNAPSHOT_FORMAT_VERSION}`);
    }
    const headerLength = data.readUInt32LE(12);
    if (16 + headerLength > data.length) throw new SnapshotError('truncated', `${where} is truncated inside its header`);
    let h: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      h = JSON.parse(data.toString('utf8', 16, 16 + headerLength));
    } catch {
      throw new SnapshotError('corrupt', `${where} has a corrupted header`);
    }
    const payload = data.subarray(16 + headerLength);
    if (typeof h?.payloadLength !== 'number' || typeof h?.payloadSha256 !== 'string') {
      throw new SnapshotError('corrupt', `${where} has a corrupted header (no payload length or checksum)`);
    }
    if (payload.length < h.payloadLength) {
      throw new SnapshotError('truncated', `${where} is truncated: ${payload.length} of ${h.payloadLength} payload bytes`);
    }
    if (payload.length > h.payloadLength) throw new SnapshotError('corrupt', `${where} has ${payload.length - h.payloadLength} unexpected trailing bytes`);
    if (createHash('sha256').update(payload).digest('hex') !== h.payloadSha256) {
      throw new SnapshotError('corrupt', `${where} is corrupted (payload checksum mismatch)`);
    }
    try {
      const blob = (at: unknown): Uint8Array => {
        const [off, len] = at as [number, number];
        if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > payload.length) throw new Error('blob out of range');
        return new Uint8Array(payload.subarray(off, off + len)); // a copy: the file buffer is not kept
      };
      const layout: SnapshotLayout = {
        ...h.layout,
        memory: BigInt(h.layout.memory),
        ramBlocks: h.layout.ramBlocks.map((b: { name: string; size: string }) => ({ name: String(b.name), size: BigInt(b.size) })),
      };
      if (typeof layout.memoryMap !== 'string' || !Array.isArray(layout.devices)) throw new Error('layout');
      const vcpus: VcpuState[] = h.vcpus.map((v: { id: number; fpuKind: 'xsave' | 'fpu'; blobs: Record<string, unknown> }) => {
        const get = (name: string) => (v.blobs[name] === undefined ? undefined : blob(v.blobs[name]));
        return {
          id: v.id, fpuKind: v.fpuKind,
          regs: get('regs')!, sregs: get('sregs')!, events: get('events')!, fpu: get('fpu')!, xcrs: get('xcrs'),
          msrs: get('msrs')!, debugregs: get('debugregs')!, mpState: get('mpState')!, lapic: get('lapic'),
        };
      });
      for (const v of vcpus) {
        if (!v.regs || !v.sregs || !v.events || !v.fpu || !v.msrs || !v.debugregs || !v.mpState) throw new Error('vcpu');
      }
      const ram = new Map<string, Uint8Array>(h.ram.map((r: { name: string; blob: unknown }) => [String(r.name), blob(r.blob)]));
      const devices = new Map<string, DeviceStateValue>(Object.entries(h.devices).map(([k, v]) => [k, stateFromJson(v)]));
      return new Snapshot(layout, vcpus, devices, ram);
    } catch {
      throw new SnapshotError('corrupt', `${where} has a corrupted header (its tables do not describe the payload)`);
    }
  }
}
