// The pc machine boots a disk: SeaBIOS (Debian's, `apt-get install seabios`)
// POSTs, loads the image's first sector at 0x7c00 and jumps to it; the boot
// sector prints a line with INT 10h, which -nographic's sercon puts on COM1,
// waits 100 ms with INT 15h AH=86h (so sercon sends it), and exits through
// isa-debug-exit at 0xf4. Run: node scripts/run-example.js examples/pc-boot-sector.ts
// (In your own project, import from 'node-kvm' instead of '../lib'.)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Writable } from 'stream';
import { Machine } from '../lib';

// Assembled from (as --32; CS:IP = 0:7c00):
//         xor %ax,%ax ; mov %ax,%ds ; mov $msg+0x7c00,%si
//   1:    lodsb ; test %al,%al ; jz 2f
//         mov $0x0e,%ah ; mov $7,%bx ; int $0x10 ; jmp 1b      # teletype output
//   2:    mov $0x86,%ah ; mov $1,%cx ; mov $0x86a0,%dx ; int $0x15   # wait 100 ms
//         mov $0xf4,%dx ; mov $0,%al ; out %al,%dx ; hlt      # isa-debug-exit: status (0 << 1) | 1
//   msg:  .asciz "Hello from a boot sector, through SeaBIOS's INT 10h!\r\n"
export const GREETING = "Hello from a boot sector, through SeaBIOS's INT 10h!\r\n";
export const BOOT_SECTOR = (() => {
  const sector = new Uint8Array(512);
  sector.set([
    0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x26, 0x7c, 0xac, 0x84, 0xc0, 0x74, 0x09, 0xb4, 0x0e, 0xbb, 0x07,
    0x00, 0xcd, 0x10, 0xeb, 0xf2, 0xb4, 0x86, 0xb9, 0x01, 0x00, 0xba, 0xa0, 0x86, 0xcd, 0x15, 0xba,
    0xf4, 0x00, 0xb0, 0x00, 0xee, 0xf4, ...Buffer.from(`${GREETING}\0`, 'latin1'),
  ]);
  sector.set([0x55, 0xaa], 510); // the boot signature SeaBIOS checks
  return sector;
})();

export async function main(serial: Writable = process.stdout): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-example-'));
  const image = path.join(dir, 'disk.img');
  fs.writeFileSync(image, BOOT_SECTOR);
  fs.truncateSync(image, 1 << 20); // a 1 MiB raw disk
  const machine = await Machine.create({
    machine: 'pc', memory: '128M',
    disks: [{ file: image, snapshot: true }], // -drive file=disk.img,format=raw,if=ide,snapshot=on
    nographic: true, serial: { output: serial }, // SeaBIOS's screen on COM1
    debugExit: { port: 0xf4 },
  });
  try {
    const result = await machine.run({ timeoutMs: 30_000 });
    console.error(`stopped: ${result.reason}, exit code ${result.exitCode}`);
    return result.exitCode ?? 2;
  } finally {
    machine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) main().then((code) => process.exit(code));
