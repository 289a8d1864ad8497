// Fuzz: random topology changes under a real VM, with random guest accesses
// checked against the memory model's own per-address answer.
//  - after every change, the KVM slot table must equal the slots derived here,
//    independently, from the flat view (page-aligned RAM-backed sections, with
//    KVM_MEM_READONLY for read-only sections);
//  - a long-mode guest reads random addresses: each value must equal
//    as.read() of the same address and size;
//  - the guest writes random addresses and reads them back: writable RAM must
//    hold the value (in the guest and in the model), anything else must not change.
// CI runs a few seconds; FUZZ_SECONDS=600 for a long run, FUZZ_SEED to replay.
import {
  AddressSpace, Kvm, MemoryRegion, RunLoop, setupLongMode, transaction, UNASSIGNED_IO_OPS,
} from '../../lib';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { slotsForFlatView, slotTable } from '../helpers/slots';
import { fuzzSeconds, fuzzSeed, prng, type Prng } from '../helpers/prng';

const SECONDS = fuzzSeconds(4);
const WINDOW = 0x4000_0000n; // where the fuzzed regions live (identity-mapped)
const WINDOW_SIZE = 0x40000n;
const TABLE = 0x180000;
const OUT = 0x1c0000;

/** A value an MMIO device answers: a function of the device and the access only (no state). */
function answer(id: number, offset: bigint, size: number): number {
  const v = Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(Number(offset & 0xffffn) + 7, 0x85ebca6b) ^ size;
  return (v >>> 0) & (size >= 4 ? 0xffff_ffff : (1 << (8 * size)) - 1);
}

function le(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

interface Pooled {
  mr: MemoryRegion;
  alias: boolean;
  romDevice: boolean;
}

describeKvm('fuzz: topology changes under a running VM', () => {
  test(`${SECONDS} s of changes and guest accesses`, () => {
    const seed = fuzzSeed();
    const rng = prng(seed);
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    const system = MemoryRegion.container('system', 1n << 64n);
    const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
    const boot = MemoryRegion.ram('boot', 2n << 20n);
    system.addSubregion(0n, boot);
    const as = new AddressSpace(system, 'memory');
    const io = new AddressSpace(ioRoot, 'I/O');
    vm.addAddressSpace(as);
    const vcpu = vm.createVcpu(0);
    const bootBytes = boot.bytes();
    const code = assemble('access-table.S');
    const loop = new RunLoop(vcpu, io, as);
    const pool = makePool(rng);
    // the fuzz makes many incongruent aliases on purpose: their warnings are counted, not printed
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let warnCodes = new Set<string | undefined>();
    const counts = { changes: 0, slotChecks: 0, reads: 0, writes: 0, batches: 0 };

    const write = (gpa: bigint, b: Uint8Array) => bootBytes.set(b, Number(gpa));
    try {
      const deadline = Date.now() + SECONDS * 1000;
      while (Date.now() < deadline) {
        mutate(rng, system, pool);
        counts.changes++;
        expectSlotsMatchFlatView(vm, as);
        counts.slotChecks++;
        if (counts.changes % 4 !== 0) continue;
        // A batch of reads, then a batch of writes.
        for (const op of [0, 1] as const) {
          const entries = op === 0 ? readBatch(rng) : writeBatch(rng, as);
          const before = entries.map((e) => le(as.read(e.addr, e.size).data));
          const table = new DataView(bootBytes.buffer, bootBytes.byteOffset + TABLE);
          table.setBigUint64(0, BigInt(entries.length), true);
          entries.forEach((e, i) => {
            table.setBigUint64(8 + 24 * i, e.addr, true);
            table.setUint32(16 + 24 * i, e.size, true);
            table.setUint32(20 + 24 * i, op, true);
            table.setBigUint64(24 + 24 * i, e.value, true);
          });
          write(0x100000n, code);
          setupLongMode(vcpu, write, { gdtAddr: 0x500n, pageTableAddr: 0x10000n, identityMapSize: 2n << 30n, entry: 0x100000n, stack: 0x80000n });
          const r = loop.run({ timeoutMs: 10_000 });
          expect(r.reason).toBe('hlt');
          const out = new DataView(bootBytes.buffer, bootBytes.byteOffset + OUT);
          entries.forEach((e, i) => {
            const got = out.getBigUint64(8 * i, true);
            const mask = (1n << BigInt(8 * e.size)) - 1n;
            const now = le(as.read(e.addr, e.size).data);
            if (op === 0) {
              if (got !== before[i]) throw new Error(`read 0x${e.addr.toString(16)}/${e.size}: guest 0x${got.toString(16)}, model 0x${before[i]!.toString(16)}`);
            } else {
              const want = e.writable ? e.value & mask : before[i]!;
              if (got !== want || now !== want) {
                throw new Error(`write 0x${e.addr.toString(16)}/${e.size} (${e.writable ? 'writable RAM' : 'not writable'}): guest read back 0x${got.toString(16)}, model 0x${now.toString(16)}, expected 0x${want.toString(16)}`);
              }
            }
          });
          counts[op === 0 ? 'reads' : 'writes'] += entries.length;
          counts.batches++;
        }
      }
    } catch (err) {
      process.stderr.write(`topology fuzz failure: FUZZ_SEED=${seed} after ${counts.changes} changes\n${as.formatFlatView()}\n`);
      throw err;
    } finally {
      warnCodes = new Set(warn.mock.calls.map((c) => (c[1] as { code?: string } | undefined)?.code));
      warn.mockRestore();
      vm.close();
      as.destroy();
      io.destroy();
      for (const p of pool) if (p.mr.container) p.mr.container.removeSubregion(p.mr);
      for (const p of [...pool].reverse()) p.mr.close();
      for (const mr of [boot, system, ioRoot]) mr.close();
      kvm.close();
    }
    process.stdout.write(`topology fuzz: seed ${seed}: ${JSON.stringify(counts)}\n`);
    expect([...warnCodes].filter((c) => c !== 'NODE_KVM_UNSLOTTABLE')).toEqual([]);
    expect(counts.batches).toBeGreaterThan(0);
  });
});

/** Regions to shuffle around: RAM (some not page multiples), ROM, MMIO, a ROM device, a container, aliases. */
function makePool(rng: Prng): Pooled[] {
  const sizes = [0x800n, 0x1000n, 0x1800n, 0x3000n, 0x8000n, 0x10000n];
  const fill = (mr: MemoryRegion) => mr.bytes().set(rng.bytes(Number(mr.size)));
  const pool: Pooled[] = [];
  const plain = (mr: MemoryRegion) => pool.push({ mr, alias: false, romDevice: false });
  for (let i = 0; i < 4; i++) { const r = MemoryRegion.ram(`ram${i}`, rng.pick(sizes)); fill(r); plain(r); }
  for (let i = 0; i < 2; i++) { const r = MemoryRegion.rom(`rom${i}`, rng.pick(sizes)); fill(r); plain(r); }
  for (let i = 0; i < 2; i++) plain(MemoryRegion.io(`mmio${i}`, rng.pick(sizes), { read: (o, s) => answer(i, o, s), write: () => {} }));
  const romd = MemoryRegion.romDevice('romd', 0x2000n, { read: (o, s) => answer(7, o, s), write: () => {} });
  fill(romd);
  pool.push({ mr: romd, alias: false, romDevice: true });
  const box = MemoryRegion.container('box', 0x8000n);
  const boxRam = MemoryRegion.ram('box.ram', 0x4000n);
  fill(boxRam);
  box.addSubregion(0x1000n, boxRam);
  box.addSubregionOverlap(0x3000n, MemoryRegion.io('box.io', 0x2000n, { read: (o, s) => answer(9, o, s), write: () => {} }), 1);
  plain(box);
  const targets = pool.map((p) => p.mr);
  for (let i = 0; i < 4; i++) {
    const target = rng.pick(targets);
    const a = MemoryRegion.alias(`alias${i}`, target, BigInt(rng.int(0x40)) * 0x100n, BigInt(1 + rng.int(0x80)) * 0x100n);
    if (rng.int(2)) a.setReadonly(true);
    pool.push({ mr: a, alias: true, romDevice: false });
  }
  return pool;
}

function placement(rng: Prng): bigint {
  return WINDOW + BigInt(rng.int(Number(WINDOW_SIZE / 0x100n))) * 0x100n;
}

function mutate(rng: Prng, system: MemoryRegion, pool: Pooled[]): void {
  const one = () => {
    const p = rng.pick(pool);
    const mr = p.mr;
    switch (rng.int(6)) {
      case 0:
        if (mr.container) mr.container.removeSubregion(mr);
        else system.addSubregionOverlap(placement(rng), mr, rng.int(6) - 2);
        break;
      case 1:
        if (mr.container) mr.setAddress(placement(rng));
        break;
      case 2:
        mr.setEnabled(!mr.enabled);
        break;
      case 3:
        if (p.alias) mr.setReadonly(!mr.readonly);
        break;
      case 4:
        if (p.romDevice) mr.setRomdMode(!mr.romdMode);
        break;
      default:
        if (p.alias) mr.setAliasOffset(BigInt(rng.int(0x40)) * 0x100n);
    }
  };
  // RAM placed at a guest address not congruent with its host address
  // (modulo the page) cannot get a KVM slot: the listener traps it (its
  // accesses go to the model) with a warning; no change may throw.
  if (rng.int(3) === 0) transaction(() => { for (let i = 1 + rng.int(4); i > 0; i--) one(); });
  else one();
}

function expectSlotsMatchFlatView(vm: ReturnType<Kvm['createVm']>, as: AddressSpace): void {
  expect(slotTable(vm)).toEqual(slotsForFlatView(as));
}

interface Access { addr: bigint; size: number; value: bigint; writable: boolean }

function randomAccess(rng: Prng): Access {
  const size = rng.pick([1, 2, 4, 8]);
  const addr = WINDOW + BigInt(rng.int(Number(WINDOW_SIZE) / size) * size);
  const value = BigInt.asUintN(64, (BigInt(rng.int(2 ** 30)) << 34n) ^ BigInt(rng.int(2 ** 30)));
  return { addr, size, value, writable: false };
}

function readBatch(rng: Prng): Access[] {
  return Array.from({ length: 48 }, () => randomAccess(rng));
}

/**
 * Writes whose RAM bytes (after alias translation) do not overlap each other,
 * so each one's outcome is independent of the others.
 */
function writeBatch(rng: Prng, as: AddressSpace): Access[] {
  const taken: [object, bigint, bigint][] = [];
  const out: Access[] = [];
  for (let tries = 0; out.length < 24 && tries < 200; tries++) {
    const a = randomAccess(rng);
    const s = as.findSection(a.addr, BigInt(a.size));
    if (s === null) { out.push(a); continue; } // unassigned: reads 0 before and after
    const mr = s.mr;
    if (mr.ramBlock) {
      const at = mr.ramAddr(s.offsetWithinRegion + (a.addr - s.offsetWithinAddressSpace));
      const end = at + BigInt(a.size);
      if (taken.some(([b, lo, hi]) => b === mr.ramBlock && at < hi && lo < end)) continue;
      taken.push([mr.ramBlock, at, end]);
    }
    a.writable = mr.isRam && !mr.readonly && !s.readonly;
    out.push(a);
  }
  return out;
}
