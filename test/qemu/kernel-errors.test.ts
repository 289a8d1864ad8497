// node-kvm-qemu with -kernel/-initrd that cannot boot prints what
// qemu-system-x86_64 prints for the same files on this host, byte for byte
// but for the program name, and exits with status 1
// (test/fixtures/kernel-boot/errors.txt: QEMU's stderr for each command line,
// its CPUID warning left out). And what QEMU would boot wrongly: an -append
// longer than the kernel takes, one longer than the PVH ROM's buffer.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../helpers/child';
import { linuxBzImage } from '../helpers/linux';
import { KERNEL_BOOT_FIXTURES } from '../helpers/multiboot';
import { pvhElf } from '../helpers/pvh';
import { runQemuExe } from '../helpers/qemu-exe';

const MAGIC = 0x1badb002;
let dir: string;
const rel = (name: string) => path.relative(ROOT, path.join(dir, name));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-kernel-errors-'));
  const pvh64 = pvhElf(64);
  const bz = linuxBzImage();
  const noNote = pvh64.slice();
  noNote[Buffer.from(noNote).indexOf(Buffer.from('Xen\0')) - 4] = 17; // the PHYS32_ENTRY note's type, now another
  const badSum = new Uint8Array(256);
  new DataView(badSum.buffer).setUint32(0, MAGIC, true);
  new DataView(badSum.buffer).setUint32(4, 0x10000, true);
  new DataView(badSum.buffer).setUint32(8, (-(MAGIC + 0x10000) + 1) >>> 0, true);
  const files: Record<string, Uint8Array> = {
    'pvh64.elf': pvh64, bzImage: bz, 'trunc.elf': pvh64.subarray(0, 100), 'nonote.elf': noNote, badsum: badSum,
    bztrunc: bz.subarray(0, 0x300), big: new Uint8Array(20 << 20), pvh32: pvhElf(32),
  };
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** QEMU's answers: "## <arguments>", its stderr lines, "status <n>". */
function qemuCases(): { args: string[]; stderr: string; status: number }[] {
  const text = fs.readFileSync(path.join(KERNEL_BOOT_FIXTURES, 'errors.txt'), 'utf8');
  return text.split('## ').slice(1).map((block) => {
    const lines = block.trimEnd().split('\n');
    return { args: lines[0].split(' '), stderr: lines.slice(1, -1).join('\n'), status: Number(lines[lines.length - 1].split(' ')[1]) };
  });
}

/** node-kvm-qemu's stderr, UTF-8, its warnings left out as they are from QEMU's capture. */
async function ours(args: string[]) {
  const r = await runQemuExe(['-accel', 'kvm', '-display', 'none', '-serial', 'none', '-m', '16', ...args]);
  const stderr = Buffer.from(r.stderr, 'latin1').toString('utf8').split('\n').filter((l) => l !== '' && !l.includes('warning: host doesn\'t support')).join('\n');
  return { status: r.status, stderr };
}

describe('node-kvm-qemu -kernel errors', () => {
  jest.setTimeout(120_000);

  test.each(qemuCases().map((c) => [c.args.join(' '), c] as const))('%s: QEMU\'s message and status', async (_, c) => {
    const files = new Set(['nope', 'pvh64.elf', 'bzImage', 'trunc.elf', 'nonote.elf', 'badsum', 'bztrunc', 'big']);
    const args = c.args.map((a) => (files.has(a) ? rel(a) : a));
    const r = await ours(args);
    const unrel = c.args.filter((a) => files.has(a)).reduce((s, a) => s.split(rel(a)).join(a), r.stderr);
    expect(unrel).toBe(c.stderr.replace(/^qemu-system-x86_64: /gm, 'node-kvm-qemu: '));
    expect(r.status).toBe(c.status);
  });

  test('-append longer than the kernel\'s cmdline_size, or than the PVH ROM\'s 4 KiB: refused (QEMU would cut it short), status 1', async () => {
    const long = 'x'.repeat(3000);
    const linux = await ours(['-kernel', rel('bzImage'), '-append', long]);
    expect(linux).toEqual({ status: 1, stderr: 'node-kvm-qemu: the kernel command line is 3000 bytes, longer than the 2047 this kernel\'s boot protocol 2.0f takes (its cmdline_size): shorten -append' });
    const pvh = await ours(['-kernel', rel('pvh32'), '-append', 'y'.repeat(5000)]);
    expect(pvh).toEqual({ status: 1, stderr: 'node-kvm-qemu: the kernel command line is 5000 bytes; the PVH option ROM\'s buffer holds 4095 (QEMU\'s would overflow): shorten -append' });
  });
});
