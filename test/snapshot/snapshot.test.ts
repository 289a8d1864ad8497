// Snapshots and fast reset: restore puts registers, RAM (guest and host
// writes) and device state back, copying only the dirty pages.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Machine, MemoryRegion, Snapshot, SnapshotError } from '../../lib';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';

const MEM = 8n << 20n;
/**
 * Pages a long-mode run dirties besides the guest's own writes: the MMU sets
 * accessed/dirty bits in the PML4, PDPT and page directory (0x1000-0x3fff)
 * as it walks them, and a restore must put those bits back too.
 */
const PAGE_TABLE_PAGES = 3;

function ramHash(m: Machine): string {
  return createHash('sha256').update(m.readGuest(0n, Number(MEM))).digest('hex');
}

/** Registers, special registers and the serial port's state: everything the guest changes. */
function stateDump(m: Machine) {
  const { rip, rax, rbx, rdi, r12, rflags } = m.vcpu.getRegs();
  const s = m.vcpu.getSregs();
  return { rip, rax, rbx, rdi, r12, rflags, cr3: s.cr3, efer: s.efer, cs: s.cs, serial: m.serial!.saveState() };
}

/** A machine running snapshot-counter.S, with a port device at 0x600 recording what the guest reports. */
function counterMachine(opts: { memory?: bigint } = {}) {
  const m = Machine.createSync({ memory: opts.memory ?? MEM, serial: { output: null } });
  const reports: number[] = [];
  m.memory.ioRoot.addSubregion(0x600n, MemoryRegion.io('reporter', 4, { write: (_o, v) => void reports.push(Number(v)) }));
  m.load(assemble('snapshot-counter.S'));
  return { m, reports };
}

describeKvm('snapshots', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-snap-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('restore brings back registers, RAM (guest and host writes) and serial state', () => {
    const { m } = counterMachine();
    try {
      m.writeGuest(0x200000n, Uint8Array.from([41, 0, 0, 0, 0, 0, 0, 0]));
      const snap = m.snapshot();
      const before = { ram: ramHash(m), state: stateDump(m) };

      expect(m.runSync({ timeoutMs: 2000 }).reason).toBe('hlt');
      m.memory.system.write(0x400000n, Uint8Array.from([1, 2, 3, 4])); // a host write
      m.memory.system.write(0x7ff000n, new Uint8Array(4096).fill(0xee));
      expect(ramHash(m)).not.toBe(before.ram);
      expect(stateDump(m)).not.toEqual(before.state);
      expect(m.readGuest(0x200000n, 1)[0]).toBe(42);

      const stats = m.restore(snap);
      expect(ramHash(m)).toBe(before.ram);
      expect(stateDump(m)).toEqual(before.state);
      // Only what changed came back: 0x200000, 0x300000, 0x400000, 0x7ff000 and the page tables.
      expect(stats).toEqual({ pages: 4 + PAGE_TABLE_PAGES, fullCopy: false });
    } finally {
      m.close();
    }
  });

  test('1,000 restore-run cycles always start from the snapshot', () => {
    const { m, reports } = counterMachine();
    try {
      m.writeGuest(0x200000n, Uint8Array.from([99]));
      const snap = m.snapshot();
      for (let i = 0; i < 1000; i++) {
        expect(m.runSync({ timeoutMs: 2000 }).reason).toBe('hlt');
        const stats = m.restore(snap);
        if (stats.pages !== 2 + PAGE_TABLE_PAGES || stats.fullCopy) throw new Error(`cycle ${i}: restored ${JSON.stringify(stats)}`);
      }
      expect(reports.length).toBe(1000);
      expect(new Set(reports)).toEqual(new Set([100]));
      expect(m.readGuest(0x200000n, 1)[0]).toBe(99);
    } finally {
      m.close();
    }
  });

  test("cpu: 'registers' restores an integer guest just as well", () => {
    const { m, reports } = counterMachine();
    try {
      const snap = m.snapshot();
      for (let i = 0; i < 100; i++) {
        m.runSync({ timeoutMs: 2000 });
        m.restore(snap, { cpu: 'registers' });
        expect(m.vcpu.getRegs().rip).toBe(0x100000n); // staged registers are visible before the next run
      }
      expect(new Set(reports)).toEqual(new Set([1]));
    } finally {
      m.close();
    }
  });

  test.each(['registers', 'full'] as const)("cpu: '%s': what the restore staged in kvm_run stays staged until KVM_RUN loads it (no register ioctl before the run), and the guest starts over", (cpu) => {
    const { m, reports } = counterMachine();
    try {
      const snap = m.snapshot();
      m.runSync({ timeoutMs: 2000 });
      m.restore(snap, { cpu });
      const vcpu = m.vcpu;
      const ioctls: string[] = [];
      const issue = vcpu.ioctl.bind(vcpu);
      vcpu.ioctl = (name, arg) => { ioctls.push(name); return issue(name, arg); };
      m.runSync({ timeoutMs: 2000 });
      expect(ioctls.filter((name) => /REGS|EVENTS/.test(name))).toEqual([]); // (the run-start checks read the staged registers)
      expect(reports).toEqual([1, 1]);
    } finally {
      m.close();
    }
  });

  test('full restore also brings back MSRs and FPU/SSE state', () => {
    const { m } = counterMachine();
    try {
      m.vcpu.setMsrs([[0xc0000102, 0x1111_2222_3333n]]); // KERNEL_GS_BASE
      m.vcpu.setFpu({ mxcsr: 0x1f80 });
      const snap = m.snapshot();
      const fpu = m.vcpu.getFpu();
      m.vcpu.setMsrs([[0xc0000102, 0x9999n]]);
      m.vcpu.setFpu({ mxcsr: 0x1fc0, xmm: [Uint8Array.from([1, 2, 3])] });
      m.restore(snap);
      expect(m.vcpu.getMsr(0xc0000102)).toBe(0x1111_2222_3333n);
      expect(m.vcpu.getFpu()).toEqual(fpu);
    } finally {
      m.close();
    }
  });

  test('restoring a snapshot other than the last one copies all of RAM, correctly', () => {
    const { m, reports } = counterMachine();
    try {
      const a = m.snapshot();
      m.runSync({ timeoutMs: 2000 });
      const b = m.snapshot(); // counter 1
      m.runSync({ timeoutMs: 2000 });
      expect(m.restore(a)).toMatchObject({ fullCopy: true });
      m.runSync({ timeoutMs: 2000 });
      expect(m.restore(b)).toMatchObject({ fullCopy: true });
      m.runSync({ timeoutMs: 2000 });
      // b was taken after a run: its page tables already carry the accessed/dirty
      // bits, so the MMU leaves them alone and only the guest's two pages are dirty.
      expect(m.restore(b)).toMatchObject({ fullCopy: false, pages: 2 });
      expect(reports).toEqual([1, 2, 1, 2]);
    } finally {
      m.close();
    }
  });

  test('without dirty tracking, every restore is a full copy (the fallback)', () => {
    const { m, reports } = counterMachine();
    try {
      const snap = m.snapshot({ dirtyTracking: false });
      for (let i = 0; i < 3; i++) {
        m.runSync({ timeoutMs: 2000 });
        expect(m.restore(snap)).toEqual({ pages: Number(MEM / 4096n), fullCopy: true });
      }
      expect(reports).toEqual([1, 1, 1]);
    } finally {
      m.close();
    }
  });

  test('save and Machine.load: a new machine continues exactly where the snapshot was', () => {
    const { m, reports } = counterMachine();
    const file = path.join(tmp, 'counter.snap');
    try {
      m.writeGuest(0x200000n, Uint8Array.from([7]));
      m.runSync({ timeoutMs: 2000 }); // counter 8
      const snap = m.snapshot();
      snap.save(file);
      const hash = ramHash(m);
      const state = stateDump(m);
      const seen: number[] = [];
      // The snapshot's machine had a device of ours (the reporter): add it again before the restore.
      const setup = (n: Machine) => n.memory.ioRoot.addSubregion(0x600n, MemoryRegion.io('reporter', 4, { write: (_o, v) => void seen.push(Number(v)) }));
      expect(() => Machine.load(file, { serial: { output: null } })).toThrow(/memory map differs.*io @0000000000000503/);
      const loaded = Machine.load(file, { serial: { output: null }, setup });
      try {
        expect(ramHash(loaded)).toBe(hash);
        expect(stateDump(loaded)).toEqual(state);
        expect(loaded.runSync({ timeoutMs: 2000 }).reason).toBe('hlt');
        expect(seen).toEqual([9]);
      } finally {
        loaded.close();
      }
      expect(reports).toEqual([8]);
      // The file also restores into the machine it came from.
      m.runSync({ timeoutMs: 2000 });
      m.restore(Snapshot.read(file));
      expect(ramHash(m)).toBe(hash);
    } finally {
      m.close();
    }
  });

  test('a device of yours joins snapshots with two methods', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    try {
      let count = 0;
      m.memory.ioRoot.addSubregion(0x10n, MemoryRegion.io('counter', 1, { read: () => count, write: () => void count++ }));
      m.addDevice({ snapshotName: 'counter', saveState: () => ({ count }), loadState: (s) => { count = (s as { count: number }).count; } });
      m.load(Uint8Array.from([0xe6, 0x10, 0xe6, 0x10, 0xe6, 0x10, 0xf4]), { format: 'flat' }); // out 0x10, al (x3); hlt
      count = 5;
      const snap = m.snapshot();
      m.runSync({ timeoutMs: 2000 });
      expect(count).toBe(8);
      m.restore(snap);
      expect(count).toBe(5);
      expect(() => m.addDevice({ snapshotName: 'counter', saveState: () => 0, loadState: () => {} })).toThrow(/already registered/);
      expect(() => m.addDevice({} as never)).toThrow(TypeError);
    } finally {
      m.close();
    }
  });
});

describeKvm('snapshots: bad input leaves the machine as it was', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-snap-bad-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function expectUnchanged(m: Machine, fn: () => void, kind: string, message: RegExp) {
    const ram = ramHash(m);
    const state = stateDump(m);
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SnapshotError);
    expect(err).toMatchObject({ kind });
    expect((err as Error).message).toMatch(message);
    expect(ramHash(m)).toBe(ram);
    expect(stateDump(m)).toEqual(state);
  }

  test('a snapshot of another memory size, another mode, or another memory map is refused', () => {
    const { m: small } = counterMachine({ memory: 4n << 20n });
    const { m } = counterMachine();
    const protectedMachine = Machine.createSync({ memory: MEM, mode: 'protected', serial: { output: null } });
    try {
      const other = small.snapshot();
      m.runSync({ timeoutMs: 2000 });
      expectUnchanged(m, () => m.restore(other), 'layout', /memory is 8388608 here but 4194304 in the snapshot/);
      expectUnchanged(protectedMachine, () => protectedMachine.restore(m.snapshot()), 'layout', /mode is protected here but long/);
      const own = m.snapshot();
      m.memory.root.addSubregion(0x10000000n, MemoryRegion.io('extra', 0x1000));
      // (The first line that differs is the flat view's root: RAM alone collapses to it, QEMU's rule.)
      expectUnchanged(m, () => m.restore(own), 'layout', /memory map differs: the snapshot has " Root memory region: ram" where this machine has " Root memory region: system"/);
    } finally {
      small.close();
      m.close();
      protectedMachine.close();
    }
  });

  test('corrupted, truncated, foreign and future files are refused with what is wrong', () => {
    const { m } = counterMachine();
    try {
      const file = path.join(tmp, 'good.snap');
      m.snapshot().save(file);
      const good = fs.readFileSync(file);
      const variant = (name: string, bytes: Buffer) => {
        const f = path.join(tmp, name);
        fs.writeFileSync(f, bytes);
        return f;
      };
      const flipped = Buffer.from(good);
      flipped[flipped.length - 100] ^= 0xff;
      const future = Buffer.from(good);
      future.writeUInt32LE(99, 8);
      const cases: [string, Buffer, string, RegExp][] = [
        ['flipped.snap', flipped, 'corrupt', /checksum/],
        ['truncated.snap', good.subarray(0, good.length - 4096), 'truncated', /truncated: \d+ of \d+ bytes/],
        ['tiny.snap', good.subarray(0, 10), 'truncated', /truncated/],
        ['header-cut.snap', good.subarray(0, 40), 'truncated', /inside its header/],
        ['foreign.snap', Buffer.from('#!/bin/sh\necho not a snapshot\n'), 'format', /not a node-kvm snapshot/],
        ['future.snap', future, 'version', /format version 99; this node-kvm reads version 2/],
        ['trailing.snap', Buffer.concat([good, Buffer.from([0])]), 'corrupt', /trailing/],
      ];
      for (const [name, bytes, kind, message] of cases) {
        const f = variant(name, bytes);
        expectUnchanged(m, () => m.restore(Snapshot.read(f)), kind, message);
        expect(() => Machine.load(f)).toThrow(message);
      }
      expect(() => Snapshot.read(path.join(tmp, 'missing.snap'))).toThrow(expect.objectContaining({ kind: 'file', message: expect.stringMatching(/ENOENT/) }));
    } finally {
      m.close();
    }
  });

  test('a closed machine: no snapshot, no restore, clear errors', () => {
    const { m } = counterMachine();
    const snap = m.snapshot();
    m.close();
    expect(() => m.snapshot()).toThrow(expect.objectContaining({ kind: 'closed', message: expect.stringMatching(/cannot snapshot: the machine is closed/) }));
    expect(() => m.restore(snap)).toThrow(expect.objectContaining({ kind: 'closed' }));
    // The snapshot outlives its machine: it still restores elsewhere.
    const { m: other, reports } = counterMachine();
    try {
      other.restore(snap);
      other.runSync({ timeoutMs: 2000 });
      expect(reports).toEqual([1]);
    } finally {
      other.close();
    }
  });

  test('a device that refuses its state: every device rolled back, RAM and vCPU untouched', () => {
    const { m } = counterMachine();
    try {
      let accept = true;
      let value = 1;
      m.addDevice({
        snapshotName: 'picky',
        saveState: () => value,
        loadState: (s) => {
          if (!accept) throw new TypeError('picky: state refused');
          value = s as number;
        },
      });
      const snap = m.snapshot();
      m.runSync({ timeoutMs: 2000 });
      value = 2;
      const serialBefore = m.serial!.saveState();
      accept = false;
      const ram = ramHash(m);
      expect(() => m.restore(snap)).toThrow(/picky: state refused/);
      expect(ramHash(m)).toBe(ram);
      expect(m.serial!.saveState()).toEqual(serialBefore);
      expect(value).toBe(2);
      expect(() => m.restore({} as never)).toThrow(TypeError);
      expect(() => m.restore(snap, { cpu: 'most' as never })).toThrow(RangeError);
    } finally {
      m.close();
    }
  });
});

describeKvm('snapshots with the in-kernel IRQ chip', () => {
  test('PIC, IOAPIC and PIT state is saved and restored with the machine', () => {
    const m = Machine.createSync({ memory: '4M', mode: 'real', serial: { output: null }, irqchip: true });
    try {
      const chip = m.irqchip!;
      expect(chip).not.toBeNull();
      const picMaster = () => (chip.saveState() as { chips: Uint8Array[] }).chips[0]!.slice();
      // The guest programs the master PIC's interrupt mask (port 0x21): in al, 0x21 reads it back.
      // mov al, 0xa5; out 0x21, al; hlt
      m.load(Uint8Array.of(0xb0, 0xa5, 0xe6, 0x21, 0xf4), { format: 'flat' });
      const snap = m.snapshot();
      const before = picMaster();
      // With the in-kernel chip, hlt waits in the kernel for an interrupt: the run ends by its timeout.
      expect(m.runSync({ timeoutMs: 100 }).reason).toBe('timeout');
      expect(picMaster()).not.toEqual(before); // the mask register changed in the kernel's PIC
      m.restore(snap);
      expect(picMaster()).toEqual(before);
    } finally {
      m.close();
    }
  });
});
