// Multiboot test kernels: test/guests/multiboot-mbi.S built as an a.out-kludge
// flat image or as an ELF32, written with its two modules into a new
// directory, named as the QEMU captures in test/fixtures/kernel-boot name
// them (the names' lengths decide where QEMU's loader puts the strings).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { assemble, GUESTS } from './assemble';

export const KERNEL_BOOT_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'kernel-boot');

/** The ELF32 of a test/guests source, linked at `textAddr` (ld -m elf_i386). */
export function assembleElf32(name: string, textAddr: number): Uint8Array {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-elf-'));
  try {
    const obj = path.join(dir, 'guest.o');
    const elf = path.join(dir, 'guest.elf');
    execFileSync('as', ['--32', '-I', GUESTS, '-o', obj, path.join(GUESTS, name)]);
    execFileSync('ld', ['-m', 'elf_i386', `-Ttext=0x${textAddr.toString(16)}`, '-e', 'start', '--build-id=none', '-z', 'noseparate-code', '-o', elf, obj]);
    return new Uint8Array(fs.readFileSync(elf));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface MultibootFiles {
  dir: string;
  /** The kernel's name relative to dir: 'aout.bin' or 'elf.elf'. */
  kernel: string;
  remove(): void;
}

/** Module 2's bytes: 5000 of them, (i * 7 + 3) & 0xff. */
export function module2(): Uint8Array {
  return Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) & 0xff);
}

/** A directory with the kernel (`kind`) and the modules m1 ("MODULE-ONE-DATA") and m2. */
export function multibootFiles(kind: 'aout' | 'elf'): MultibootFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-multiboot-'));
  const kernel = kind === 'aout' ? 'aout.bin' : 'elf.elf';
  const image = kind === 'aout' ? assemble('multiboot-mbi.S', ['--32', '--defsym', 'AOUT=1']) : assembleElf32('multiboot-mbi.S', 0x200000);
  fs.writeFileSync(path.join(dir, kernel), image);
  fs.writeFileSync(path.join(dir, 'm1'), 'MODULE-ONE-DATA');
  fs.writeFileSync(path.join(dir, 'm2'), module2());
  return { dir, kernel, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `fn` with `dir` as the working directory (for relative -kernel/-initrd names), synchronously. */
export function inDir<T>(dir: string, fn: () => T): T {
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    return fn();
  } finally {
    process.chdir(cwd);
  }
}
