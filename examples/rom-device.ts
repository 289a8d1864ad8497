// A ROM device: reads come straight from its memory (mapped read-only into
// the guest by KVM, no exit), writes go to a TypeScript callback, like a
// flash chip's command register.  The guest writes 'X' over the first byte,
// then prints the ROM's text, which is unchanged.
// Run: node scripts/run-example.js examples/rom-device.ts
import type { Writable } from 'stream';
import { Machine, MemoryRegion } from '../lib';

export const ROM_BASE = 0xfff00000n;
export const ROM_TEXT = 'Hello from a ROM device!\n';

// movabs $0xfff00000,%rsi ; movb $'X',(%rsi)
// 1: lodsb ; test %al,%al ; jz 2f ; mov $0x3f8,%dx ; out %al,%dx ; jmp 1b
// 2: mov $0x501,%dx ; xor %al,%al ; out %al,%dx ; hlt
export const GUEST = Uint8Array.from([
  0x48, 0xbe, 0x00, 0x00, 0xf0, 0xff, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x06, 0x58, 0x66, 0xba, 0xf8,
  0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0x66, 0xba, 0x01, 0x05, 0x30, 0xc0, 0xee,
  0xf4,
]);

export async function main(output: Writable = process.stdout): Promise<{ code: number; writes: string[] }> {
  const writes: string[] = [];
  const rom = MemoryRegion.romDevice('flash', 0x10000, {
    write: (offset, value, size) => { writes.push(`offset 0x${offset.toString(16)} <- 0x${value.toString(16)} (${size} byte)`); },
  });
  rom.bytes(0, ROM_TEXT.length + 1).set(Buffer.from(`${ROM_TEXT}\0`, 'latin1'));
  const machine = await Machine.create({ memory: '4M', mode: 'long', serial: { output } });
  try {
    machine.memory.root.addSubregion(ROM_BASE, rom);
    machine.load(GUEST);
    const result = await machine.run({ timeoutMs: 5000 });
    console.error(`writes the ROM device saw: ${writes.join('; ')}`);
    return { code: result.exitCode ?? 2, writes };
  } finally {
    machine.close();
    rom.close();
  }
}

if (require.main === module) main().then((r) => process.exit(r.code));
