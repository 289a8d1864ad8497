// The Linux test kernel: test/guests/linux-bzimage.S, a bzImage-format image
// with a real setup header (as the QEMU captures in
// test/fixtures/kernel-boot/linux-*.txt were built).
import { assemble } from './assemble';

export function linuxBzImage(): Uint8Array {
  return assemble('linux-bzimage.S', ['--32']);
}

/**
 * linux-bzimage.S's report, made comparable with QEMU's: EFLAGS at entry
 * keeps IF, DF, TF and VM; the E820 RAM entry at 1 MiB and the reserved one
 * after it end where SeaBIOS's tables begin, which depends on the board's
 * ACPI tables (checked: they meet); and the initrd, which the option ROM
 * puts below the top of RAM that INT 15h E801 reports (64 KiB blocks, so
 * that end rounded down to 64 KiB), is checked to be there.
 */
export function comparableLinux(text: string): string {
  const lines = text.split('\n');
  const eflags = lines.findIndex((l) => l.startsWith('entry[00000034:'));
  lines[eflags] = `entry[00000034:(eflags&0x20700=${(parseInt(lines[eflags].split(':')[1], 16) & 0x20700).toString(16)})`;
  const words = (l: string) => l.slice(5).trim().split(' ').map((x) => parseInt(x, 16));
  const ram = lines.findIndex((l) => l.startsWith('e820 ') && words(l)[0] === 0x100000 && words(l)[1] === 0 && words(l)[4] === 1);
  if (ram < 0) throw new Error(`no RAM entry at 1 MiB in:\n${text}`);
  const r = words(lines[ram]);
  const res = words(lines[ram + 1]);
  if (res[0] !== 0x100000 + r[2] || res[4] !== 2) throw new Error(`the entry after RAM at 1 MiB is not the reserved BIOS tables:\n${text}`);
  lines[ram] = 'e820 (RAM from 1 MiB to the BIOS tables)';
  lines[ram + 1] = `e820 (the BIOS tables, reserved up to ${(res[0] + res[2]).toString(16)})`;
  const initrd = lines.findIndex((l) => l.startsWith('initrd '));
  const [addr, size] = lines[initrd].slice(7).split(' ').map((x) => parseInt(x, 16));
  if (size !== 0) {
    const top = Math.floor((0x100000 + r[2]) / 0x10000) * 0x10000;
    if (addr !== Math.floor((top - size) / 0x1000) * 0x1000) throw new Error(`the initrd at ${addr.toString(16)} is not below the E801 top ${top.toString(16)}:\n${text}`);
    lines[initrd] = lines[initrd].replace(/^initrd [0-9a-f]{8}/, 'initrd (below the E801 top)');
    const image = lines.findIndex((l) => l.startsWith('hdr[00000218:'));
    lines[image] = 'hdr[00000218:(ramdisk_image: the initrd)';
  }
  return lines.join('\n');
}
