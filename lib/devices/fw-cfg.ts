// QEMU's fw_cfg device in its x86 I/O-port form (TYPE_FW_CFG_IO, hw/nvram/fw_cfg.c):
// the firmware selects an item with a 16-bit write to 0x510 and reads its
// bytes one by one from 0x511, or hands the device a FWCfgDmaAccess
// descriptor through the DMA register at 0x514 (fw-cfg-dma.ts). Items are
// numbered keys (FW_CFG_*) and named files listed in the FILE_DIR item.
//
// Items are configuration the board adds before the guest runs; the only
// guest-visible state is the selected key, the read offset and the DMA
// address, which is what saveState() keeps (QEMU's vmstate_fw_cfg).
import type { AddressSpace } from '../memory/address-space';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import { hex } from '../util/hex';
import { toU64, toUint } from '../util/integers';
import type { Device, DeviceMapping } from './device';
import { FwCfgDma } from './fw-cfg-dma';

/** Selector keys (include/standard-headers/linux/qemu_fw_cfg.h, hw/i386/fw_cfg.h). */
export const FwCfgKey = {
  SIGNATURE: 0x00,
  ID: 0x01,
  UUID: 0x02,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  MACHINE_ID: 0x06,
  KERNEL_ADDR: 0x07,
  KERNEL_SIZE: 0x08,
  KERNEL_CMDLINE: 0x09,
  INITRD_ADDR: 0x0a,
  INITRD_SIZE: 0x0b,
  BOOT_DEVICE: 0x0c,
  NUMA: 0x0d,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  KERNEL_ENTRY: 0x10,
  KERNEL_DATA: 0x11,
  INITRD_DATA: 0x12,
  CMDLINE_ADDR: 0x13,
  CMDLINE_SIZE: 0x14,
  CMDLINE_DATA: 0x15,
  SETUP_ADDR: 0x16,
  SETUP_SIZE: 0x17,
  SETUP_DATA: 0x18,
  FILE_DIR: 0x19,
  /** The first file selector: files take FILE_FIRST + their index in FILE_DIR. */
  FILE_FIRST: 0x20,
  /** Bit 14: QEMU's write channel (ignored by selection, masked off like QEMU). */
  WRITE_CHANNEL: 0x4000,
  /** Bit 15: the arch-local items below live in a second table. */
  ARCH_LOCAL: 0x8000,
  ACPI_TABLES: 0x8000,
  SMBIOS_ENTRIES: 0x8001,
  IRQ0_OVERRIDE: 0x8002,
  E820_TABLE: 0x8003,
  HPET: 0x8004,
} as const;

/** FW_CFG_ENTRY_MASK: the index bits of a key (neither ARCH_LOCAL nor WRITE_CHANNEL). */
const ENTRY_MASK = 0x3fff;
/** FW_CFG_INVALID: cur_entry after selecting a key beyond the table. */
const INVALID = 0xffff;
/** FW_CFG_FILE_SLOTS_DFLT, the x-file-slots property of pc machines since 2.9. */
export const FW_CFG_FILE_SLOTS_DEFAULT = 0x20;
/** FW_CFG_FILE_SLOTS_MIN */
const FILE_SLOTS_MIN = 0x10;
/** FW_CFG_MAX_FILE_PATH: name[56] of a FWCfgFile, NUL included. */
export const FW_CFG_MAX_FILE_PATH = 56;
/** sizeof(FWCfgFile): be32 size, be16 select, u16 reserved, char name[56]. */
const FILE_ENTRY_SIZE = 64;

/** FW_CFG_IO_BASE and the DMA register's port (FW_CFG_IO_BASE + 4) on x86. */
export const FW_CFG_IO_BASE = 0x510;
export const FW_CFG_DMA_IO_BASE = 0x514;

/** FW_CFG_VERSION / FW_CFG_VERSION_DMA: the feature bits of the ID item. */
const VERSION_TRADITIONAL = 0x01;
const VERSION_DMA = 0x02;

const UTF8 = new TextEncoder();

export interface FwCfgIoOptions {
  /**
   * The address space DMA descriptors and buffers live in (QEMU:
   * address_space_memory). null disables the DMA interface, as
   * `-global fw_cfg_io.dma_enabled=false` does: no fwcfg.dma region and ID = 1.
   */
  dmaAddressSpace: AddressSpace | null;
  /** x-file-slots: how many files FILE_DIR can hold (default 0x20). */
  fileSlots?: number;
}

const FW_CFG_OPTIONS = { dmaAddressSpace: true, fileSlots: true } as const satisfies OptionKeys<FwCfgIoOptions>;

interface Entry {
  data: Uint8Array;
}

export class FwCfgIo implements Device, SnapshotDevice {
  /** QEMU's type name (TYPE_FW_CFG_IO). */
  readonly name = 'fw_cfg_io';
  readonly snapshotName = 'fw_cfg';
  /** "fwcfg": 2 bytes at FW_CFG_IO_BASE (selector at +0, data at either byte). */
  readonly region: MemoryRegion;
  /** "fwcfg.dma": 8 bytes at FW_CFG_DMA_IO_BASE, or null without DMA. */
  readonly dmaRegion: MemoryRegion | null;
  /** Both regions at their ports in the I/O space (sysbus_add_io, priority 0). */
  readonly mappings: readonly DeviceMapping[];
  private readonly dma: FwCfgDma | null;
  private readonly fileSlots: number;
  /** entries[arch][index], arch 1 for ARCH_LOCAL keys (QEMU's s->entries). */
  private readonly entries: Map<number, Entry>[] = [new Map(), new Map()];
  /** Names of the files in FILE_DIR order (sorted by strcmp). */
  private readonly fileNames: string[] = [];
  /** The FILE_DIR item's bytes, kept up to date as files are added. */
  private fileDir: Uint8Array | null = null;
  private curEntry = 0;
  private curOffset = 0;

  constructor(options: FwCfgIoOptions) {
    const opts = checkOptions(options, FW_CFG_OPTIONS, 'new FwCfgIo()');
    const as = opts.dmaAddressSpace as unknown;
    if (as !== null && (typeof as !== 'object' || typeof (as as AddressSpace).read !== 'function' || typeof (as as AddressSpace).write !== 'function')) {
      throw new TypeError('new FwCfgIo() needs dmaAddressSpace: the "memory" AddressSpace, or null to disable DMA');
    }
    const slots = opts.fileSlots ?? FW_CFG_FILE_SLOTS_DEFAULT;
    // fw_cfg_file_slots_allocate: at least 0x10, and the selectors must fit in the entry mask.
    if (!Number.isInteger(slots) || slots < FILE_SLOTS_MIN || slots > ENTRY_MASK - FwCfgKey.FILE_FIRST + 1) {
      throw new RangeError(`fw_cfg fileSlots must be an integer from ${hex(FILE_SLOTS_MIN)} to ${hex(ENTRY_MASK - FwCfgKey.FILE_FIRST + 1)}, got ${String(slots)}`);
    }
    this.fileSlots = slots;
    this.region = MemoryRegion.io('fwcfg', 2, {
      read: () => this.readDataByte(),
      // fw_cfg_comb_write: a 16-bit write selects; byte writes are ignored (write support left QEMU in 2.4).
      write: (_offset, value, size) => {
        if (size === 2) this.select(Number(value));
      },
      endianness: 'little',
      // fw_cfg_comb_valid: byte accesses, and 16-bit writes.
      valid: { accepts: (_offset, size, isWrite) => size === 1 || (isWrite && size === 2) },
    });
    if (opts.dmaAddressSpace === null) {
      this.dma = null;
      this.dmaRegion = null;
    } else {
      this.dma = new FwCfgDma(opts.dmaAddressSpace, this);
      this.dmaRegion = this.dma.region;
    }
    this.mappings = [
      { space: 'io', address: BigInt(FW_CFG_IO_BASE), region: this.region },
      ...(this.dmaRegion ? [{ space: 'io', address: BigInt(FW_CFG_DMA_IO_BASE), region: this.dmaRegion } as const] : []),
    ];
    // fw_cfg_common_realize: the device's own identity items.
    this.addBytes(FwCfgKey.SIGNATURE, UTF8.encode('QEMU'));
    this.addI32(FwCfgKey.ID, VERSION_TRADITIONAL | (this.dma ? VERSION_DMA : 0));
  }

  // ------------------------------------------------------------ items

  /** fw_cfg_add_bytes: a numbered item (not a file). A key may be added once. */
  addBytes(key: number, data: Uint8Array): void {
    const { arch, index } = this.checkKey(key);
    if (index >= FwCfgKey.FILE_FIRST) {
      throw new RangeError(`fw_cfg key ${hex(key)} is a file selector; add files with addFile(name, data)`);
    }
    if (this.entries[arch].has(index)) throw new RangeError(`fw_cfg key ${hex(key)} is already set; use modifyBytes() to change it`);
    this.entries[arch].set(index, { data: checkData(data, `fw_cfg key ${hex(key)}`) });
  }

  /** fw_cfg_modify_bytes_read: replaces (or sets) a numbered item. */
  modifyBytes(key: number, data: Uint8Array): void {
    const { arch, index } = this.checkKey(key);
    if (index >= FwCfgKey.FILE_FIRST) throw new RangeError(`fw_cfg key ${hex(key)} is a file selector; use modifyFile(name, data)`);
    this.entries[arch].set(index, { data: checkData(data, `fw_cfg key ${hex(key)}`) });
  }

  /** fw_cfg_add_i16: a little-endian 16-bit item. */
  addI16(key: number, value: number): void {
    this.addBytes(key, le(BigInt(toUint(value, 16, `fw_cfg key ${hex(key)} value`)), 2));
  }

  /** fw_cfg_modify_i16 */
  modifyI16(key: number, value: number): void {
    this.modifyBytes(key, le(BigInt(toUint(value, 16, `fw_cfg key ${hex(key)} value`)), 2));
  }

  /** fw_cfg_add_i32: a little-endian 32-bit item. */
  addI32(key: number, value: number): void {
    this.addBytes(key, le(BigInt(toUint(value, 32, `fw_cfg key ${hex(key)} value`)), 4));
  }

  /** fw_cfg_add_i64: a little-endian 64-bit item. */
  addI64(key: number, value: bigint | number): void {
    this.addBytes(key, le(toU64(value, `fw_cfg key ${hex(key)} value`), 8));
  }

  /**
   * fw_cfg_add_file: a named file, inserted into FILE_DIR in strcmp order of
   * the names (non-legacy machines); files after it move up one selector.
   */
  addFile(name: string, data: Uint8Array): void {
    const bytes = checkData(data, `fw_cfg file "${String(name)}"`);
    const encoded = checkFileName(name);
    if (this.fileNames.includes(name)) throw new RangeError(`duplicate fw_cfg file name: ${name}`);
    if (this.fileNames.length >= this.fileSlots) {
      throw new RangeError(`fw_cfg has no free file slot for "${name}" (${this.fileSlots} slots); raise fileSlots`);
    }
    if (this.fileDir === null) {
      // The directory is an item of 4 + 64 * slots bytes from the first file on.
      this.fileDir = new Uint8Array(4 + FILE_ENTRY_SIZE * this.fileSlots);
      this.entries[0].set(FwCfgKey.FILE_DIR, { data: this.fileDir });
    }
    const count = this.fileNames.length;
    // Walk back from the end past every name that sorts after the new one (fw_cfg_add_file_callback).
    let index = count;
    while (index > 0 && compareNames(encoded, UTF8.encode(this.fileNames[index - 1])) < 0) index--;
    const files = this.entries[0];
    for (let i = count; i > index; i--) {
      files.set(FwCfgKey.FILE_FIRST + i, files.get(FwCfgKey.FILE_FIRST + i - 1)!);
    }
    files.set(FwCfgKey.FILE_FIRST + index, { data: bytes });
    this.fileNames.splice(index, 0, name);
    this.writeFileDir();
  }

  /**
   * fw_cfg_modify_file: replaces a file's data (its selector stays), or adds
   * the file when there is none of that name.
   */
  modifyFile(name: string, data: Uint8Array): void {
    const index = this.fileNames.indexOf(name);
    if (index < 0) {
      this.addFile(name, data);
      return;
    }
    this.entries[0].set(FwCfgKey.FILE_FIRST + index, { data: checkData(data, `fw_cfg file "${name}"`) });
    this.writeFileDir();
  }

  /** The selector of a file, or undefined (what a guest finds in FILE_DIR). */
  fileSelector(name: string): number | undefined {
    const index = this.fileNames.indexOf(name);
    return index < 0 ? undefined : FwCfgKey.FILE_FIRST + index;
  }

  /** A copy of an item's bytes (undefined when the key holds nothing). */
  item(key: number): Uint8Array | undefined {
    const e = this.entryOf(key);
    return e?.data.slice();
  }

  private writeFileDir(): void {
    const dir = this.fileDir!;
    const view = new DataView(dir.buffer, dir.byteOffset, dir.byteLength);
    dir.fill(0);
    view.setUint32(0, this.fileNames.length, false);
    this.fileNames.forEach((name, i) => {
      const at = 4 + i * FILE_ENTRY_SIZE;
      view.setUint32(at, this.entries[0].get(FwCfgKey.FILE_FIRST + i)!.data.length, false);
      view.setUint16(at + 4, FwCfgKey.FILE_FIRST + i, false);
      dir.set(UTF8.encode(name), at + 8);
    });
  }

  private checkKey(key: number): { arch: number; index: number } {
    const k = toUint(key, 16, 'fw_cfg key');
    const index = k & ENTRY_MASK;
    if ((k & FwCfgKey.WRITE_CHANNEL) !== 0 || index >= this.maxEntry()) {
      throw new RangeError(`fw_cfg key ${hex(k)} is out of range: indexes go up to ${hex(this.maxEntry() - 1)}, optionally with bit 15 (ARCH_LOCAL)`);
    }
    return { arch: k & FwCfgKey.ARCH_LOCAL ? 1 : 0, index };
  }

  /** fw_cfg_max_entry: an exclusive limit on an entry index. */
  private maxEntry(): number {
    return FwCfgKey.FILE_FIRST + this.fileSlots;
  }

  private entryOf(key: number): Entry | undefined {
    if (key === INVALID) return undefined;
    return this.entries[key & FwCfgKey.ARCH_LOCAL ? 1 : 0].get(key & ENTRY_MASK);
  }

  // ------------------------------------------------------------ guest side

  /** fw_cfg_select: resets the offset; a key past the table selects nothing. */
  select(key: number): void {
    this.curOffset = 0;
    this.curEntry = (key & ENTRY_MASK) >= this.maxEntry() ? INVALID : key & 0xffff;
  }

  /** fw_cfg_data_read for one byte: the next byte of the item, 0 past its end. */
  private readDataByte(): number {
    const e = this.entryOf(this.curEntry);
    if (e === undefined || this.curOffset >= e.data.length) return 0;
    return e.data[this.curOffset++];
  }

  /**
   * The transfer engine's view of the selected item (fw-cfg-dma.ts): its
   * bytes from the current offset, and a way to advance the offset.
   * @internal
   */
  _remaining(): Uint8Array | null {
    const e = this.entryOf(this.curEntry);
    if (e === undefined || this.curOffset >= e.data.length) return null;
    return e.data.subarray(this.curOffset);
  }

  /** @internal */
  _advance(n: number): void {
    this.curOffset += n;
  }

  /** fw_cfg_reset: selects the signature (a half-written DMA address survives, as in QEMU). */
  reset(): void {
    this.select(FwCfgKey.SIGNATURE);
  }

  saveState(): DeviceStateValue {
    return { curEntry: this.curEntry, curOffset: this.curOffset, dmaAddress: this.dma?.address ?? 0n };
  }

  loadState(state: DeviceStateValue): void {
    const name = 'fw_cfg';
    const curEntry = stateField(state, 'curEntry', 'number', name);
    const curOffset = stateField(state, 'curOffset', 'number', name);
    const dmaAddress = (state as Record<string, unknown>).dmaAddress;
    if (!Number.isInteger(curEntry) || curEntry < 0 || curEntry > 0xffff) throw new RangeError(`${name} state: curEntry must be a 16-bit key`);
    if (!Number.isInteger(curOffset) || curOffset < 0 || curOffset > 0xffff_ffff) throw new RangeError(`${name} state: curOffset must be a 32-bit offset`);
    if (typeof dmaAddress !== 'bigint' || BigInt.asUintN(64, dmaAddress) !== dmaAddress) throw new TypeError(`${name} state: dmaAddress must be a 64-bit bigint`);
    this.curEntry = curEntry;
    this.curOffset = curOffset;
    if (this.dma) this.dma.address = dmaAddress;
  }

  /** Takes the regions out of their containers and frees them. */
  close(): void {
    this.region.close();
    this.dmaRegion?.close();
  }
}

function checkData(data: unknown, what: string): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError(`${what}: data must be a Uint8Array`);
  if (data.length >= 0xffff_ffff) throw new RangeError(`${what}: data must be shorter than 4 GiB`);
  return data.slice();
}

/** A file name as FWCfgFile.name holds it: at most 55 bytes and a NUL, no NUL inside. */
function checkFileName(name: unknown): Uint8Array {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('fw_cfg file name must be a non-empty string');
  const bytes = UTF8.encode(name);
  if (bytes.length >= FW_CFG_MAX_FILE_PATH || bytes.includes(0)) {
    throw new RangeError(`fw_cfg file name "${name}" must be at most ${FW_CFG_MAX_FILE_PATH - 1} bytes without NUL`);
  }
  return bytes;
}

/** strcmp on the UTF-8 bytes. */
function compareNames(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** `value` as `size` little-endian bytes (cpu_to_le16/32/64). */
export function le(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}
