// The snapshot file format: writing a snapshot to a file and reading it back.
//
// Version 2, little-endian:
//   0      8 bytes  magic "NKVMSNAP"
//   8      u32      format version (2)
//   12     u32      header length H
//   16     H bytes  header, UTF-8 JSON: the layout, each vCPU's blob lengths,
//                   each RAM block's runs of non-zero pages, device states
//   16+H            data: every vCPU's blobs (in VCPU_BLOBS order), then the
//                   pages of every RAM block's runs, in header order
//   end-32 32 bytes SHA-256 of every byte before it
//
// Why this shape:
//  - The checksum covers the whole file, header included: a changed digit in
//    a length or a page number is a checksum error, not a shifted machine.
//  - Data has no offsets: its place follows from the lengths, each of which is
//    checked against what the layout requires (the kernel's struct sizes, the
//    RAM block sizes), and the file must end exactly where they say.
//  - RAM is sparse: pages of zeros are not written, and reading zero-fills
//    them (buffers from `new Uint8Array` are zero pages the host only backs
//    when written), so an almost empty guest makes a small file and costs
//    little memory when read.
//  - Both directions stream in chunks: a machine of any size (guest RAM up to
//    3 GiB) is saved and read without one buffer, hash update or read of more
//    than CHUNK bytes.
// Reading makes two passes: the first checks the checksum, the second (only
// for an intact file) parses, checks every length and fills the snapshot's
// buffers, hashing again so that what it returns is what was checked.
import type { Hash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isMsrListLength, msrListCount, msrListLength } from '../kvm/cpu-state';
import { type FpuKind, VCPU_BLOBS, type VcpuBlob, vcpuBlobLength, type VcpuStateBlobs } from '../kvm/vcpu-state-blobs';
import { PAGE_SIZE } from '../memory/ram-block';
import { hex } from '../util/hex';
import { type DeviceStateValue, stateFromJson, stateToJson } from './device-state';
import type { SnapshotLayout } from './snapshot';
import { SnapshotError } from './snapshot-error';

/** A SHA-256 hash; crypto (~6 ms of start-up) loads on the first snapshot file, not with the library. */
const sha256 = (): Hash => (require('crypto') as typeof import('crypto')).createHash('sha256'); // eslint-disable-line @typescript-eslint/no-require-imports

export const SNAPSHOT_MAGIC = 'NKVMSNAP';
export const SNAPSHOT_FORMAT_VERSION = 2;

const PAGE = Number(PAGE_SIZE);
const PREFIX = 16;
const TRAILER = 32; // SHA-256
/** The most any single read, write or hash update handles. */
const CHUNK = 16 << 20;
/** Writes smaller than this are gathered into one buffer first. */
const GATHER = 1 << 20;
/** A header larger than this is not one save() wrote (about 40 bytes per run of pages). */
const MAX_HEADER = 256 << 20;

/** What a snapshot file holds (a Snapshot is one). */
export interface SnapshotContents {
  readonly layout: SnapshotLayout;
  readonly vcpus: readonly VcpuStateBlobs[];
  readonly devices: ReadonlyMap<string, DeviceStateValue>;
  /** RAM block name → contents, one entry per layout.ramBlocks entry */
  readonly ram: ReadonlyMap<string, Uint8Array>;
}

/** [first page, page count] */
type Run = [number, number];

/** The byte range a run covers in a block of `size` bytes (the last page may be partial). */
function runBytes([first, count]: Run, size: number): [number, number] {
  return [first * PAGE, Math.min((first + count) * PAGE, size)];
}

const ZEROS = new Uint8Array(64 * 1024);

function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  return Buffer.compare(ZEROS.subarray(0, end - start), bytes.subarray(start, end)) === 0;
}

/** The runs of pages of `bytes` that are not all zero, scanning 64 KiB at a time. */
export function nonZeroRuns(bytes: Uint8Array): Run[] {
  const runs: Run[] = [];
  const pages = Math.ceil(bytes.length / PAGE);
  const group = ZEROS.length / PAGE;
  const add = (page: number) => {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === page) last[1]++;
    else runs.push([page, 1]);
  };
  for (let g = 0; g < pages; g += group) {
    const end = Math.min(g + group, pages);
    if (isZero(bytes, g * PAGE, Math.min(end * PAGE, bytes.length))) continue;
    for (let p = g; p < end; p++) if (!isZero(bytes, p * PAGE, Math.min((p + 1) * PAGE, bytes.length))) add(p);
  }
  return runs;
}

/** Pieces of `bytes` of at most CHUNK bytes. */
function* chunks(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += CHUNK) yield bytes.subarray(at, Math.min(at + CHUNK, bytes.length));
}

function fileError(what: string, file: string, err: unknown): SnapshotError {
  const code = (err as NodeJS.ErrnoException).code;
  const advice = code === 'ENOENT' ? 'no such file or directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'ENOSPC' ? 'the disk is full' : (err as Error).message;
  return new SnapshotError('file', `cannot ${what} snapshot file ${file}: ${advice} (${code ?? 'error'})`, { cause: err });
}

function notRegular(stat: fs.Stats): string | null {
  if (stat.isFile()) return null;
  return stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket'
    : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : 'not a regular file';
}

// ---------------------------------------------------------------- writing

/** Appends to a file, hashing everything; small pieces are gathered into one write. */
class HashingWriter {
  private readonly hash: Hash = sha256();
  private readonly gather = Buffer.allocUnsafe(GATHER);
  private gathered = 0;

  constructor(private readonly fd: number) {}

  write(bytes: Uint8Array): void {
    for (const piece of chunks(bytes)) {
      this.hash.update(piece);
      if (this.gathered + piece.length > GATHER) this.flush();
      if (piece.length >= GATHER) this.writeAll(piece);
      else {
        this.gather.set(piece, this.gathered);
        this.gathered += piece.length;
      }
    }
  }

  /** Writes the checksum of everything written so far and flushes. */
  finish(): void {
    const digest = this.hash.digest();
    this.flush();
    this.writeAll(digest);
  }

  private flush(): void {
    this.writeAll(this.gather.subarray(0, this.gathered));
    this.gathered = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length;) done += fs.writeSync(this.fd, bytes, done, bytes.length - done);
  }
}

function headerOf(snap: SnapshotContents, runs: Run[][]): Buffer {
  const l = snap.layout;
  return Buffer.from(JSON.stringify({
    library: 'node-kvm',
    layout: { ...l, memory: hex(l.memory), ramBlocks: l.ramBlocks.map((b) => ({ name: b.name, size: hex(b.size) })) },
    vcpus: snap.vcpus.map((v) => ({
      id: v.id, fpuKind: v.fpuKind,
      blobs: Object.fromEntries(VCPU_BLOBS.filter((name) => v[name] !== undefined).map((name) => [name, v[name]!.length])),
    })),
    ram: l.ramBlocks.map((b, i) => ({ name: b.name, runs: runs[i] })),
    devices: Object.fromEntries([...snap.devices].map(([k, v]) => [k, stateToJson(v)])),
  }));
}

/** Writes `snap` to `file` atomically: a temporary file beside it, then rename. */
export function writeSnapshotFile(file: string, snap: SnapshotContents): void {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError('write', file, err);
  }
  const what = existing && notRegular(existing);
  if (what) throw new SnapshotError('file', `cannot write snapshot file ${file}: it is ${what}; give the path of a regular file`);

  const blocks = snap.layout.ramBlocks.map((b) => snap.ram.get(b.name)!);
  const runs = blocks.map(nonZeroRuns);
  const header = headerOf(snap, runs);
  const prefix = Buffer.alloc(PREFIX);
  prefix.write(SNAPSHOT_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
  prefix.writeUInt32LE(header.length, 12);

  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (err) {
    throw fileError('write', file, err);
  }
  let open = true;
  try {
    const out = new HashingWriter(fd);
    out.write(prefix);
    out.write(header);
    for (const v of snap.vcpus) for (const name of VCPU_BLOBS) if (v[name]) out.write(v[name]!);
    blocks.forEach((bytes, i) => {
      for (const run of runs[i]!) out.write(bytes.subarray(...runBytes(run, bytes.length)));
    });
    out.finish();
    fs.fsyncSync(fd);
    open = false;
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    // (Never close twice: the number may belong to another file by now.)
    if (open) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw fileError('write', file, err);
  }
}

// ---------------------------------------------------------------- reading

/** A snapshot file open for reading: reads at positions, exactly or not at all. */
class SnapshotFileReader {
  private constructor(readonly file: string, private readonly fd: number, readonly size: number) {}

  /**
   * Opens `file` if it is a regular file. O_NONBLOCK keeps the open of a FIFO
   * from waiting for a writer; fstat on the descriptor then refuses anything
   * that is not a regular file (no race with a path swapped after a check).
   */
  static open(file: string): SnapshotFileReader {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      throw fileError('read', file, err);
    }
    const stat = fs.fstatSync(fd);
    const what = notRegular(stat);
    if (what) {
      fs.closeSync(fd);
      throw new SnapshotError('file', `cannot read snapshot file ${file}: it is ${what}; give the path of a file that snapshot.save() wrote`);
    }
    return new SnapshotFileReader(file, fd, stat.size);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** Fills `into` from `position`, in CHUNK pieces, passing each to `onChunk`. */
  readInto(into: Uint8Array, position: number, onChunk?: (piece: Uint8Array) => void): void {
    for (const piece of chunks(into)) {
      for (let done = 0; done < piece.length;) {
        const n = fs.readSync(this.fd, piece, done, piece.length - done, position + done);
        if (n === 0) throw new SnapshotError('truncated', `snapshot file ${this.file} got shorter while it was read`);
        done += n;
      }
      onChunk?.(piece);
      position += piece.length;
    }
  }

  read(position: number, length: number): Buffer {
    const bytes = Buffer.alloc(length);
    this.readInto(bytes, position);
    return bytes;
  }

  /** SHA-256 of the bytes before the trailer. */
  digest(): Buffer {
    const hash = sha256();
    const scratch = Buffer.allocUnsafe(Math.min(CHUNK, this.size));
    const end = this.size - TRAILER;
    for (let at = 0; at < end; at += scratch.length) {
      const piece = scratch.subarray(0, Math.min(scratch.length, end - at));
      this.readInto(piece, at);
      hash.update(piece);
    }
    return hash.digest();
  }
}

/** A header's tables, checked: what the data holds and where. */
interface Plan {
  layout: SnapshotLayout;
  vcpus: { id: number; fpuKind: FpuKind; blobs: [VcpuBlob, number][] }[];
  runs: Run[][];
  devices: Map<string, DeviceStateValue>;
  dataLength: number;
}

/** A corrupt-kind refusal for a header that does not describe a valid snapshot. */
class BadHeader extends Error {}

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new BadHeader(what);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPort = (v: unknown) => v === null || (isCount(v) && (v as number) <= 0xffff);

function hexSize(v: unknown, what: string): bigint {
  check(typeof v === 'string' && /^0x[0-9a-f]+$/.test(v), `${what} is not a hex size`);
  return BigInt(v);
}

/** The machine type of files that do not name one: every file written before boards existed. */
const PRE_BOARD_MACHINE = 'tiny';

function parseLayout(l: unknown): SnapshotLayout {
  check(isObject(l), 'no layout');
  check(l.machine === undefined || (typeof l.machine === 'string' && l.machine.length > 0), 'the layout\'s machine type is malformed');
  check(typeof l.mode === 'string' && typeof l.irqchip === 'boolean' && isPort(l.serialPort) && isPort(l.debugExitPort), 'the layout\'s machine shape is malformed');
  check(Array.isArray(l.ramBlocks) && l.ramBlocks.every((b) => isObject(b) && typeof b.name === 'string'), 'the layout\'s RAM block list is malformed');
  check(Array.isArray(l.devices) && l.devices.every((d) => typeof d === 'string'), 'the layout\'s device list is malformed');
  check(typeof l.memoryMap === 'string', 'the layout has no memory map');
  const ramBlocks = (l.ramBlocks as Record<string, unknown>[]).map((b) => {
    const size = hexSize(b.size, `RAM block "${String(b.name)}"'s size`);
    check(size > 0n && size <= BigInt(Number.MAX_SAFE_INTEGER), `RAM block "${String(b.name)}" has size ${hex(size)}`);
    return { name: b.name as string, size };
  });
  check(new Set(ramBlocks.map((b) => b.name)).size === ramBlocks.length, 'two RAM blocks have the same name');
  return {
    machine: (l.machine as string | undefined) ?? PRE_BOARD_MACHINE,
    memory: hexSize(l.memory, 'the memory size'), mode: l.mode as string, irqchip: l.irqchip as boolean,
    serialPort: l.serialPort as number | null, debugExitPort: l.debugExitPort as number | null,
    ramBlocks, devices: l.devices as string[], memoryMap: l.memoryMap as string,
  };
}

/** Each vCPU's blobs, each of the length the layout and the kernel's structs require. */
function parseVcpus(vcpus: unknown, layout: SnapshotLayout): Plan['vcpus'] {
  check(Array.isArray(vcpus) && vcpus.length > 0, 'no vCPU list');
  return vcpus.map((v: unknown, i) => {
    check(isObject(v) && v.id === i && (v.fpuKind === 'xsave' || v.fpuKind === 'fpu') && isObject(v.blobs), `vCPU ${i} is malformed`);
    const fpuKind = v.fpuKind as FpuKind;
    const lengths = v.blobs as Record<string, unknown>;
    const present = (name: VcpuBlob) => name === 'xcrs' ? fpuKind === 'xsave' : name === 'lapic' ? layout.irqchip : true;
    for (const name of Object.keys(lengths)) {
      check((VCPU_BLOBS as readonly string[]).includes(name) && present(name as VcpuBlob), `vCPU ${i} has a "${name}" blob it cannot have`);
    }
    const blobs = VCPU_BLOBS.filter(present).map((name): [VcpuBlob, number] => {
      const length = lengths[name];
      check(isCount(length), `vCPU ${i} has no "${name}" blob`);
      if (name === 'msrs') {
        check(isMsrListLength(length), `vCPU ${i}'s MSR list has ${length} bytes, not a whole kvm_msrs struct`);
      } else {
        const want = vcpuBlobLength(name, fpuKind);
        check(length === want, `vCPU ${i}'s "${name}" blob has ${length} bytes where the kernel's struct has ${want}`);
      }
      return [name, length];
    });
    return { id: i, fpuKind, blobs };
  });
}

/** Each RAM block's runs: ascending, apart, inside the block. */
function parseRuns(ram: unknown, layout: SnapshotLayout): Run[][] {
  check(Array.isArray(ram) && ram.length === layout.ramBlocks.length, 'the RAM table does not list the layout\'s RAM blocks');
  return layout.ramBlocks.map((b, i) => {
    const entry = ram[i] as unknown;
    check(isObject(entry) && entry.name === b.name && Array.isArray(entry.runs), `the RAM table's entry ${i} is not RAM block "${b.name}"`);
    const pages = Math.ceil(Number(b.size) / PAGE);
    let next = 0;
    return (entry.runs as unknown[]).map((run): Run => {
      check(Array.isArray(run) && run.length === 2 && isCount(run[0]) && isCount(run[1]) && run[1] > 0, `RAM block "${b.name}" has a malformed run of pages`);
      const [first, count] = run as Run;
      check(first >= next, `RAM block "${b.name}"'s runs of pages overlap or are out of order (page ${first})`);
      check(first + count <= pages, `RAM block "${b.name}" has pages ${first}-${first + count - 1}, past its end (${pages} pages)`);
      next = first + count;
      return [first, count];
    });
  });
}

function parseDevices(devices: unknown, layout: SnapshotLayout): Map<string, DeviceStateValue> {
  check(isObject(devices), 'no device states');
  const names = Object.keys(devices).sort();
  check(names.join('\0') === [...layout.devices].sort().join('\0'), `the device states [${names.join(', ')}] are not the layout's devices [${layout.devices.join(', ')}]`);
  try {
    return new Map(names.map((k) => [k, stateFromJson(devices[k])]));
  } catch (err) {
    throw new BadHeader(`a device state is malformed (${(err as Error).message})`);
  }
}

function planOf(h: unknown): Plan {
  check(isObject(h), 'the header is not an object');
  const layout = parseLayout(h.layout);
  const vcpus = parseVcpus(h.vcpus, layout);
  const runs = parseRuns(h.ram, layout);
  const devices = parseDevices(h.devices, layout);
  let dataLength = 0;
  for (const v of vcpus) for (const [, length] of v.blobs) dataLength += length;
  runs.forEach((block, i) => {
    const size = Number(layout.ramBlocks[i]!.size);
    for (const run of block) {
      const [start, end] = runBytes(run, size);
      dataLength += end - start;
    }
  });
  return { layout, vcpus, runs, devices, dataLength };
}

function parseHeader(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Reads and checks a snapshot file; nothing is returned unless all of it is intact and consistent. */
export function readSnapshotFile(file: string): SnapshotContents {
  const where = `snapshot file ${file}`;
  const f = SnapshotFileReader.open(file);
  try {
    if (f.size < PREFIX) throw new SnapshotError('truncated', `${where} is truncated (${f.size} bytes, not even a header)`);
    const prefix = f.read(0, PREFIX);
    if (prefix.toString('latin1', 0, 8) !== SNAPSHOT_MAGIC) throw new SnapshotError('format', `${where} is not a node-kvm snapshot (bad magic)`);
    const version = prefix.readUInt32LE(8);
    if (version === 1) {
      throw new SnapshotError('version', `${where} has format version 1, which node-kvm no longer reads (its checksum did not cover the header); ` +
        `take the snapshot again with this node-kvm, which writes version ${SNAPSHOT_FORMAT_VERSION}`);
    }
    if (version !== SNAPSHOT_FORMAT_VERSION) {
      throw new SnapshotError('version', `${where} has format version ${version}; this node-kvm reads version ${SNAPSHOT_FORMAT_VERSION}: update node-kvm to read it`);
    }
    const headerLength = prefix.readUInt32LE(12);
    if (PREFIX + headerLength + TRAILER > f.size) throw new SnapshotError('truncated', `${where} is truncated inside its header`);
    if (headerLength > MAX_HEADER) throw new SnapshotError('corrupt', `${where} is corrupted (a header of ${headerLength} bytes)`);

    // Pass 1: the checksum, before any of the header is believed.
    const headerBytes = f.read(PREFIX, headerLength);
    const trailer = f.read(f.size - TRAILER, TRAILER);
    const h = parseHeader(headerBytes);
    if (!f.digest().equals(trailer)) {
      let described: number | undefined;
      try { described = PREFIX + headerLength + planOf(h).dataLength + TRAILER; } catch { /* a header too damaged to say */ }
      if (described !== undefined && described > f.size) {
        throw new SnapshotError('truncated', `${where} is truncated: ${f.size} of ${described} bytes (its checksum does not match)`);
      }
      const trailing = described !== undefined && described < f.size ? `, and it has ${f.size - described} trailing bytes past what its header describes` : '';
      throw new SnapshotError('corrupt', `${where} is corrupted: its checksum does not match${trailing}`);
    }

    // Pass 2: an intact file; check its tables, then fill the snapshot from its data.
    let plan: Plan;
    try {
      plan = planOf(h);
    } catch (err) {
      if (!(err instanceof BadHeader)) throw err;
      throw new SnapshotError('corrupt', `${where} has a header that does not describe a snapshot: ${err.message}`);
    }
    const dataEnd = PREFIX + headerLength + plan.dataLength;
    if (dataEnd + TRAILER !== f.size) {
      throw new SnapshotError('corrupt', `${where} holds ${f.size - TRAILER - PREFIX - headerLength} bytes of data where its header describes ${plan.dataLength}`);
    }
    const hash = sha256();
    const update = (piece: Uint8Array) => void hash.update(piece);
    hash.update(prefix); // the very bytes the plan came from
    hash.update(headerBytes);
    let at = PREFIX + headerLength;
    const vcpus = plan.vcpus.map((v): VcpuStateBlobs => {
      const blobs: Partial<Record<VcpuBlob, Uint8Array>> = {};
      for (const [name, length] of v.blobs) {
        const bytes = new Uint8Array(length);
        f.readInto(bytes, at, update);
        at += length;
        blobs[name] = bytes;
      }
      const msrs = blobs.msrs!;
      const count = msrListCount(msrs);
      if (msrs.length !== msrListLength(count)) {
        throw new SnapshotError('corrupt', `${where}: vCPU ${v.id}'s MSR list has ${msrs.length} bytes for ${count} MSRs`);
      }
      return { id: v.id, fpuKind: v.fpuKind, ...blobs } as VcpuStateBlobs;
    });
    const ram = new Map<string, Uint8Array>();
    plan.layout.ramBlocks.forEach((b, i) => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(Number(b.size)); // zeros, backed only where the runs write
      } catch (err) {
        throw new SnapshotError('corrupt', `${where}: RAM block "${b.name}" of ${hex(b.size)} bytes cannot be allocated (${(err as Error).message})`);
      }
      for (const run of plan.runs[i]!) {
        const [start, end] = runBytes(run, bytes.length);
        f.readInto(bytes.subarray(start, end), at, update);
        at += end - start;
      }
      ram.set(b.name, bytes);
    });
    if (!hash.digest().equals(trailer)) throw new SnapshotError('corrupt', `${where} changed while it was read`);
    return { layout: plan.layout, vcpus, devices: plan.devices, ram };
  } finally {
    f.close();
  }
}
