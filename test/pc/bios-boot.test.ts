// SeaBIOS boots a boot sector from a raw IDE disk image on the pc machine:
// it loads sector 0 at 0x7c00, and the boot sector uses the BIOS as real
// ones do (INT 10h output on COM1 with -nographic, INT 13h CHS and LBA reads
// and a CHS write, INT 15h E820), then exits through isa-debug-exit.
// snapshot=on leaves the image file untouched; without it the write reaches
// the file.
import * as fs from 'fs';
import { PassThrough } from 'stream';
import { assemble } from '../helpers/assemble';
import { describeKvm } from '../helpers/kvm';
import { pcMachine } from '../helpers/pc';
import { removeDir, sha256, tempImage } from './ide-rig';

const MiB = 1 << 20;
/** Sectors 5 and 6 of the image: their LBA, then bytes (LBA * 3 + i) mod 256. */
const lbaPattern = (lba: number) => Uint8Array.from({ length: 512 }, (_, i) => (i < 4 ? [0x4c, 0x42, 0x41, 0x30 + lba][i] : (lba * 3 + i) & 0xff));

function bootImage(): { file: string; dir: string } {
  const code = assemble('bios-boot.S', ['--32']);
  return tempImage(8 * MiB, (s) => (s < 3 ? code.subarray(s * 512, s * 512 + 512) : s === 5 || s === 6 ? lbaPattern(s) : null));
}

/** SeaBIOS's own account of the E820 map (its debug log), as [start, end, type]. */
function seabiosE820(log: string): [bigint, bigint, number][] {
  const at = log.lastIndexOf('e820 map has');
  const rows = log.slice(at).split('\n').slice(1).map((l) => /^\s+\d+: ([0-9a-f]{16}) - ([0-9a-f]{16}) = (\d+)/.exec(l));
  return rows.filter((m) => m !== null).map((m) => [BigInt(`0x${m![1]}`), BigInt(`0x${m![2]}`), Number(m![3])]);
}

describeKvm('a boot sector on a raw IDE disk under SeaBIOS', () => {
  jest.setTimeout(120_000);

  test.each([
    ['snapshot=on', true],
    ['writes reach the file', false],
  ])('%s', async (_name, snapshot) => {
    const img = bootImage();
    const before = sha256(img.file);
    const com1 = new PassThrough();
    let serialText = '';
    com1.on('data', (b: Buffer) => { serialText += b.toString('latin1'); });
    const pc = pcMachine({ disks: [{ file: img.file, snapshot }], nographic: true, serial: { output: com1 }, debugExit: { port: 0x501 } });
    try {
      const r = await pc.machine.run({ timeoutMs: 60_000 });
      const m = pc.machine;
      expect({ reason: r.reason, exitCode: r.exitCode, failedStep: m.readGuest(0x604, 1)[0] }).toEqual({ reason: 'debugExit', exitCode: 0x21, failedStep: 0 });
      expect(pc.debugcon()).toContain('Booting from Hard Disk...\nBooting from 0000:7c00');
      expect(m.readGuest(0x600, 1)[0]).toBe(0x80); // DL: the first hard disk
      // INT 13h AH=42h put LBA 5 and 6 at 0x9000
      expect(m.readGuest(0x9000, 1024)).toEqual(Uint8Array.from([...lbaPattern(5), ...lbaPattern(6)]));
      // INT 15h E820 returned the map SeaBIOS printed, entry by entry
      const count = m.readGuest(0x602, 2)[0];
      const raw = m.readGuest(0xa000, count * 20);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const entries = Array.from({ length: count }, (_, i) => {
        const start = dv.getBigUint64(i * 20, true);
        return [start, start + dv.getBigUint64(i * 20 + 8, true), dv.getUint32(i * 20 + 16, true)];
      });
      expect(entries).toEqual(seabiosE820(pc.debugcon()));
      expect(entries[0]).toEqual([0n, 0x9fc00n, 1]);
      // INT 10h text reached COM1 (SeaBIOS's sercon), after SeaBIOS's own banner
      expect(serialText).toContain('SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\nBooting from Hard Disk...\r\n');
      for (const line of ['running at 0x7c00', 'stage 2 loaded by INT 13h AH=02h', 'done']) expect(serialText).toContain(`node-kvm boot sector: ${line}\r\n`);
    } finally {
      pc.machine.close();
    }
    try {
      // INT 13h AH=03h wrote LBA 7 with 0x5a bytes: into the file only without snapshot=on
      const sector7 = fs.readFileSync(img.file).subarray(7 * 512, 8 * 512);
      if (snapshot) {
        expect(sha256(img.file)).toBe(before);
      } else {
        expect(sector7).toEqual(Buffer.alloc(512, 0x5a));
      }
    } finally {
      removeDir(img.dir);
    }
  });
});

describeKvm('PAM under a running guest', () => {
  jest.setTimeout(120_000);

  test('a boot sector flips PAM through PCI config: read-only segments drop writes, PCI segments show the BIOS', async () => {
    const code = assemble('pam-boot.S', ['--32']);
    const img = tempImage(MiB, (s) => (s === 0 ? code : null));
    const pc = pcMachine({ disks: [{ file: img.file, snapshot: true }], debugExit: { port: 0x501 } });
    try {
      const r = await pc.machine.run({ timeoutMs: 60_000 });
      expect({ reason: r.reason, exitCode: r.exitCode }).toEqual({ reason: 'debugExit', exitCode: 0x21 });
      const m = pc.machine;
      const d = m.readGuest(0x600, 0x40);
      const dword = (at: number) => new DataView(d.buffer, d.byteOffset).getUint32(at - 0x600, true);
      // what SeaBIOS left (make_bios_readonly): 0x5a = 0x11, 0x5e = 0x11
      expect([d[0], d[1]]).toEqual([0x11, 0x11]);
      const x0 = dword(0x610);
      expect(dword(0x614)).toBe(x0); // mode 1: the write was dropped
      expect(dword(0x618)).toBe(0x12345678); // mode 3: RAM
      // mode 2 (write enable only): QEMU 7.2 maps RAM for reads too (hw/pci-host/pam.c: "should
      // distinguish read/write cycles"), so the write is read back
      expect(dword(0x61c)).toBe(0x9abcdef0);
      expect([dword(0x620), dword(0x624)]).toEqual([0, 0]); // mode 0: pc.rom (zeros), which drops writes
      expect(dword(0x628)).toBe(0x9abcdef0); // the RAM kept what mode 2 wrote
      // 0xe0000 in mode 0: the isa-bios alias, i.e. the image's bytes at 0x20000 (a 256 KiB image)
      const bios = fs.readFileSync('/usr/share/seabios/bios-256k.bin');
      expect(d.subarray(0x30, 0x40)).toEqual(new Uint8Array(bios.subarray(0x20000, 0x20010)));
      // and the host sees the guest's final PAM: shadow RAM at 0xc0000 read-only again, holding mode 2's value
      expect(new DataView(m.readGuest(0xc0000, 4).buffer).getUint32(0, true)).toBe(0x9abcdef0);
    } finally {
      pc.machine.close();
      removeDir(img.dir);
    }
  });
});
