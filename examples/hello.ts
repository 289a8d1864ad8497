// Hello: a real-mode guest prints a line on the serial port and exits
// through the debug-exit port.  Run: node scripts/run-example.js examples/hello.ts
// (In your own project, import from 'node-kvm' instead of '../lib'.)
import type { Writable } from 'stream';
import { Machine } from '../lib';

// Assembled from (as --32, linked at 0x7c00):
//         mov  $msg, %si
//   1:    lodsb ; test %al,%al ; jz 2f
//         mov  $0x3f8, %dx ; out %al, %dx ; jmp 1b
//   2:    mov  $0x501, %dx ; mov $0, %al ; out %al, %dx ; hlt
//   msg:  .asciz "Hello, world! (from a real-mode guest)\n"
export const HELLO = Uint8Array.from([
  0xbe, 0x15, 0x7c, 0xac, 0x84, 0xc0, 0x74, 0x06, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf5, 0xba, 0x01,
  0x05, 0xb0, 0x00, 0xee, 0xf4, ...Buffer.from('Hello, world! (from a real-mode guest)\n\0', 'latin1'),
]);

export async function main(output: Writable = process.stdout): Promise<number> {
  const machine = await Machine.create({ memory: '1M', mode: 'real', serial: { output } });
  try {
    machine.load(HELLO); // at 0x7c00, CS:IP = 0:7c00
    const result = await machine.run({ timeoutMs: 5000 });
    console.error(`stopped: ${result.reason}, exit code ${result.exitCode}`);
    return result.exitCode ?? 2; // (0 << 1) | 1 = 1
  } finally {
    machine.close();
  }
}

if (require.main === module) main().then((code) => process.exit(code));
