// Linux -kernel on the pc machine (QEMU 7.2 hw/i386/x86.c x86_load_linux):
// the setup, kernel, command line and initrd that lib/x86/boot-linux.ts
// laid out go to fw_cfg as QEMU adds them, with the option ROM that loads
// them and enters the kernel's real-mode setup code (optionrom/linuxboot.S,
// in QEMU's place of linuxboot_dma.bin: fw_cfg DMA is always on here).
import { FwCfgKey, type FwCfgIo } from '../../devices/fw-cfg';
import type { LinuxBoot } from '../../x86/boot-linux';
import { linuxbootRom } from './optionrom/linuxboot-rom';

export const LINUXBOOT_ROM_FILE = 'genroms/linuxboot_dma.bin';
export const LINUXBOOT_BOOT_PATH = `/rom@${LINUXBOOT_ROM_FILE}`;

export function addLinuxFwCfgItems(fwcfg: FwCfgIo, boot: LinuxBoot): void {
  fwcfg.addI32(FwCfgKey.CMDLINE_ADDR, boot.cmdlineAddress);
  fwcfg.addI32(FwCfgKey.CMDLINE_SIZE, boot.cmdline.length);
  fwcfg.addBytes(FwCfgKey.CMDLINE_DATA, boot.cmdline);
  if (boot.initrd !== null) {
    fwcfg.addI32(FwCfgKey.INITRD_ADDR, boot.initrd.address);
    fwcfg.addI32(FwCfgKey.INITRD_SIZE, boot.initrd.data.length);
    fwcfg.addBytes(FwCfgKey.INITRD_DATA, boot.initrd.data);
  }
  fwcfg.addI32(FwCfgKey.KERNEL_ADDR, boot.kernelAddress);
  fwcfg.addI32(FwCfgKey.KERNEL_SIZE, boot.kernel.length);
  fwcfg.addBytes(FwCfgKey.KERNEL_DATA, boot.kernel);
  fwcfg.addI32(FwCfgKey.SETUP_ADDR, boot.setupAddress);
  fwcfg.addI32(FwCfgKey.SETUP_SIZE, boot.setup.length);
  fwcfg.addBytes(FwCfgKey.SETUP_DATA, boot.setup);
  fwcfg.addFile(LINUXBOOT_ROM_FILE, linuxbootRom());
}
