// An MMIO device written in TypeScript: a counter at 0xd0000000 with two
// 8-byte registers, COUNT (read/write) and INCREMENT (write: add).  A
// long-mode guest sets COUNT to 40, increments it twice and exits with the
// value it reads back: exit code (42 << 1) | 1 = 85.
// Run: node scripts/run-example.js examples/mmio-counter.ts
import { Machine, MemoryRegion } from '../lib';

export class Counter {
  count = 0n;
  readonly accesses: string[] = [];
  readonly region = MemoryRegion.io('counter', 0x10, {
    read: (offset, size) => {
      this.accesses.push(`read  ${size}B @${offset}`);
      return offset === 0n ? this.count : 0n;
    },
    write: (offset, value, size) => {
      this.accesses.push(`write ${size}B @${offset} = ${value}`);
      if (offset === 0n) this.count = value;
      else if (offset === 8n) this.count += value;
    },
    // 8-byte registers: let 64-bit accesses through whole.
    valid: { minAccessSize: 1, maxAccessSize: 8 },
    impl: { minAccessSize: 8, maxAccessSize: 8 },
  });
}

// movabs $0xd0000000,%rbx ; movq $40,(%rbx) ; mov $2,%ecx
// 1: movq $1,8(%rbx) ; loop 1b ; mov (%rbx),%rax ; mov $0x501,%dx ; out %al,%dx ; hlt
export const GUEST = Uint8Array.from([
  0x48, 0xbb, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x48, 0xc7, 0x03, 0x28, 0x00, 0x00,
  0x00, 0xb9, 0x02, 0x00, 0x00, 0x00, 0x48, 0xc7, 0x43, 0x08, 0x01, 0x00, 0x00, 0x00, 0xe2, 0xf6,
  0x48, 0x8b, 0x03, 0x66, 0xba, 0x01, 0x05, 0xee, 0xf4,
]);

export async function main(): Promise<number> {
  const machine = await Machine.create({ memory: '4M', mode: 'long' });
  const counter = new Counter();
  try {
    machine.memory.root.addSubregion(0xd0000000n, counter.region);
    machine.load(GUEST);
    const result = await machine.run({ timeoutMs: 5000 });
    console.log(counter.accesses.join('\n'));
    console.log(`count = ${counter.count}; guest exit code ${result.exitCode}`);
    return result.exitCode ?? 2;
  } finally {
    machine.close();
    counter.region.close();
  }
}

if (require.main === module) main().then((code) => process.exit(code));
