// PVH -kernel on the pc machine (QEMU 7.2 hw/i386/x86.c x86_load_linux's
// load_elfboot branch): an ELF with the XEN_ELFNOTE_PHYS32_ENTRY note. QEMU
// puts the entry, the cmdline, the file's first 8 KiB (SETUP_DATA) and the
// initrd into fw_cfg and boots genroms/pvh.bin, which builds hvm_start_info
// (optionrom/pvh.S). QEMU loads the ELF's segments into RAM itself; here
// they go to fw_cfg's KERNEL_DATA (from KERNEL_ADDR, KERNEL_SIZE bytes, gaps
// zeroed) and the ROM copies them, so the guest finds the same memory.
import { FwCfgKey, type FwCfgIo } from '../../devices/fw-cfg';
import { type PvhImage } from '../../x86/boot-pvh';
import { KernelImageError } from '../../x86/kernel-image-error';
import { pvhRom } from './optionrom/pvh-rom';

export const PVH_ROM_FILE = 'genroms/pvh.bin';
export const PVH_BOOT_PATH = `/rom@${PVH_ROM_FILE}`;
/** pvh_main.c's CMDLINE_BUFSIZE: the command line and its NUL must fit. */
export const PVH_CMDLINE_BUFSIZE = 4096;
/** x86_load_linux's header[8192]: what SETUP_DATA holds for a PVH kernel. */
const HEADER_SIZE = 8192;
const UTF8 = new TextEncoder();

export interface PcPvhInput {
  image: Uint8Array;
  elf: PvhImage;
  cmdline: string;
  /** The -initrd file's bytes and where they go (initrdAddress), or null. */
  initrd: { data: Uint8Array; address: bigint } | null;
}

/** The fw_cfg items of a PVH boot; the cmdline is checked against the ROM's buffer. */
export function pcPvhFwCfgItems(input: PcPvhInput): (fwcfg: FwCfgIo) => void {
  const cmdline = UTF8.encode(`${input.cmdline}\0`);
  if (cmdline.length > PVH_CMDLINE_BUFSIZE) {
    throw new KernelImageError(`the kernel command line is ${cmdline.length - 1} bytes; the PVH option ROM's buffer holds ${PVH_CMDLINE_BUFSIZE - 1} (QEMU's would overflow): shorten -append`);
  }
  const { elf } = input;
  const size = Number(elf.high - elf.low);
  const kernel = new Uint8Array(size);
  for (const s of elf.segments) kernel.set(s.data, Number(s.paddr - elf.low));
  const header = new Uint8Array(HEADER_SIZE);
  header.set(input.image.subarray(0, HEADER_SIZE));
  return (fwcfg) => {
    fwcfg.addI32(FwCfgKey.KERNEL_ENTRY, elf.entry);
    fwcfg.addI32(FwCfgKey.KERNEL_ADDR, Number(elf.low));
    fwcfg.addI32(FwCfgKey.KERNEL_SIZE, size);
    fwcfg.addBytes(FwCfgKey.KERNEL_DATA, kernel);
    fwcfg.addI32(FwCfgKey.CMDLINE_SIZE, cmdline.length);
    fwcfg.addBytes(FwCfgKey.CMDLINE_DATA, cmdline);
    fwcfg.addI32(FwCfgKey.SETUP_SIZE, HEADER_SIZE);
    fwcfg.addBytes(FwCfgKey.SETUP_DATA, header);
    if (input.initrd !== null) {
      fwcfg.addI32(FwCfgKey.INITRD_ADDR, Number(input.initrd.address));
      fwcfg.addI32(FwCfgKey.INITRD_SIZE, input.initrd.data.length);
      fwcfg.addBytes(FwCfgKey.INITRD_DATA, input.initrd.data);
    }
    fwcfg.addFile(PVH_ROM_FILE, pvhRom());
  };
}
