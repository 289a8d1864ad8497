// The snapshot file format (version 2): a checksum over every byte, every
// length checked against the layout, RAM stored sparsely and streamed (machines
// of 2 GiB and more), and paths that are not regular files refused.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Machine, Snapshot, SnapshotError } from '../../lib';
import { describeKvm, openFdCount } from '../helpers/kvm';

const ROOT = path.resolve(__dirname, '..', '..');
/** A version 1 file, written by node-kvm before the format changed (1 MiB real-mode guest, commit c8cfc00). */
const V1_FIXTURE = path.join(__dirname, 'fixtures', 'format-v1.nkvm-snapshot');

/** A snapshot file taken apart: its header (parsed) and its data (between header and checksum). */
interface FileParts {
  header: {
    layout: { ramBlocks: { name: string; size: string }[] };
    vcpus: { blobs: Record<string, number> }[];
    ram: { name: string; runs: [number, number][] }[];
  };
  data: Buffer;
}

function takeApart(bytes: Buffer): FileParts {
  const headerLength = bytes.readUInt32LE(12);
  return {
    header: JSON.parse(bytes.toString('utf8', 16, 16 + headerLength)),
    data: bytes.subarray(16 + headerLength, bytes.length - 32),
  };
}

/** Puts a file back together with a valid checksum, so that only the other checks can refuse it. */
function putTogether({ header, data }: FileParts): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(16);
  prefix.write('NKVMSNAP', 0, 'latin1');
  prefix.writeUInt32LE(2, 8);
  prefix.writeUInt32LE(h.length, 12);
  const body = Buffer.concat([prefix, h, data]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/** Replaces `from` by `to` (same length) once in the file's header. */
function editHeader(bytes: Buffer, from: string, to: string): Buffer {
  expect(to.length).toBe(from.length);
  const out = Buffer.from(bytes);
  const at = out.indexOf(from, 16, 'latin1');
  expect(at).toBeGreaterThan(15);
  expect(at).toBeLessThan(16 + out.readUInt32LE(12));
  out.write(to, at, 'latin1');
  return out;
}

function refusal(fn: () => unknown): SnapshotError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SnapshotError);
    return err as SnapshotError;
  }
  throw new Error('expected a SnapshotError, got none');
}

function ramHash(m: Machine): string {
  return createHash('sha256').update(m.readGuest(0n, Number(m.memorySize))).digest('hex');
}

describeKvm('snapshot files', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-snapfile-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const write = (bytes: Buffer) => {
    const f = path.join(tmp, `variant-${n++}.snap`);
    fs.writeFileSync(f, bytes);
    return f;
  };

  /** A 16 MiB long-mode machine with data in a few pages, saved; its file and RAM hash. */
  function savedMachine() {
    const m = Machine.createSync({ memory: '16M', serial: { output: null } });
    try {
      m.load(Uint8Array.of(0xf4)); // hlt
      m.writeGuest(0x200000n, Buffer.from('page 512'));
      m.writeGuest(0x3e8000n, Buffer.from('page 1000'));
      m.writeGuest(0xfff000n, new Uint8Array(4096).fill(0x5a)); // the last page
      const file = path.join(tmp, `saved-${n++}.snap`);
      m.snapshot().save(file);
      return { file, bytes: fs.readFileSync(file), ram: ramHash(m) };
    } finally {
      m.close();
    }
  }

  test('a saved machine loads back exactly, and its pages of zeros are not in the file', () => {
    const { file, bytes, ram } = savedMachine();
    const { header, data } = takeApart(bytes);
    const ramRuns = header.ram.find((r) => r.name === 'ram')!.runs;
    expect(ramRuns).toEqual(expect.arrayContaining([[512, 1], [1000, 1], [4095, 1]]));
    const pages = header.ram.flatMap((r) => r.runs).reduce((sum, [, count]) => sum + count, 0);
    expect(data.length).toBeLessThan((pages + 4) * 4096); // RAM pages plus the vCPU blobs
    expect(bytes.length).toBeLessThan(128 * 1024);
    const loaded = Machine.load(file, { serial: { output: null } });
    try {
      expect(ramHash(loaded)).toBe(ram);
      expect(loaded.runSync({ timeoutMs: 2000 }).reason).toBe('hlt');
    } finally {
      loaded.close();
    }
  });

  test('the checksum covers the header: one changed digit of a page number or a length is refused', () => {
    const { bytes } = savedMachine();
    const cases: [string, string, string][] = [
      ['[1000,1]', '[1001,1]', 'corrupt'], // where a run of pages goes (version 1 loaded RAM shifted)
      ['[1000,1]', '[1000,2]', 'truncated'], // how long it is
      ['"size":"0x1000000"', '"size":"0x2000000"', 'corrupt'], // the layout's RAM block size
    ];
    for (const [from, to, kind] of cases) {
      const f = write(editHeader(bytes, from, to));
      const err = refusal(() => Snapshot.read(f));
      expect(err).toMatchObject({ kind });
      expect(err.message).toMatch(/checksum does not match/);
      expect(() => Machine.load(f)).toThrow(/checksum does not match/);
    }
    const flipped = Buffer.from(bytes);
    flipped[20] ^= 1; // inside the header's JSON
    expect(refusal(() => Snapshot.read(write(flipped)))).toMatchObject({ kind: 'corrupt', message: expect.stringMatching(/checksum does not match/) });
    const trailing = refusal(() => Snapshot.read(write(Buffer.concat([bytes, Buffer.from([0])]))));
    expect(trailing).toMatchObject({ kind: 'corrupt', message: expect.stringMatching(/checksum does not match, and it has 1 trailing bytes/) });
    const cut = refusal(() => Snapshot.read(write(bytes.subarray(0, bytes.length - 4096))));
    expect(cut).toMatchObject({ kind: 'truncated', message: expect.stringMatching(/is truncated: \d+ of \d+ bytes/) });
  });

  test('every length is checked against the layout, even in a file with a valid checksum', () => {
    const { bytes } = savedMachine();
    const regsLength = takeApart(bytes).header.vcpus[0]!.blobs.regs!;
    const pcRam = (p: FileParts) => p.header.ram.find((r) => r.name === 'ram')!;
    const crafted: [string, (p: FileParts) => void, RegExp][] = [
      ['an 8-byte register blob', (p) => {
        p.header.vcpus[0]!.blobs.regs = 8;
        p.data = Buffer.concat([p.data.subarray(0, 8), p.data.subarray(regsLength)]);
      }, /"regs" blob has 8 bytes where the kernel's struct has \d+/],
      ['4 KiB of data for all 16 MiB of RAM', (p) => {
        pcRam(p).runs = [[0, 4096]];
        p.data = p.data.subarray(0, p.data.length - 4096);
      }, /holds \d+ bytes of data where its header describes \d+/],
      ['a run of pages past the end of its block', (p) => { pcRam(p).runs.splice(-1, 1, [4095, 2]); }, /pages 4095-4096, past its end \(4096 pages\)/],
      ['runs of pages that overlap', (p) => { pcRam(p).runs.unshift([1000, 1]); }, /overlap or are out of order/],
      ['a missing blob', (p) => { delete p.header.vcpus[0]!.blobs.sregs; }, /has no "sregs" blob/],
      ['a blob the layout has no place for', (p) => { p.header.vcpus[0]!.blobs.lapic = 1024; }, /"lapic" blob it cannot have/],
      ['a RAM table that does not match the layout', (p) => { p.header.ram[0]!.name = 'rom'; }, /entry 0 is not RAM block "ram"/],
      ['an MSR list whose count disagrees with its length', (p) => {
        const b = p.header.vcpus[0]!.blobs;
        const at = ['regs', 'sregs', 'events', 'fpu', 'xcrs'].reduce((sum, k) => sum + (b[k] ?? 0), 0);
        p.data = Buffer.from(p.data);
        p.data.writeUInt32LE(p.data.readUInt32LE(at) + 1, at);
      }, /MSR list has \d+ bytes for \d+ MSRs/],
    ];
    const fds = openFdCount();
    for (const [what, edit, message] of crafted) {
      const parts = takeApart(bytes);
      edit(parts);
      const f = write(putTogether(parts));
      const err = refusal(() => Snapshot.read(f));
      expect({ what, kind: err.kind }).toEqual({ what, kind: 'corrupt' });
      expect(err.message).toMatch(message);
      expect(() => Machine.load(f)).toThrow(message);
    }
    expect(openFdCount()).toBe(fds);
    // A consistent file for a machine whose RAM block is 4 KiB is read, but a
    // 16 MiB machine refuses it, changing nothing.
    const parts = takeApart(bytes);
    const small = parts.header.layout.ramBlocks.find((b) => b.name === 'ram')!;
    small.size = '0x1000';
    pcRam(parts).runs = [];
    const vcpuBytes = Object.values(parts.header.vcpus[0]!.blobs).reduce((sum, length) => sum + length, 0);
    parts.data = parts.data.subarray(0, vcpuBytes); // no RAM page is left
    const f = write(putTogether(parts));
    const m = Machine.createSync({ memory: '16M', serial: { output: null } });
    try {
      m.writeGuest(0x200000n, Buffer.from('unchanged'));
      const before = ramHash(m);
      const err = refusal(() => m.restore(Snapshot.read(f)));
      expect(err).toMatchObject({ kind: 'layout', message: expect.stringMatching(/RAM blocks are \[ram:0x1000000\] here but \[ram:0x1000\]/) });
      expect(ramHash(m)).toBe(before);
    } finally {
      m.close();
    }
  });

  test('the README example: an almost empty 64 MiB guest makes a small file', async () => {
    const machine = await Machine.create({ memory: '64M', serial: false });
    const file = path.join(tmp, 'boot.snap');
    try {
      machine.load(Uint8Array.of(0x8a, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x66, 0xba, 0x01, 0x05, 0xee));
      const snap = machine.snapshot();
      machine.writeGuest(0x200000n, Uint8Array.of(1));
      machine.runSync({ timeoutMs: 100 });
      machine.restore(snap);
      snap.save(file);
      expect(fs.statSync(file).size).toBeLessThan(64 * 1024);
      const again = Machine.load(file, { serial: false });
      try {
        expect(ramHash(again)).toBe(ramHash(machine));
      } finally {
        again.close();
      }
    } finally {
      machine.close();
    }
  });

  test('a machine of 2.5 GiB is saved and read back, streaming, into a small file', () => {
    const memory = 2560n << 20n;
    const marks: [bigint, string][] = [
      [0n, 'first page'],
      [0x7fff_fff8n, 'across 2 GiB'], // 8 bytes below the 2 GiB boundary, 8 above
      [0xa000_0000n - 16n, 'the very last 16'],
    ];
    const file = path.join(tmp, 'big.snap');
    const m = Machine.createSync({ memory, mode: 'real', serial: false, debugExit: false });
    let snap: Snapshot;
    try {
      m.load(Uint8Array.of(0xf4), { format: 'flat' });
      for (const [at, text] of marks) m.writeGuest(at, Buffer.from(text.padEnd(16)));
      snap = m.snapshot({ dirtyTracking: false });
    } finally {
      m.close();
    }
    snap.save(file);
    expect(fs.statSync(file).size).toBeLessThan(1 << 20);
    const back = Snapshot.read(file);
    expect([...back.ram.keys()]).toEqual([...snap.ram.keys()]);
    for (const [name, bytes] of snap.ram) expect({ name, same: Buffer.compare(back.ram.get(name)!, bytes) === 0 }).toEqual({ name, same: true });
    const loaded = Machine.load(file, { serial: false });
    try {
      expect(loaded.memorySize).toBe(memory);
      for (const [at, text] of marks) expect(Buffer.from(loaded.readGuest(at, 16)).toString()).toBe(text.padEnd(16));
      expect(loaded.runSync({ timeoutMs: 2000 }).reason).toBe('hlt');
    } finally {
      loaded.close();
    }
  }, 120_000); // the in-memory snapshot and the restore copy 2.5 GiB each: seconds on a busy host

  test('a directory, a device or a missing file is refused as a snapshot path, with no fd left open', () => {
    const { file } = savedMachine();
    const snap = Snapshot.read(file);
    const fds = openFdCount();
    const reads: [string, RegExp][] = [
      [tmp, /it is a directory/],
      ['/dev/zero', /it is a device/],
      [path.join(tmp, 'missing.snap'), /no such file or directory \(ENOENT\)/],
    ];
    for (const [p, message] of reads) {
      expect(refusal(() => Snapshot.read(p))).toMatchObject({ kind: 'file', message: expect.stringMatching(message) });
      expect(() => Machine.load(p)).toThrow(message);
    }
    const dir = path.join(tmp, 'a-directory');
    fs.mkdirSync(dir);
    const saves: [string, RegExp][] = [
      [dir, /cannot write snapshot file .*: it is a directory/],
      ['/dev/null', /it is a device/],
      [path.join(tmp, 'no-such-dir', 'x.snap'), /no such file or directory \(ENOENT\)/],
    ];
    for (const [p, message] of saves) expect(refusal(() => snap.save(p))).toMatchObject({ kind: 'file', message: expect.stringMatching(message) });
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(openFdCount()).toBe(fds);
  });

  test('a FIFO as a snapshot path is refused at once, for reading and for saving (no hang)', () => {
    const fifo = path.join(tmp, 'fifo.snap');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // In a child, so that a read that blocks on the FIFO fails this test instead of hanging it.
    const script = path.join(tmp, 'fifo-child.ts');
    fs.writeFileSync(script, `
      import { Machine, Snapshot } from ${JSON.stringify(path.join(ROOT, 'lib'))};
      export function main() {
        const m = Machine.createSync({ memory: '1M', mode: 'real', serial: false });
        const snap = m.snapshot();
        m.close();
        const out: string[] = [];
        for (const run of [() => Snapshot.read(${JSON.stringify(fifo)}), () => snap.save(${JSON.stringify(fifo)})]) {
          try { run(); out.push('no error'); } catch (e) { out.push(\`\${(e as Error).name} \${(e as { kind?: string }).kind}: \${(e as Error).message}\`); }
        }
        console.log(out.join('\\n'));
      }
    `);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-example.js'), script], { encoding: 'utf8', timeout: 20000 });
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^SnapshotError file: cannot read snapshot file .*fifo.snap: it is a FIFO/),
      expect.stringMatching(/^SnapshotError file: cannot write snapshot file .*fifo.snap: it is a FIFO/),
    ]);
    expect(fs.statSync(fifo).isFIFO()).toBe(true); // save did not replace it
  });

  test('a version 1 file (written before the format changed) is refused with what to do', () => {
    const fds = openFdCount();
    const err = refusal(() => Snapshot.read(V1_FIXTURE));
    expect(err).toMatchObject({ kind: 'version' });
    expect(err.message).toMatch(/has format version 1, which node-kvm no longer reads \(its checksum did not cover the header\); take the snapshot again/);
    expect(() => Machine.load(V1_FIXTURE)).toThrow(/format version 1/);
    expect(openFdCount()).toBe(fds);
  });
});
