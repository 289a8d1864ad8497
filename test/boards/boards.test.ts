// Boards: Machine.create({ machine }) picks the machine type, 'tiny' (today's
// layout) by default; an unknown type is refused as QEMU refuses it, listing
// the ones there are. Snapshots record the machine type, and the files
// written before boards existed (format v2, no type) still restore as 'tiny'.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_MACHINE, Machine, machineTypes, Snapshot, SnapshotError } from '../../lib';
import { layoutDifference } from '../../lib/snapshot/snapshot';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

const FIXTURES = path.join(__dirname, '..', 'snapshot', 'fixtures');
/** Written by node-kvm 1f72e02 (before boards): 1 MiB real mode, default ports, a program loaded but not run. */
const V2_REAL = path.join(FIXTURES, 'format-v2-real.nkvm-snapshot');
/** Written by node-kvm 1f72e02: 2 MiB long mode, serial at 0x2f8, debug-exit at 0x504, in-kernel IRQ chip. */
const V2_LONG_IRQCHIP = path.join(FIXTURES, 'format-v2-long-irqchip.nkvm-snapshot');

/** A restore this host cannot do whatever the layout (the file was written on a host with other vCPU state). */
const OTHER_HOST = /taken on a host with other vCPU state/;

describe('machine types', () => {
  test("'tiny' (the default) and 'pc', with a description each", () => {
    expect(DEFAULT_MACHINE).toBe('tiny');
    expect(machineTypes()).toEqual([
      { name: 'tiny', description: expect.stringMatching(/RAM at 0, COM1.*isa-debug-exit/) },
      { name: 'pc', description: expect.stringMatching(/^Standard PC \(i440FX \+ PIIX, 1996\)/) },
      { name: 'microvm', description: expect.stringMatching(/^microvm .*without firmware/) },
    ]);
    expect(Machine.machineTypes()).toEqual(machineTypes());
  });
});

describeKvm('Machine.create({ machine })', () => {
  test("machine: 'tiny' builds exactly the machine Machine.create() builds", () => {
    const a = Machine.createSync({ memory: '4M', serial: { output: null }, irqchip: true });
    const b = Machine.createSync({ machine: 'tiny', memory: '4M', serial: { output: null }, irqchip: true });
    try {
      expect(b.mtree()).toBe(a.mtree());
      expect(b.mtree({ flat: true })).toBe(a.mtree({ flat: true }));
      const snap = a.snapshot();
      expect(snap.layout.machine).toBe('tiny');
      expect(layoutDifference(snap.layout, b.snapshot().layout)).toBeNull();
      b.restore(snap);
    } finally {
      a.close();
      b.close();
    }
  });

  test('an unknown machine type is refused with the list of machine types, and nothing is opened', () => {
    const fds = openFdCount();
    const mappings = mappingCount();
    expect(() => Machine.createSync({ machine: 'pc-q99', memory: '4M' })).toThrow(
      new RangeError('unsupported machine type "pc-q99" for Machine.create(); supported machine types: "tiny", "pc", "microvm" (machineTypes() lists them with a description)'));
    expect(() => Machine.createSync({ machine: 42 as never })).toThrow(
      new TypeError('machine must be a string naming a machine type ("tiny", "pc", "microvm"), got number'));
    // the board's options are the valid ones, whichever way the board was chosen
    expect(() => Machine.createSync({ machine: 'tiny', memroy: '4M' } as never)).toThrow(
      new TypeError("unknown option 'memroy' for Machine.create(); valid options: memory, mode, serial, debugExit, irqchip, cpus, kvmPath, traceSlots"));
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(mappings);
  });
});

/** `file` with its layout's machine type set to `machine` and a valid checksum again. */
function withMachineType(file: string, machine: string): Buffer {
  const bytes = fs.readFileSync(file);
  const headerLength = bytes.readUInt32LE(12);
  const header = JSON.parse(bytes.toString('utf8', 16, 16 + headerLength));
  header.layout.machine = machine;
  const h = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.from(bytes.subarray(0, 16));
  prefix.writeUInt32LE(h.length, 12);
  const body = Buffer.concat([prefix, h, bytes.subarray(16 + headerLength, bytes.length - 32)]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

describeKvm('snapshot files and machine types', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nkvm-boards-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a file records its machine type; Machine.fromSnapshotFile and the deprecated Machine.load restore it', () => {
    const m = Machine.createSync({ memory: '1M', mode: 'real', serial: false });
    const file = path.join(dir, 'tiny.snap');
    try {
      // mov al, 0x21; out 0x01, al ... through dx: mov dx, 0x501; out dx, al
      m.load(Uint8Array.of(0xb0, 0x21, 0xba, 0x01, 0x05, 0xee), { format: 'flat' });
      m.snapshot().save(file);
    } finally {
      m.close();
    }
    expect(fs.readFileSync(file).toString('latin1')).toContain('"machine":"tiny"');
    for (const restoreFile of [Machine.fromSnapshotFile, Machine.load]) {
      const again = restoreFile(file, { serial: false });
      try {
        expect(again.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
      } finally {
        again.close();
      }
    }
  });

  test('a file of a machine type this node-kvm does not have is refused, saying so, and nothing is opened', () => {
    const file = path.join(dir, 'future.snap');
    fs.writeFileSync(file, withMachineType(V2_REAL, 'pc-i440fx-99'));
    const fds = openFdCount();
    const mappings = mappingCount();
    let err: unknown;
    try { Machine.fromSnapshotFile(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(SnapshotError);
    expect(err).toMatchObject({
      kind: 'layout',
      message: `snapshot file ${file} is of machine type "pc-i440fx-99", which this node-kvm does not have (it has "tiny", "pc", "microvm"): update node-kvm to restore it`,
    });
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(mappings);
    fs.writeFileSync(file, withMachineType(V2_REAL, ''));
    expect(() => Snapshot.read(file)).toThrow(/machine type is malformed/);
  });

  test('a format-v2 file written before boards (no machine type) is a tiny machine and restores', () => {
    const snap = Snapshot.read(V2_REAL);
    expect(snap.layout).toMatchObject({ machine: 'tiny', memory: 1n << 20n, mode: 'real', irqchip: false, serialPort: 0x3f8, debugExitPort: 0x501 });
    const fresh = Machine.createSync({ memory: '1M', mode: 'real', serial: { output: null } });
    try {
      expect(layoutDifference(snap.layout, fresh.snapshot().layout)).toBeNull(); // the memory map is unchanged
    } finally {
      fresh.close();
    }
    let m: Machine;
    try {
      m = Machine.fromSnapshotFile(V2_REAL, { serial: { output: null } });
    } catch (e) {
      expect(e).toMatchObject({ kind: 'layout', message: expect.stringMatching(OTHER_HOST) });
      return;
    }
    try {
      // the program the snapshot holds: 'v' to COM1, then debug-exit with 0x2a
      expect(m.runSync({ timeoutMs: 5000 })).toMatchObject({ reason: 'debugExit', exitCode: (0x2a << 1) | 1 });
    } finally {
      m.close();
    }
  });

  test('a format-v2 file with other ports and the in-kernel IRQ chip restores to the same layout', () => {
    const snap = Snapshot.read(V2_LONG_IRQCHIP);
    expect(snap.layout).toMatchObject({ machine: 'tiny', memory: 2n << 20n, mode: 'long', irqchip: true, serialPort: 0x2f8, debugExitPort: 0x504 });
    const fresh = Machine.createSync({ memory: '2M', serial: { output: null, port: 0x2f8 }, debugExit: { port: 0x504 }, irqchip: true });
    try {
      expect(layoutDifference(snap.layout, fresh.snapshot().layout)).toBeNull();
    } finally {
      fresh.close();
    }
    let m: Machine;
    try {
      m = Machine.fromSnapshotFile(V2_LONG_IRQCHIP, { serial: { output: null } });
    } catch (e) {
      expect(e).toMatchObject({ kind: 'layout', message: expect.stringMatching(OTHER_HOST) });
      return;
    }
    try {
      expect(m.irqchip).not.toBeNull();
      expect(m.mtree()).toMatch(/00000000000002f8-00000000000002ff \(prio 0, i\/o\): serial/);
      expect(m.mtree()).toMatch(/0000000000000504-0000000000000505 \(prio 0, i\/o\): isa-debug-exit/);
    } finally {
      m.close();
    }
  });
});
