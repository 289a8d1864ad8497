// PVH test kernels: test/guests/pvh-start-info.S linked at 0x200000 as an
// ELF32 or, like Linux's vmlinux, as an ELF64 of 32-bit code, its
// XEN_ELFNOTE_PHYS32_ENTRY note in a PT_NOTE segment at 0x202000 (as the
// QEMU captures in test/fixtures/kernel-boot/pvh-*.txt were built).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GUESTS } from './assemble';

export function pvhElf(bits: 32 | 64): Uint8Array {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-pvh-'));
  try {
    const obj = path.join(dir, 'guest.o');
    const elf = path.join(dir, 'guest.elf');
    execFileSync('as', [...(bits === 32 ? ['--32'] : ['--64', '--defsym', 'ELF64=1']), '-I', GUESTS, '-o', obj, path.join(GUESTS, 'pvh-start-info.S')]);
    execFileSync('ld', ['-m', bits === 32 ? 'elf_i386' : 'elf_x86_64', '-Ttext=0x200000', '--section-start=.note.Xen=0x202000', '-e', 'start', '--build-id=none', '-z', 'noseparate-code', '-o', elf, obj]);
    return new Uint8Array(fs.readFileSync(elf));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * pvh-start-info.S's report, made comparable with QEMU's, as
 * test/pc/multiboot-boot.test.ts does for multiboot: EFLAGS keeps only IF,
 * DF, TF and VM (the rest is what the ROM's last instruction left); the RSDP
 * is where SeaBIOS put it (checked: 16-byte aligned in 0xe0000-0xfffff, its
 * signature printed after); the RAM entry at 1 MiB and the reserved one
 * after it end where SeaBIOS's tables begin, which depends on the board's
 * ACPI tables (checked: they meet, and the reserved one ends where QEMU's
 * does).
 */
export function comparablePvh(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/^eflags=([0-9a-f]{8})$/, (_, v: string) => `eflags&0x20700=${(parseInt(v, 16) & 0x20700).toString(16).padStart(8, '0')}`));
  const rsdp = lines.findIndex((l) => l.startsWith('start_info[00000008:'));
  const rsdpAddr = parseInt(lines[rsdp].split(':')[1], 16);
  if (rsdpAddr !== 0) {
    if (rsdpAddr % 16 !== 0 || rsdpAddr < 0xe0000 || rsdpAddr > 0xfffff) throw new Error(`rsdp_paddr ${rsdpAddr.toString(16)} is not in the BIOS area`);
    lines[rsdp] = 'start_info[00000008:(rsdp_paddr in the BIOS area)';
  }
  const words = (l: string) => l.slice(7).trim().split(' ').map((x) => parseInt(x, 16));
  const ram = lines.findIndex((l) => l.startsWith('memmap ') && words(l)[0] === 0x100000 && words(l)[1] === 0 && words(l)[4] === 1);
  if (ram < 0) throw new Error(`no RAM entry at 1 MiB in:\n${text}`);
  const r = words(lines[ram]);
  const res = words(lines[ram + 1]);
  if (res[0] !== 0x100000 + r[2] || res[4] !== 2) throw new Error(`the entry after RAM at 1 MiB is not the reserved BIOS tables:\n${text}`);
  lines[ram] = 'memmap (RAM from 1 MiB to the BIOS tables)';
  lines[ram + 1] = `memmap (the BIOS tables, reserved up to ${(res[0] + res[2]).toString(16)})`;
  return lines.join('\n');
}
