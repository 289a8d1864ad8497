// Scenarios for mapping-lifetime.test.ts, each run in its own process because
// the unfixed failure modes are a SIGSEGV or bytes in the wrong machine.
// Run: node --expose-gc scripts/run-example.js test/kvm/mapping-lifetime.child.ts <scenario>
// Prints one line "RESULT <json>" and exits 0 when the scenario ran to its end.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { allocateHostMemory, type HostMemory } from '../../lib/host-memory';
import { native } from '../../lib/binding';
import { Kvm } from '../../lib/kvm/system';
import { Machine } from '../../lib/machine';

const PATTERN = Buffer.alloc(4096, 0xa5);
const MEMORY = '16M';

function ramBytes(machine: Machine): Uint8Array {
  return machine.memory.ram.ramBlock!.bytes();
}

function ramHostAddress(machine: Machine): bigint {
  return machine.memory.ram.ramBlock!.hostAddress;
}

/** Host-address ranges of this process's mappings, from /proc/self/maps. */
function mappedRanges(): [bigint, bigint][] {
  return fs.readFileSync('/proc/self/maps', 'utf8').trim().split('\n').map((line) => {
    const [lo, hi] = line.split(' ')[0].split('-');
    return [BigInt(`0x${lo}`), BigInt(`0x${hi}`)];
  });
}

function isMapped(addr: bigint): boolean {
  return mappedRanges().some(([lo, hi]) => addr >= lo && addr < hi);
}

function counts(): { live: number; retired: number } {
  const n = native() as unknown as { liveMappings(): number; retiredMappings?(): number };
  return { live: n.liveMappings(), retired: n.retiredMappings ? n.retiredMappings() : -1 };
}

/** A FIFO opened read-write: reads block (in the threadpool) until we write. */
function fifo(): { rfd: number; wfd: number; done(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-fifo-'));
  const p = path.join(dir, 'f');
  execFileSync('mkfifo', [p]);
  const rfd = fs.openSync(p, fs.constants.O_RDWR);
  const wfd = fs.openSync(p, 'w');
  return {
    rfd, wfd,
    done() {
      fs.closeSync(rfd);
      fs.closeSync(wfd);
      fs.rmSync(dir, { recursive: true });
    },
  };
}

const gc = (): void => (globalThis as unknown as { gc(): void }).gc();
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** The counts once the scenario's objects are unreachable and collected. */
async function countsOnceCollected(): Promise<{ live: number; retired: number }> {
  await settle();
  return counts();
}

function contains(view: Uint8Array, needle: Buffer): boolean {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).indexOf(needle) >= 0;
}

/** ArrayBuffer.prototype.transfer: in Node 20 behind --harmony-rab-gsab-transfer (the test passes it). */
function transfer(buffer: ArrayBufferLike): ArrayBuffer {
  const t = (buffer as { transfer?: () => ArrayBuffer }).transfer;
  if (typeof t !== 'function') throw new Error('ArrayBuffer.prototype.transfer is missing: run node with --harmony-rab-gsab-transfer');
  return t.call(buffer);
}

type Scenario = () => Promise<Record<string, unknown>>;

const scenarios: Record<string, Scenario> = {
  // A read into guest RAM is pending in the threadpool when the machine closes;
  // its bytes arrive after a new machine took the RAM.
  async 'fs-read-machine'() {
    const f = fifo();
    let first: Machine | null = await Machine.create({ memory: MEMORY, serial: false });
    const oldAddress = ramHostAddress(first);
    const read = new Promise<number>((resolve, reject) => {
      fs.read(f.rfd, ramBytes(first!), 0, PATTERN.length, null, (err, n) => (err ? reject(err) : resolve(n)));
    });
    await new Promise((r) => setTimeout(r, 50)); // the read is now blocked in read(2)
    first.close();
    first = null;
    await settle(); // the pending read must keep the range reserved through GC
    const second = await Machine.create({ memory: MEMORY, serial: false });
    fs.writeSync(f.wfd, PATTERN);
    const bytesRead = await read;
    const leaked = contains(ramBytes(second), PATTERN);
    const sameAddress = ramHostAddress(second) === oldAddress;
    second.close();
    f.done();
    return { bytesRead, leaked, sameAddress };
  },

  // The same through allocateHostMemory directly.
  async 'fs-read-host-memory'() {
    const f = fifo();
    let first: HostMemory | null = allocateHostMemory(1 << 20);
    const oldAddress = first.hostAddress;
    const read = new Promise<number>((resolve, reject) => {
      fs.read(f.rfd, first!.bytes(), 0, PATTERN.length, null, (err, n) => (err ? reject(err) : resolve(n)));
    });
    await new Promise((r) => setTimeout(r, 50));
    first.close();
    first = null;
    await settle();
    const held = counts();
    const second = allocateHostMemory(1 << 20);
    fs.writeSync(f.wfd, PATTERN);
    const bytesRead = await read;
    const leaked = contains(second.bytes(), PATTERN);
    const sameAddress = second.hostAddress === oldAddress;
    second.close();
    f.done();
    return { bytesRead, leaked, sameAddress, held };
  },

  // crypto.randomFill over 256 MiB of guest RAM runs in the threadpool while the machine closes.
  async 'random-fill'() {
    let machine: Machine | null = await Machine.create({ memory: '256M', serial: false });
    let done = false;
    const filled = new Promise<void>((resolve, reject) => {
      crypto.randomFill(ramBytes(machine!), (err) => (err ? reject(err) : resolve()));
    }).finally(() => { done = true; });
    await new Promise((r) => setTimeout(r, 20)); // the fill is under way
    const closedWhileFilling = !done;
    machine.close();
    machine = null;
    const afterClose = counts();
    await filled;
    return { closedWhileFilling, afterClose };
  },

  // ArrayBuffer.prototype.transfer() of a RAM view moves its backing store
  // (the pointer into the mapping) to a buffer close() does not know.
  async 'transfer'() {
    const machine = await Machine.create({ memory: MEMORY, serial: false });
    const view = ramBytes(machine);
    view[0] = 0x42;
    const bytes = new Uint8Array(transfer(view.buffer));
    const before = bytes[0];
    machine.close();
    const zeroAfterClose = bytes[0] === 0 && bytes[1] === 0; // fresh pages, not the old RAM
    bytes.fill(0x5a); // after close: must land in memory that is still ours
    const after = bytes[0] + bytes[bytes.length - 1];
    return { before, zeroAfterClose, after, length: bytes.length };
  },

  // After the user transferred the view's buffer away, bytes() gives a fresh
  // view of the same memory (not the detached buffer), and close() retires both.
  async 'view-after-transfer'() {
    const machine = await Machine.create({ memory: MEMORY, serial: false });
    const moved = new Uint8Array(transfer(ramBytes(machine).buffer));
    const again = ramBytes(machine);
    again[1] = 7;
    const shared = moved[1] === 7;
    machine.close();
    return { shared, viewAfterClose: again.byteLength, movedAfterClose: moved.byteLength };
  },

  // The vCPU's kvm_run page (vcpu.runPage) is a mapping too: transferred away,
  // it must survive the vCPU's close() without keeping the vCPU file mapped.
  async 'run-page-transfer'() {
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    const vcpu = vm.createVcpu(0);
    const page = new Uint8Array(transfer(vcpu.runPage));
    const vcpuFileMapped = (): boolean => fs.readFileSync('/proc/self/maps', 'utf8').includes('kvm-vcpu');
    const mappedBefore = vcpuFileMapped();
    // the vCPU cannot run without its page, and says why (its file is still open: close() must still close it)
    let runError = '';
    try {
      vcpu.run();
    } catch (e) {
      runError = `${(e as Error).name}: ${(e as Error).message}`;
    }
    const closedBeforeClose = vcpu.native.closed;
    vcpu.close();
    vm.close();
    kvm.close();
    page.fill(0x5a);
    return { mappedBefore, runError, closedBeforeClose, mappedAfterClose: vcpuFileMapped(), after: page[0] + page[page.length - 1] };
  },

  // structuredClone's transfer list copies an external buffer in Node 20
  // (the original stays attached): nothing points into the mapping afterwards.
  async 'structured-clone'() {
    const machine = await Machine.create({ memory: MEMORY, serial: false });
    const view = ramBytes(machine);
    view[0] = 0x42;
    const buffer = view.buffer as ArrayBuffer;
    const bytes = new Uint8Array(structuredClone(buffer, { transfer: [buffer] }));
    const copiedByte = bytes[0];
    const originalAttached = view.byteLength > 0; // a copy, not a move
    machine.close();
    bytes.fill(0x5a);
    return { copiedByte, originalAttached, length: bytes.length, viewAfterClose: view.byteLength };
  },

  // After close, the range stays reserved while anything holds it and is
  // unmapped once the holders are collected.
  async 'unmapped-after-gc'() {
    const start = counts();
    const memory = allocateHostMemory(1 << 20); // reachable to the end: a closed owner holds nothing
    const address = memory.hostAddress;
    let moved: ArrayBuffer | null = transfer(memory.bytes().buffer);
    memory.close();
    const closed = counts();
    await settle();
    const held = counts(); // the transferred buffer still holds the range
    const reservedWhileHeld = isMapped(address);
    new Uint8Array(moved)[0] = 1;
    moved = null;
    await settle();
    return { start, closed, held, reservedWhileHeld, mappedAtEnd: isMapped(address), ownerClosed: memory.closed };
  },
};

export async function main(): Promise<number> {
  const name = process.argv[3];
  const run = scenarios[name];
  if (!run) throw new Error(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(', ')}`);
  const result = { ...(await run()), end: await countsOnceCollected() };
  process.stdout.write(`RESULT ${JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  return 0;
}
