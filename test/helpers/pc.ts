// The `pc` memory map as the tests compare it with QEMU: the real SeaBIOS
// image, the device MMIO placeholders QEMU's map has, guest-style PCI
// configuration accesses, and the fixtures captured from QEMU 7.2.
import * as fs from 'fs';
import * as path from 'path';
import { AddressSpace, MemoryRegion, formatMtree } from '../../lib/memory';
import { PcMemoryMap } from '../../lib/machines/pc/memory-map';
import { Machine, type MachineOptions } from '../../lib/machine';
import type { RunResult } from '../../lib/kvm/run-loop';

export const SEABIOS_PATH = '/usr/share/seabios/bios-256k.bin';
export const PC_FIXTURES = path.resolve(__dirname, '../fixtures/qemu-pc');

/** Debian's SeaBIOS 1.16.2; a missing image fails the test with the package to install. */
export function seabios(): Buffer {
  if (!fs.existsSync(SEABIOS_PATH)) {
    throw new Error(`${SEABIOS_PATH} is missing: install Debian's package \`seabios\` (apt-get install seabios)`);
  }
  return fs.readFileSync(SEABIOS_PATH);
}

export function fixture(rel: string): string {
  return fs.readFileSync(path.join(PC_FIXTURES, rel), 'utf8');
}

export interface TestPc {
  map: PcMemoryMap;
  /** the vCPU's address space QEMU has beside "memory" (same root) */
  cpu: AddressSpace;
  close(): void;
}

/**
 * The map with the two device regions QEMU's "memory" tree shows, as bare
 * placeholders (plain io regions, no ops, QEMU's size and priority):
 * kvm-ioapic (hw/i386/x86.c ioapic_init_gsi) and kvm-apic-msi (prio 4096,
 * target/i386/cpu-sysemu.c).  They belong to the IOAPIC and LAPIC models.
 */
export function testPc(ramSize: bigint, options: { maxRamBelow4g?: bigint } = {}): TestPc {
  const map = new PcMemoryMap({ ramSize, bios: seabios(), ...options });
  const ioapic = MemoryRegion.io('kvm-ioapic', 0x1000);
  const apicMsi = MemoryRegion.io('kvm-apic-msi', 0x100000);
  map.system.addSubregion(0xfec00000n, ioapic);
  map.system.addSubregionOverlap(0xfee00000n, apicMsi, 4096);
  const cpu = new AddressSpace(map.system, 'cpu-memory-0');
  return {
    map,
    cpu,
    close() {
      cpu.destroy();
      ioapic.close();
      apicMsi.close();
      map.close();
    },
  };
}

/** `info mtree -D` for the "memory" address space (its block and the memory-region blocks), as in the fixtures */
export function memoryTreeD(pc: TestPc): string {
  return formatMtree([pc.map.memory, pc.cpu], { disabled: true }).replace(/\n+$/, '\n');
}

/** The FlatView block of "memory" in `info mtree -f`, without its "FlatView #n" line */
export function memoryFlatView(pc: TestPc): string {
  return formatMtree([pc.map.memory, pc.cpu], { flat: true }).split('\n').slice(1).join('\n').replace(/\n+$/, '\n');
}

/** CONFIG_ADDRESS for bus 0 */
export function configAddress(devfn: number, reg: number): number {
  return (0x80000000 | (devfn << 8) | (reg & 0xfc)) >>> 0;
}

function le(value: number, len: number): number[] {
  return Array.from({ length: len }, (_, i) => Math.floor(value / 2 ** (8 * i)) & 0xff);
}

/** What a guest does: outl 0xcf8, then an access of `len` bytes at 0xcfc + (reg & 3). */
export function configWrite(io: AddressSpace, devfn: number, reg: number, value: number, len: 1 | 2 | 4): void {
  io.write(0xcf8, le(configAddress(devfn, reg), 4));
  io.write(0xcfc + (reg & 3), le(value, len));
}

export function configRead(io: AddressSpace, devfn: number, reg: number, len: 1 | 2 | 4): number {
  io.write(0xcf8, le(configAddress(devfn, reg), 4));
  const { data } = io.read(0xcfc + (reg & 3), len);
  return data.reduceRight((v, b) => v * 256 + b, 0);
}

/** One function's 256 config bytes from a pci-cmos dump: state 'reset' or 'after-POST', function e.g. '0000' */
export function pciDump(file: string, state: string, fn: string): Uint8Array {
  const text = fixture(`pci-cmos/${file}`);
  const begin = text.indexOf(`DUMP-BEGIN(${state})`);
  if (begin < 0) throw new Error(`no ${state} dump in ${file}`);
  const lines = text.slice(begin).split('\n');
  const at = lines.indexOf(`PCI ${fn}`);
  if (at < 0) throw new Error(`no PCI ${fn} in the ${state} dump of ${file}`);
  const out = new Uint8Array(256);
  for (let row = 0; row < 16; row++) {
    const [, bytes] = lines[at + 1 + row].split(': ');
    bytes.trim().split(' ').forEach((b, i) => { out[row * 16 + i] = parseInt(b, 16); });
  }
  return out;
}

export const RESET_DUMP = 'reset-state-m128-pci-cmos-cpuid-dump.txt';
export const POST_DUMP = 'after-post-m128-with-disk-pci-cmos-e820-dump.txt';

/** The blank-line separated blocks of a monitor answer. */
function textBlocks(text: string): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else {
      cur.push(line);
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * From an `info mtree -f` answer, the FlatView block of AS "memory" without its
 * "FlatView #n" line (what capture.py stores as memory-flatview.txt).
 */
export function memoryFlatViewOf(infoMtreeF: string): string {
  const b = textBlocks(infoMtreeF).find((x) => x[0].startsWith('FlatView #') && x.includes(' AS "memory", root: system'));
  if (!b) throw new Error('no FlatView block for AS "memory"');
  return `${b.slice(1).join('\n')}\n`;
}

/**
 * From an `info mtree -D` answer, the address-space block holding "memory"
 * and the memory-region blocks of pc.ram, pc.bios and pci (capture.py's memory-tree-D.txt).
 */
export function memoryTreeDOf(infoMtreeD: string): string {
  const bs = textBlocks(infoMtreeD);
  const tree = bs.find((b) => b.includes('address-space: memory'));
  if (!tree) throw new Error('no address-space block for "memory"');
  const regions = new Map(bs.filter((b) => b[0].startsWith('memory-region: ')).map((b) => [b[0].slice('memory-region: '.length), b]));
  return `${[tree, ...['pc.ram', 'pc.bios', 'pci'].map((n) => regions.get(n) ?? [`(no memory-region block ${n})`])].map((b) => b.join('\n')).join('\n\n')}\n`;
}

export const NO_BOOTABLE_DEVICE = 'No bootable device.';

export interface PcBoot {
  machine: Machine;
  /** What the firmware wrote to the isa-debugcon (port 0x402). */
  debugcon(): string;
  /** Runs until the debugcon shows `marker` (then the run stops) or `timeoutMs` passes. */
  runUntil(marker: string, timeoutMs?: number): Promise<RunResult>;
}

/** A pc machine with SeaBIOS's debug port (0x402) recorded; `options` are Machine.create()'s. */
export function pcMachine(options: Omit<MachineOptions, 'machine' | 'debugcon'> = {}): PcBoot {
  let log = '';
  let wanted: string | null = null;
  const machine: Machine = Machine.createSync({
    machine: 'pc', serial: false, ...options,
    debugcon: {
      output: (b) => {
        log += String.fromCharCode(b);
        if (wanted !== null && log.endsWith(wanted)) {
          wanted = null;
          machine.stop('marker');
        }
      },
    },
  });
  return {
    machine,
    debugcon: () => log,
    async runUntil(marker, timeoutMs = 60_000) {
      wanted = marker;
      const from = log.length;
      const r = await machine.run({ timeoutMs });
      if (!log.slice(from).includes(marker)) {
        throw new Error(`no "${marker}" on the debugcon: the run ended with ${r.reason} (${r.message}); the log ends with:\n${log.slice(-2000)}`);
      }
      return r;
    },
  };
}

/**
 * What SeaBIOS 1.16.2 writes to the PIIX3 (00:01.0), its IDE function (00:01.1)
 * and the PIIX4 PM (00:01.3) during POST (pc-machine.md §1, src/fw/pciinit.c).
 */
export function seabiosSouthbridgePost(x: AddressSpace): void {
  // PIIX3: piix_isa_bridge_setup, then the command register
  [10, 10, 11, 11].forEach((irq, i) => configWrite(x, 0x08, 0x60 + i, irq, 1));
  x.write(0x4d0, [0x00]);
  x.write(0x4d1, [0x0c]);
  configWrite(x, 0x08, 0x04, 0x0103, 2);
  // IDE: BAR 4 sized and placed, decode timings on both channels
  configWrite(x, 0x09, 0x20, 0xffffffff, 4);
  expect(configRead(x, 0x09, 0x20, 4)).toBe(0xfffffff1);
  configWrite(x, 0x09, 0x20, 0xc000, 4);
  configWrite(x, 0x09, 0x40, 0x8000, 2);
  configWrite(x, 0x09, 0x42, 0x8000, 2);
  configWrite(x, 0x09, 0x04, 0x0103, 2);
  // PIIX4 PM: interrupt line, PM base 0x600, SMBus base 0x700
  configWrite(x, 0x0b, 0x3c, 0x0a, 1);
  configWrite(x, 0x0b, 0x3c, 0x09, 1);
  configWrite(x, 0x0b, 0x40, 0x601, 4);
  configWrite(x, 0x0b, 0x80, 0x01, 1);
  configWrite(x, 0x0b, 0x90, 0x701, 4);
  configWrite(x, 0x0b, 0xd2, 0x09, 1);
  configWrite(x, 0x0b, 0x04, 0x0103, 2);
}
