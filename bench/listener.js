'use strict';
// KVM memory listener benchmark: a 10,000-region tree (~9,900 KVM slots),
// change one region, commit; report commit time, listener time and ioctls.
// Build first:  npx tsc -p tsconfig.build.json   then:  node bench/listener.js
//
// The tree: one RAM block, 100 containers of 99 alias windows (4 KiB each,
// 12 KiB apart so no two merge, even after the move) -> every window is its own section and slot.
// "Change one region" moves one window (set_address = delete + add).
const { MemoryRegion, AddressSpace, transaction } = require('../dist/memory');
const { Kvm } = require('../dist');

const GROUPS = 100;
const PER_GROUP = 99;
const ROUNDS = 200;

function build() {
  const system = MemoryRegion.container('system', 1n << 64n);
  const ram = MemoryRegion.ram('ram', 0x2000n * BigInt(GROUPS * PER_GROUP));
  const windows = [];
  let count = 2;
  transaction(() => {
    for (let g = 0; g < GROUPS; g++) {
      const c = MemoryRegion.container(`group${g}`, 0x3000n * BigInt(PER_GROUP + 1));
      count++;
      for (let i = 0; i < PER_GROUP; i++) {
        const k = g * PER_GROUP + i;
        const w = MemoryRegion.alias(`w${k}`, ram, 0x2000n * BigInt(k), 0x1000n);
        c.addSubregion(0x3000n * BigInt(i), w);
        windows.push(w);
        count++;
      }
      system.addSubregion(0x100000000n + 0x3000n * BigInt((PER_GROUP + 1) * g), c);
    }
  });
  return { system, ram, windows, count };
}

function main() {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const t = build();
  const as = new AddressSpace(t.system, 'memory');
  const tReg0 = process.hrtime.bigint();
  const listener = vm.addAddressSpace(as);
  const regMs = Number(process.hrtime.bigint() - tReg0) / 1e6;
  const slots = vm.slots().length;

  // time spent inside the listener's callbacks (begin..commit), ioctls included
  let listenerNs = 0n;
  for (const m of ['begin', 'regionAdd', 'regionDel', 'logStart', 'logStop', 'commit']) {
    const orig = listener[m].bind(listener);
    listener[m] = (...a) => {
      const s = process.hrtime.bigint();
      try {
        return orig(...a);
      } finally {
        listenerNs += process.hrtime.bigint() - s;
      }
    };
  }
  // ...and inside the KVM_SET_USER_MEMORY_REGION ioctls themselves (kernel time)
  let ioctlNs = 0n;
  const nat = vm.native;
  const timed = {
    setUserMemoryRegion: (...a) => {
      const s = process.hrtime.bigint();
      try {
        return nat.setUserMemoryRegion(...a);
      } finally {
        ioctlNs += process.hrtime.bigint() - s;
      }
    },
    getDirtyLog: (...a) => nat.getDirtyLog(...a),
  };
  listener.table.native = timed; // (the slot table's private field; bench-only instrumentation)
  const w = t.windows[Math.floor(t.windows.length / 2)];
  const home = w.addr;
  const commitMs = [];
  const listenerMs = [];
  const libraryMs = [];
  let ioctls = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const before = listener.ioctlCount;
    listenerNs = 0n;
    ioctlNs = 0n;
    const s = process.hrtime.bigint();
    w.setAddress(r % 2 === 0 ? home + 0x1000n : home); // still inside its 12 KiB cell: no overlap
    commitMs.push(Number(process.hrtime.bigint() - s) / 1e6);
    listenerMs.push(Number(listenerNs) / 1e6);
    libraryMs.push(Number(listenerNs - ioctlNs) / 1e6);
    ioctls += listener.ioctlCount - before;
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const out = {
    regions: t.count,
    slots,
    registerMs: +regMs.toFixed(1),
    rounds: ROUNDS,
    ioctlsPerChange: ioctls / ROUNDS,
    commitMsMedian: +med(commitMs).toFixed(3),
    listenerMsMedian: +med(listenerMs).toFixed(3),
    listenerMinusIoctlMsMedian: +med(libraryMs).toFixed(3),
    listenerMsMax: +Math.max(...listenerMs).toFixed(3),
  };
  console.log(JSON.stringify(out, null, 2));
  vm.close();
  as.destroy();
  for (const x of t.windows) x.close();
  t.system.close();
  t.ram.close();
  kvm.close();
}

main();
