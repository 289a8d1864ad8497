// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst) as QEMU 7.2
// applies it for -kernel (hw/i386/x86.c x86_load_linux): the setup header
// of a bzImage, where the real-mode setup, the command line and the
// protected-mode kernel go for the protocol version, the fields a boot
// loader fills in (cmd_line_ptr, type_of_loader, heap_end_ptr, vid_mode,
// ramdisk_image/size), and the initrd's place below initrd_addr_max.
//
// Pure: this module reads images and lays out bytes. The pc machine hands
// the result to its option ROM through fw_cfg (linuxboot.S), which enters
// the real-mode setup code as QEMU's linuxboot_dma.bin does.
import { hex } from '../util/hex';
import { initrdAddress } from './boot-pvh';
import { KernelImageError } from './kernel-image-error';

/** "HdrS" at 0x202: the image has a setup header (protocol 2.00 and later). */
export const LINUX_HDRS = 0x53726448;
/** Setup header offsets (boot.rst "THE REAL-MODE KERNEL HEADER"). */
export const SetupHeader = {
  setup_sects: 0x1f1,
  vid_mode: 0x1fa,
  boot_flag: 0x1fe,
  header: 0x202,
  version: 0x206,
  type_of_loader: 0x210,
  loadflags: 0x211,
  code32_start: 0x214,
  ramdisk_image: 0x218,
  ramdisk_size: 0x21c,
  heap_end_ptr: 0x224,
  cmd_line_ptr: 0x228,
  initrd_addr_max: 0x22c,
  xloadflags: 0x236,
  cmdline_size: 0x238,
} as const;
/** loadflags */
export const LOADED_HIGH = 0x01;
export const CAN_USE_HEAP = 0x80;
/** xloadflags */
export const XLF_KERNEL_64 = 0x01;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;
/** type_of_loader: QEMU's id 0xB, revision 0. */
const LOADER_QEMU = 0xb0;
/** The old command line protocol's magic at 0x20 (protocol < 2.02). */
const OLD_CL_MAGIC = 0xa33f;
const UTF8 = new TextEncoder();

export interface LinuxBootInput {
  image: Uint8Array;
  cmdline: string;
  /** The initrd's bytes, or null. */
  initrd: Uint8Array | null;
  /** QEMU's below_4g_mem_size - acpi_data_size: initrd_max is kept below it. */
  initrdLimit: bigint;
}

/** What goes where (QEMU's fw_cfg SETUP/KERNEL/CMDLINE/INITRD items). */
export interface LinuxBoot {
  protocol: number;
  /** The real-mode setup (boot sector, header filled in, setup code) and its address (real_addr). */
  setup: Uint8Array;
  setupAddress: number;
  /** The protected-mode kernel (the rest of the file) and its address (prot_addr). */
  kernel: Uint8Array;
  kernelAddress: number;
  /** The command line, NUL-terminated, and its address. */
  cmdline: Uint8Array;
  cmdlineAddress: number;
  initrd: { data: Uint8Array; address: number } | null;
}

/** The image's boot protocol version: 0 when it has no setup header (a zImage of before 2.00). */
export function linuxProtocol(image: Uint8Array): number {
  if (image.length < 0x208) return 0;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return dv.getUint32(SetupHeader.header, true) === LINUX_HDRS ? dv.getUint16(SetupHeader.version, true) : 0;
}

/**
 * The highest address the initrd may end at (x86_load_linux's initrd_max):
 * the header's initrd_addr_max (2.03+; 4 GiB - 1 with
 * XLF_CAN_BE_LOADED_ABOVE_4G, 2.12+; 0x37ffffff before 2.03), kept below
 * `initrdLimit` (below_4g_mem_size - acpi_data_size).
 */
export function linuxInitrdMax(image: Uint8Array, initrdLimit: bigint): bigint {
  const protocol = linuxProtocol(image);
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let max: bigint;
  if (protocol >= 0x20c && image.length >= 0x238 && dv.getUint16(SetupHeader.xloadflags, true) & XLF_CAN_BE_LOADED_ABOVE_4G) max = 0xffffffffn;
  else if (protocol >= 0x203 && image.length >= 0x230) max = BigInt(dv.getUint32(SetupHeader.initrd_addr_max, true));
  else max = 0x37ffffffn;
  return max >= initrdLimit ? initrdLimit - 1n : max;
}

/** The vga= kernel parameter as QEMU reads it into vid_mode, null when absent. */
function vgaMode(cmdline: string): number | null {
  const at = cmdline.indexOf('vga=');
  if (at < 0) return null;
  const v = cmdline.slice(at + 4);
  if (v.startsWith('normal')) return 0xffff;
  if (v.startsWith('ext')) return 0xfffe;
  if (v.startsWith('ask')) return 0xfffd;
  // qemu_strtoui(vmode, &end, 0, ...): C's base-0 number, then the end or a space
  const m = /^(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))(.*)$/s.exec(v);
  const n = m === null ? NaN : m[1] !== undefined ? parseInt(m[1], 16) : m[2] !== undefined ? parseInt(m[2], 8) : parseInt(m[3], 10);
  if (m === null || !(n <= 0xffffffff) || (m[4] !== '' && m[4][0] !== ' ')) {
    throw new KernelImageError('invalid \'vga=\' kernel parameter.', 'qemu: invalid \'vga=\' kernel parameter.');
  }
  return n & 0xffff;
}

/** QEMU's fprintf(stderr, "qemu: ...") errors: the message and QEMU's text. */
function qemuError(text: string, advice: string): KernelImageError {
  return new KernelImageError(`${text}: ${advice}`, `qemu: ${text}`);
}

/**
 * x86_load_linux for a kernel with a setup header (or a zImage, protocol 0):
 * the header's copy filled in as QEMU fills it, the parts and their places.
 */
export function loadLinux(input: LinuxBootInput): LinuxBoot {
  const { image } = input;
  const protocol = linuxProtocol(image);
  const header = new Uint8Array(8192);
  header.set(image.subarray(0, 8192));
  const dv = new DataView(header.buffer);
  const cmdline = UTF8.encode(`${input.cmdline}\0`);
  const cmdlineSize = (cmdline.length - 1 + 16) & ~15;
  // boot.rst: the kernel reads at most cmdline_size bytes (2.06+), 255 before. QEMU passes a longer one
  // on and the kernel cuts it short; refused here, so what the kernel sees is what was asked for.
  const cmdlineMax = protocol >= 0x206 ? dv.getUint32(SetupHeader.cmdline_size, true) : 255;
  if (cmdline.length - 1 > cmdlineMax) {
    throw new KernelImageError(`the kernel command line is ${cmdline.length - 1} bytes, longer than the ${cmdlineMax} this kernel's boot protocol ${(protocol >> 8).toString(16)}.${(protocol & 0xff).toString(16).padStart(2, '0')} takes (its cmdline_size): shorten -append`);
  }

  let realAddr: number, cmdlineAddr: number, protAddr: number;
  if (protocol < 0x200 || !(header[SetupHeader.loadflags] & LOADED_HIGH)) {
    realAddr = 0x90000; cmdlineAddr = 0x9a000 - cmdlineSize; protAddr = 0x10000; // a low kernel
  } else if (protocol < 0x202) {
    realAddr = 0x90000; cmdlineAddr = 0x9a000 - cmdlineSize; protAddr = 0x100000; // high but ancient
  } else {
    realAddr = 0x10000; cmdlineAddr = 0x20000; protAddr = 0x100000; // high and recent
  }

  const initrdMax = linuxInitrdMax(image, input.initrdLimit);

  if (protocol >= 0x202) {
    dv.setUint32(SetupHeader.cmd_line_ptr, cmdlineAddr, true);
  } else {
    dv.setUint16(0x20, OLD_CL_MAGIC, true);
    dv.setUint16(0x22, cmdlineAddr - realAddr, true);
  }
  const vga = vgaMode(input.cmdline);
  if (vga !== null) dv.setUint16(SetupHeader.vid_mode, vga, true);
  if (protocol >= 0x200) header[SetupHeader.type_of_loader] = LOADER_QEMU;
  if (protocol >= 0x201) {
    header[SetupHeader.loadflags] |= CAN_USE_HEAP;
    dv.setUint16(SetupHeader.heap_end_ptr, cmdlineAddr - realAddr - 0x200, true);
  }

  let initrd: LinuxBoot['initrd'] = null;
  if (input.initrd !== null) {
    if (protocol < 0x200) throw qemuError('linux kernel too old to load a ram disk', 'boot it without -initrd');
    const address = Number(initrdAddress(BigInt(input.initrd.length), initrdMax));
    initrd = { data: input.initrd, address };
    dv.setUint32(SetupHeader.ramdisk_image, address, true);
    dv.setUint32(SetupHeader.ramdisk_size, input.initrd.length, true);
  }

  const sects = header[SetupHeader.setup_sects] === 0 ? 4 : header[SetupHeader.setup_sects];
  const setupSize = (sects + 1) * 512;
  if (setupSize > image.length) throw qemuError('invalid kernel header', `the image is ${image.length} bytes, shorter than its ${setupSize}-byte setup: it is truncated or not a Linux kernel`);
  const setup = new Uint8Array(setupSize);
  setup.set(image.subarray(0, setupSize));
  setup.set(header.subarray(0, Math.min(8192, setupSize)));
  const kernel = image.subarray(setupSize);
  if (protAddr + kernel.length > Number(input.initrdLimit)) {
    throw new KernelImageError(`the kernel (${kernel.length} bytes at ${hex(protAddr)}) does not fit in the RAM below 4 GiB: give the machine more memory`);
  }
  return { protocol, setup, setupAddress: realAddr, kernel, kernelAddress: protAddr, cmdline, cmdlineAddress: cmdlineAddr, initrd };
}

/** boot_params (the "zero page", arch/x86/include/uapi/asm/bootparam.h): where the E820 table and the header go. */
export const BOOT_PARAMS_SIZE = 4096;
const E820_ENTRIES_OFFSET = 0x1e8;
const E820_TABLE_OFFSET = 0x2d0;
/** E820_MAX_ENTRIES_ZEROPAGE */
export const ZEROPAGE_E820_MAX = 128;

export interface LinuxDirectBootInput {
  image: Uint8Array;
  cmdline: string;
  initrd: Uint8Array | null;
  /** The memory map the kernel gets (E820 types). */
  e820: readonly { address: bigint; length: bigint; type: number }[];
  /** Where boot_params goes: 0x7000 by default. */
  zeroPageAddress?: bigint;
}

export interface LinuxDirectBoot {
  boot: LinuxBoot;
  /** Everything to write before the vCPU starts: the kernel, the cmdline, the initrd, boot_params. */
  writes: { address: bigint; bytes: Uint8Array }[];
  /**
   * How to enter it (boot.rst "64-bit BOOT PROTOCOL" and "32-bit BOOT
   * PROTOCOL"): long mode with the kernel identity-mapped, at the kernel's
   * load address + 0x200, when the header says XLF_KERNEL_64 (2.12+); else
   * flat 32-bit protected mode, paging off, at code32_start. Either way
   * RSI/ESI = boot_params, interrupts off; the 32-bit protocol also wants
   * CS/DS/ES/SS flat with __BOOT_CS 0x10 and __BOOT_DS 0x18 selectors.
   */
  entry: { mode: 'long' | 'protected'; rip: bigint; rsi: bigint };
}

/**
 * A bzImage booted without firmware and without its real-mode setup (what
 * QEMU's microvm and Firecracker do): the kernel and initrd placed as
 * x86_load_linux places them, and a boot_params of the header as the loader
 * filled it in plus the E820 table, which the setup code would otherwise
 * have read from the BIOS.
 */
export function linuxDirectBoot(input: LinuxDirectBootInput): LinuxDirectBoot {
  if (!Array.isArray(input.e820)) throw new TypeError('e820 must be an array of { address, length, type }');
  if (input.e820.length > ZEROPAGE_E820_MAX) throw new RangeError(`e820 has ${input.e820.length} entries; boot_params holds ${ZEROPAGE_E820_MAX}`);
  const protocol = linuxProtocol(input.image);
  if (protocol < 0x206) throw new KernelImageError(`the kernel's boot protocol is ${(protocol >> 8).toString(16)}.${(protocol & 0xff).toString(16).padStart(2, '0')}: booting it without its real-mode setup needs 2.06 or later`);
  const top = input.e820.reduce((m, e) => (e.type === 1 && e.address < 1n << 32n ? (e.address + e.length > m ? e.address + e.length : m) : m), 0n);
  const boot = loadLinux({ image: input.image, cmdline: input.cmdline, initrd: input.initrd, initrdLimit: top > 1n << 32n ? 1n << 32n : top });
  const zeroPage = input.zeroPageAddress ?? 0x7000n;
  const params = new Uint8Array(BOOT_PARAMS_SIZE);
  // the header runs from 0x1f1 to the end the jump at 0x200 gives (boot.rst: 0x202 + the byte at 0x201)
  const headerEnd = Math.min(0x202 + boot.setup[0x201], boot.setup.length);
  params.set(boot.setup.subarray(SetupHeader.setup_sects, headerEnd), SetupHeader.setup_sects);
  const dv = new DataView(params.buffer);
  params[E820_ENTRIES_OFFSET] = input.e820.length;
  input.e820.forEach((e, i) => {
    const at = E820_TABLE_OFFSET + i * 20;
    dv.setBigUint64(at, e.address, true);
    dv.setBigUint64(at + 8, e.length, true);
    dv.setUint32(at + 16, e.type, true);
  });
  const writes = [
    { address: BigInt(boot.kernelAddress), bytes: boot.kernel },
    { address: BigInt(boot.cmdlineAddress), bytes: boot.cmdline },
    ...(boot.initrd === null ? [] : [{ address: BigInt(boot.initrd.address), bytes: boot.initrd.data }]),
    { address: zeroPage, bytes: params },
  ];
  const kernel64 = protocol >= 0x20c && (dv.getUint16(SetupHeader.xloadflags, true) & XLF_KERNEL_64) !== 0;
  const code32 = BigInt(dv.getUint32(SetupHeader.code32_start, true));
  return {
    boot,
    writes,
    entry: kernel64 ? { mode: 'long', rip: BigInt(boot.kernelAddress) + 0x200n, rsi: zeroPage } : { mode: 'protected', rip: code32, rsi: zeroPage },
  };
}
