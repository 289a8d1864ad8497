// The fw_cfg items QEMU 7.2's pc machine adds, from what the command line
// says: fw_cfg_common_realize (hw/nvram/fw_cfg.c: UUID, NOGRAPHIC, BOOT_MENU,
// etc/boot-fail-wait), fw_cfg_arch_create (hw/i386/fw_cfg.c: NB_CPUS,
// MAX_CPUS, RAM_SIZE, ACPI_TABLES, IRQ0_OVERRIDE, etc/e820, HPET, NUMA), and
// at every machine reset fw_cfg_machine_reset (bootorder, bios-geometry).
//
// Not here, because other parts of the machine add them: etc/acpi/* and
// etc/table-loader, etc/tpm/log (ACPI build), etc/smbios/* (smbios.ts),
// etc/system-states (PIIX4 PM), and user `-fw_cfg name=…` files such as
// etc/sercon-port. QEMU itself never adds etc/sercon-port: with -nographic it
// sets NOGRAPHIC = 1 and SeaBIOS then picks COM1 itself (src/fw/paravirt.c).
import type { FwCfgIo } from '../../devices/fw-cfg';
import { FwCfgKey, le } from '../../devices/fw-cfg';
import { checkOptions, type OptionKeys } from '../../options';
import { encodeE820, pcE820Entries } from './e820';
import type { PcRamSplitInput } from './ram-split';

export interface PcFwCfgOptions {
  /** ms->ram_size: all of -m, in bytes. */
  ramSize: bigint | number;
  /** The below/above-4G split of that RAM (the memory map's lowmem rule). */
  ramSplit: PcRamSplitInput;
  /** -smp: the CPUs present at boot. */
  bootCpus: number;
  /**
   * apic_id_limit: one more than the largest APIC ID of a possible CPU
   * (x86_cpu_apic_id_from_index(maxcpus - 1) + 1). Equals maxcpus when the
   * topology has no gaps in its APIC IDs, which is the default (bootCpus).
   */
  apicIdLimit?: number;
  /** -nographic (QEMU: machine graphics=off): NOGRAPHIC = 1. */
  nographic?: boolean;
  /** -boot menu=on: BOOT_MENU = 1. */
  bootMenu?: boolean;
  /** -boot reboot-timeout=N in ms, -1 (the default) for "never retry". */
  rebootTimeout?: number;
  /** -uuid, 16 bytes (default all zero). */
  uuid?: Uint8Array;
  /** See PcE820Options.amdHyperTransportHole (true for QEMU's default CPU). */
  amdHyperTransportHole: boolean;
}

const PC_FW_CFG_OPTIONS = {
  ramSize: true, ramSplit: true, bootCpus: true, apicIdLimit: true, nographic: true, bootMenu: true,
  rebootTimeout: true, uuid: true, amdHyperTransportHole: true,
} as const satisfies OptionKeys<PcFwCfgOptions>;

/** struct hpet_fw_config without an HPET: count = UINT8_MAX, then 8 zeroed 15-byte entries (hw/i386/fw_cfg.c hpet_cfg). */
const HPET_FW_CONFIG_SIZE = 1 + 8 * 15;

/** Adds the pc machine's items to a new fw_cfg device. */
export function addPcFwCfgItems(fwcfg: FwCfgIo, options: PcFwCfgOptions): void {
  const opts = checkOptions(options, PC_FW_CFG_OPTIONS, 'addPcFwCfgItems()');
  const bootCpus = opts.bootCpus;
  if (!Number.isInteger(bootCpus) || bootCpus < 1 || bootCpus > 0xffff) throw new RangeError(`bootCpus must be an integer from 1 to 65535, got ${String(bootCpus)}`);
  const apicIdLimit = opts.apicIdLimit ?? bootCpus;
  if (!Number.isInteger(apicIdLimit) || apicIdLimit < bootCpus || apicIdLimit > 0xffff) {
    throw new RangeError(`apicIdLimit must be an integer from bootCpus (${bootCpus}) to 65535, got ${String(apicIdLimit)}`);
  }
  const rebootTimeout = opts.rebootTimeout ?? -1;
  // fw_cfg_reboot: -1 or 0..65535.
  if (!Number.isInteger(rebootTimeout) || rebootTimeout < -1 || rebootTimeout > 0xffff) {
    throw new RangeError(`reboot timeout is invalid, it should be a value between -1 and 65535 (got ${String(rebootTimeout)})`);
  }
  const uuid = opts.uuid ?? new Uint8Array(16);
  if (!(uuid instanceof Uint8Array) || uuid.length !== 16) throw new TypeError('uuid must be a Uint8Array of 16 bytes');

  // fw_cfg_common_realize
  fwcfg.addBytes(FwCfgKey.UUID, uuid);
  fwcfg.addI16(FwCfgKey.NOGRAPHIC, opts.nographic ? 1 : 0);
  fwcfg.addI16(FwCfgKey.BOOT_MENU, opts.bootMenu ? 1 : 0);
  fwcfg.addFile('etc/boot-fail-wait', le(BigInt(rebootTimeout >>> 0), 4));

  // fw_cfg_arch_create
  fwcfg.addI16(FwCfgKey.NB_CPUS, bootCpus);
  fwcfg.addI16(FwCfgKey.MAX_CPUS, apicIdLimit);
  fwcfg.addI64(FwCfgKey.RAM_SIZE, opts.ramSize);
  fwcfg.addBytes(FwCfgKey.ACPI_TABLES, new Uint8Array(0)); // no -acpitable
  fwcfg.addI32(FwCfgKey.IRQ0_OVERRIDE, 1);
  fwcfg.addFile('etc/e820', encodeE820(pcE820Entries({ ...opts.ramSplit, amdHyperTransportHole: opts.amdHyperTransportHole })));
  const hpet = new Uint8Array(HPET_FW_CONFIG_SIZE);
  hpet[0] = 0xff; // no HPET device (-M pc,hpet=off)
  fwcfg.addBytes(FwCfgKey.HPET, hpet);
  // NUMA: the node count (0 without -numa), then the node of each APIC ID (all 0).
  fwcfg.addBytes(FwCfgKey.NUMA, new Uint8Array((1 + apicIdLimit) * 8));
}

/**
 * fw_cfg_machine_reset, run at every machine reset: `bootorder` lists the
 * OpenFirmware paths of the bootindex devices (get_boot_devices_list: joined
 * by newlines, NUL-terminated; "HALT" appended with -boot strict=on), and
 * `bios-geometry` the LCHS overrides (none supported: always empty). The
 * first reset adds both files.
 */
export function pcFwCfgMachineReset(fwcfg: FwCfgIo, bootDevicePaths: readonly string[] = [], strict = false): void {
  const paths = [...bootDevicePaths];
  if (strict && paths.length > 0) paths.push('HALT');
  const list = paths.length === 0 ? new Uint8Array(0) : new TextEncoder().encode(`${paths.join('\n')}\0`);
  fwcfg.modifyFile('bootorder', list);
  fwcfg.modifyFile('bios-geometry', new Uint8Array(0));
}
