/**
 * A conventional PCI function (type 0 header): its 256-byte configuration
 * space with QEMU's write masks, and its BARs as MemoryRegions mapped into
 * the bus's memory or I/O space (QEMU 7.2 hw/pci/pci.c).
 *
 * - wmask: the bits a guest write changes (command IO|MEM|MASTER|SERR|
 *   INTX_DISABLE, cache line size, interrupt line, the registered BAR size
 *   masks, and all of 0x40-0xff, pci_init_wmask);
 * - w1cmask: status error bits a guest clears by writing 1 (pci_init_w1cmask);
 * - every other bit is read-only.
 * After a write touching a BAR, the ROM BAR or the command register, every
 * BAR is re-evaluated (pci_update_mappings) inside ONE memory transaction, so
 * moving a BAR is one listener commit (QEMU commits the removal and the
 * addition separately; one commit never issues more slot ioctls).
 *
 * As a Device it has no `mappings`: its BARs are not fixed, the function
 * maps and moves them itself; its bus resets it (PciBus.reset).
 */
import type { AddressSpace } from '../../memory/address-space';
import type { MemoryRegion } from '../../memory/region';
import { transaction } from '../../memory/transaction';
import type { DeviceStateValue, SnapshotDevice } from '../../snapshot/device-state';
import { hex } from '../../util/hex';
import type { Device, DeviceMapping } from '../device';
import type { PciBus } from './pci-bus';
import { PciBusMaster } from './pci-bus-master';

export const PCI_CONFIG_SPACE_SIZE = 0x100;
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
/** end of the standard header; 0x40-0xff is device specific */
export const PCI_CONFIG_HEADER_SIZE = 0x40;

export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_SERR = 0x100;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
/** status bits cleared by writing 1 (pci_init_w1cmask) */
export const PCI_STATUS_W1C = 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;

/** BAR type bits (the low bits of a BAR, and what pci_register_bar takes) */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_ROM_ADDRESS_ENABLE = 0x1;
/** BAR index of the expansion ROM (PCI_ROM_SLOT) */
export const PCI_ROM_SLOT = 6;
const PCI_NUM_REGIONS = 7;

/** hw/pci/pci.c pci_set_default_subsystem_id: Red Hat / QEMU */
export const PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_SUBDEVICE_ID_QEMU = 0x1100;

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffffffffn;

export interface PciDeviceOptions {
  /** QEMU's type name, for messages (e.g. 'i440FX') */
  name: string;
  vendorId: number;
  deviceId: number;
  revision?: number;
  /** base class and subclass, e.g. 0x0600 (host bridge) */
  classId: number;
  progIf?: number;
  /** sets bit 7 of the header type (function 0 of a multi-function device) */
  multifunction?: boolean;
  /** 0x3d: 0 = none, 1-4 = INTA#-INTD# */
  interruptPin?: number;
}

interface PciIoRegion {
  type: number;
  size: bigint;
  region: MemoryRegion;
  /** where it is mapped in its space, or null (PCI_BAR_UNMAPPED) */
  addr: bigint | null;
}

/** The saved state of a function: its configuration bytes. */
export type PciDeviceState = { config: Uint8Array };

function checkInt(v: unknown, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${what} must be an integer from 0 to ${hex(max)}, got ${String(v)}`);
  }
  return v;
}

export function checkConfigAccess(address: unknown, len: unknown, where: string): void {
  if (len !== 1 && len !== 2 && len !== 4) throw new RangeError(`${where}: access size must be 1, 2 or 4 bytes, got ${String(len)}`);
  checkInt(address, PCI_CONFIG_SPACE_SIZE - 1, `${where}: config address`);
  if ((address as number) + len > PCI_CONFIG_SPACE_SIZE) {
    throw new RangeError(`${where}: ${len} bytes at ${hex(address as number)} run past the 256-byte configuration space`);
  }
}

function isMem64(type: number): boolean {
  return !(type & PCI_BASE_ADDRESS_SPACE_IO) && (type & PCI_BASE_ADDRESS_MEM_TYPE_64) !== 0;
}

function rangesOverlap(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}

export class PciDevice implements Device, SnapshotDevice {
  /** QEMU's type name (e.g. 'i440FX') */
  readonly name: string;
  /** QEMU's id of its vmstate: the PCI address and the type, e.g. '0000:00:00.0/i440FX' */
  readonly snapshotName: string;
  /** none: BARs are mapped and moved by the function itself (updateMappings) */
  readonly mappings: readonly DeviceMapping[] = [];
  readonly bus: PciBus;
  /** device and function number on the bus (slot << 3 | function) */
  readonly devfn: number;
  readonly config = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** bits a guest write may change */
  readonly wmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** bits a guest write of 1 clears */
  readonly w1cmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** bytes that identify the device and its BAR types (QEMU's cmask): a loaded state must match them */
  private readonly cmask = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  private readonly ioRegions: (PciIoRegion | undefined)[] = new Array(PCI_NUM_REGIONS);
  /** What the function reaches as a bus master (null on a bus without a DMA root). */
  readonly busMaster: PciBusMaster | null;

  /** Plugs a new function into `bus` at `devfn` (do_pci_register_device). */
  constructor(bus: PciBus, devfn: number, opts: PciDeviceOptions) {
    checkInt(devfn, 0xff, 'devfn');
    if (typeof opts?.name !== 'string') throw new TypeError('PciDevice: options.name must be a string');
    const c = this.config;
    this.name = opts.name;
    this.bus = bus;
    this.devfn = devfn;
    this.snapshotName = `0000:00:${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}/${opts.name}`;
    this.setWord(c, PCI_VENDOR_ID, checkInt(opts.vendorId, 0xffff, 'vendorId'));
    this.setWord(c, PCI_DEVICE_ID, checkInt(opts.deviceId, 0xffff, 'deviceId'));
    c[PCI_REVISION_ID] = checkInt(opts.revision ?? 0, 0xff, 'revision');
    c[PCI_CLASS_PROG] = checkInt(opts.progIf ?? 0, 0xff, 'progIf');
    this.setWord(c, PCI_CLASS_DEVICE, checkInt(opts.classId, 0xffff, 'classId'));
    c[PCI_HEADER_TYPE] = opts.multifunction ? PCI_HEADER_TYPE_MULTI_FUNCTION : 0;
    this.setWord(c, PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
    this.setWord(c, PCI_SUBSYSTEM_ID, PCI_SUBDEVICE_ID_QEMU);
    c[PCI_INTERRUPT_PIN] = checkInt(opts.interruptPin ?? 0, 4, 'interruptPin');
    // pci_init_cmask
    for (const a of [0, 1, 2, 3, PCI_REVISION_ID, PCI_CLASS_PROG, PCI_CLASS_DEVICE, PCI_CLASS_DEVICE + 1, PCI_HEADER_TYPE, PCI_CAPABILITY_LIST]) this.cmask[a] = 0xff;
    // pci_init_wmask / pci_init_w1cmask
    this.wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;
    this.setWord(this.wmask, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    this.wmask.fill(0xff, PCI_CONFIG_HEADER_SIZE);
    this.setWord(this.w1cmask, PCI_STATUS, PCI_STATUS_W1C);
    bus._plug(this);
    this.busMaster = bus.dma === null ? null : new PciBusMaster(opts.name, bus.dma);
  }

  /** The address space the function's DMA goes through (the bus master view), or null without one. */
  get dmaAddressSpace(): AddressSpace | null {
    return this.busMaster?.addressSpace ?? null;
  }

  private setWord(a: Uint8Array, off: number, v: number): void {
    a[off] = v & 0xff;
    a[off + 1] = (v >> 8) & 0xff;
  }

  private setLong(a: Uint8Array, off: number, v: number): void {
    for (let i = 0; i < 4; i++) a[off + i] = (v >>> (8 * i)) & 0xff;
  }

  private getLong(off: number): bigint {
    const c = this.config;
    return BigInt((c[off] | (c[off + 1] << 8) | (c[off + 2] << 16) | (c[off + 3] << 24)) >>> 0);
  }

  /** config offset of BAR `index` (pci_bar; 0x30 for the ROM of a type 0 header) */
  private barOffset(index: number): number {
    return index === PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * index;
  }

  get command(): number {
    return this.config[PCI_COMMAND] | (this.config[PCI_COMMAND + 1] << 8);
  }

  /**
   * pci_register_bar: BAR `index` (0-5, or PCI_ROM_SLOT) decodes `region`,
   * whose size must be a power of two; `type` is PCI_BASE_ADDRESS_SPACE_IO or
   * memory (| PCI_BASE_ADDRESS_MEM_TYPE_64, | PCI_BASE_ADDRESS_MEM_PREFETCH).
   * The region is mapped (priority 1, in the bus's I/O or memory space) once
   * the guest programs an address and enables decoding in the command register.
   */
  registerBar(index: number, type: number, region: MemoryRegion): void {
    checkInt(index, PCI_ROM_SLOT, 'BAR index');
    checkInt(type, 0xff, 'BAR type');
    const io = (type & PCI_BASE_ADDRESS_SPACE_IO) !== 0;
    const is64 = isMem64(type);
    if (io && type !== PCI_BASE_ADDRESS_SPACE_IO) throw new RangeError(`BAR ${index} of ${this.name}: an I/O BAR has type ${hex(PCI_BASE_ADDRESS_SPACE_IO)} and no other bits`);
    if (type & ~(PCI_BASE_ADDRESS_SPACE_IO | PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH)) {
      throw new RangeError(`BAR ${index} of ${this.name}: unknown type bits in ${hex(type)}`);
    }
    if (index === PCI_ROM_SLOT && type !== 0) throw new RangeError(`the ROM BAR of ${this.name} is a 32-bit memory BAR (type 0)`);
    if (is64 && index > 4) throw new RangeError(`BAR ${index} of ${this.name}: a 64-bit BAR takes two slots, so it must be BAR 0-4`);
    if (this.slotTaken(index) || (is64 && this.slotTaken(index + 1))) {
      throw new RangeError(`BAR ${index} of ${this.name} is already registered`);
    }
    if (region.container !== null) throw new RangeError(`BAR ${index} of ${this.name}: region "${region.name}" is already mapped in "${region.container.name}"; the BAR maps it`);
    const size = region.size;
    if (size === 0n || (size & (size - 1n)) !== 0n) throw new RangeError(`BAR ${index} of ${this.name}: region "${region.name}" is ${hex(size)} bytes; a BAR size must be a power of two`);
    if (size > (is64 ? 1n << 63n : 1n << 31n)) throw new RangeError(`BAR ${index} of ${this.name}: ${hex(size)} bytes is too large for a ${is64 ? 64 : 32}-bit BAR`);
    const off = this.barOffset(index);
    let wmask = ~(size - 1n) & U64_MAX;
    if (index === PCI_ROM_SLOT) wmask |= BigInt(PCI_ROM_ADDRESS_ENABLE);
    this.ioRegions[index] = { type, size, region, addr: null };
    this.setLong(this.config, off, type);
    const bytes = is64 ? 8 : 4;
    for (let i = 0; i < bytes; i++) {
      this.wmask[off + i] = Number((wmask >> BigInt(8 * i)) & 0xffn);
      this.cmask[off + i] = 0xff;
    }
    if (is64) this.setLong(this.config, off + 4, 0);
  }

  /** Is BAR slot `index` registered, or the upper half of a 64-bit BAR? */
  private slotTaken(index: number): boolean {
    const below = index > 0 && index !== PCI_ROM_SLOT ? this.ioRegions[index - 1] : undefined;
    return this.ioRegions[index] !== undefined || (below !== undefined && isMem64(below.type));
  }

  /** BAR `index`'s region and where it is mapped now (null: not mapped), or undefined when none is registered */
  bar(index: number): { region: MemoryRegion; address: bigint | null } | undefined {
    const r = this.ioRegions[index];
    return r && { region: r.region, address: r.addr };
  }

  /**
   * pci_bar_address: where BAR `index` decodes now, or null when decoding is
   * off (command bit clear, ROM enable clear) or the address is one QEMU
   * refuses (0, wrapping, a 32-bit BAR reaching 4 GiB - 1 such as the all-ones
   * value written to size it).
   */
  private barAddress(index: number, r: PciIoRegion): bigint | null {
    const off = this.barOffset(index);
    const cmd = this.command;
    if (r.type & PCI_BASE_ADDRESS_SPACE_IO) {
      if (!(cmd & PCI_COMMAND_IO)) return null;
      const addr = this.getLong(off) & ~(r.size - 1n) & U32_MAX;
      const last = addr + r.size - 1n;
      if (last <= addr || last >= U32_MAX || addr === 0n) return null;
      return addr;
    }
    if (!(cmd & PCI_COMMAND_MEMORY)) return null;
    let addr = this.getLong(off);
    if (isMem64(r.type)) addr |= this.getLong(off + 4) << 32n;
    if (index === PCI_ROM_SLOT && !(addr & BigInt(PCI_ROM_ADDRESS_ENABLE))) return null;
    addr &= ~(r.size - 1n) & U64_MAX;
    const last = (addr + r.size - 1n) & U64_MAX;
    if (last <= addr || last === U64_MAX || addr === 0n) return null;
    if (!isMem64(r.type) && last >= U32_MAX) return null;
    return addr;
  }

  /**
   * pci_update_mappings, as one transaction: unmap, move or map every BAR
   * whose address changed; and the bus master alias follows the command
   * register (pci_default_write_config).
   */
  private updateMappings(): void {
    transaction(() => {
      this.busMaster?.setEnabled((this.command & PCI_COMMAND_MASTER) !== 0);
      this.ioRegions.forEach((r, i) => {
        if (!r) return;
        const addr = this.barAddress(i, r);
        if (addr === r.addr) return;
        const space = r.type & PCI_BASE_ADDRESS_SPACE_IO ? this.bus.io : this.bus.memory;
        if (r.addr !== null) space.removeSubregion(r.region);
        r.addr = addr;
        if (addr !== null) space.addSubregionOverlap(addr, r.region, 1);
      });
    });
  }

  /** pci_default_read_config: little-endian bytes of the configuration space */
  configRead(address: number, len: number): number {
    checkConfigAccess(address, len, `${this.name} config read`);
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = v * 256 + this.config[address + i];
    return v;
  }

  /** pci_default_write_config: masked by wmask and w1cmask; BAR and command writes remap */
  configWrite(address: number, value: number, len: number): void {
    checkConfigAccess(address, len, `${this.name} config write`);
    checkInt(value, len === 4 ? 0xffffffff : len === 2 ? 0xffff : 0xff, `${this.name} config value`);
    let val = value;
    for (let i = 0; i < len; i++, val = Math.floor(val / 256)) {
      const a = address + i;
      const b = val & 0xff;
      this.config[a] = (this.config[a] & ~this.wmask[a]) | (b & this.wmask[a]);
      this.config[a] &= ~(b & this.w1cmask[a]);
    }
    if (rangesOverlap(address, len, PCI_BASE_ADDRESS_0, 24) || rangesOverlap(address, len, PCI_ROM_ADDRESS, 4) ||
        rangesOverlap(address, len, PCI_COMMAND, 1)) {
      this.updateMappings();
    }
  }

  /** The device's own reset (QEMU's dc->reset), run before the generic PCI part. */
  protected resetDevice(): void {
    // nothing by default
  }

  /**
   * pci_device_reset: the device's own reset, then pci_do_device_reset:
   * writable command and status bits, the interrupt line and the cache line
   * size are cleared, BARs go back to their type bits (so they are unmapped).
   * Device-specific registers (0x40-0xff) are left to resetDevice().
   */
  reset(): void {
    this.resetDevice();
    const c = this.config;
    for (const off of [PCI_COMMAND, PCI_COMMAND + 1, PCI_STATUS, PCI_STATUS + 1, PCI_INTERRUPT_LINE]) c[off] &= ~(this.wmask[off] | this.w1cmask[off]);
    c[PCI_CACHE_LINE_SIZE] = 0;
    this.ioRegions.forEach((r, i) => {
      if (!r) return;
      const off = this.barOffset(i);
      this.setLong(c, off, r.type);
      if (isMem64(r.type)) this.setLong(c, off + 4, 0);
    });
    this.updateMappings();
  }

  /** A copy of the configuration space (QEMU's vmstate_pci_device). */
  saveState(): PciDeviceState {
    return { config: this.config.slice() };
  }

  /**
   * Restores a saved configuration space and remaps the BARs (get_pci_config_device).
   * The identifying bytes (ids, class, header type, BAR types) must match this device.
   */
  loadState(state: DeviceStateValue): void {
    const cfg = (state as Partial<PciDeviceState> | null)?.config;
    if (!(cfg instanceof Uint8Array) || cfg.length !== PCI_CONFIG_SPACE_SIZE) {
      throw new TypeError(`${this.name}: a PCI state has a 256-byte Uint8Array config`);
    }
    for (let i = 0; i < PCI_CONFIG_SPACE_SIZE; i++) {
      if ((cfg[i] ^ this.config[i]) & this.cmask[i] & ~this.wmask[i] & ~this.w1cmask[i]) {
        throw new RangeError(`${this.name}: bad config data at ${hex(i)}: the state has ${hex(cfg[i])}, the device ${hex(this.config[i])}; it is the state of another device`);
      }
    }
    this.config.set(cfg);
    this.updateMappings();
    this.postLoad();
  }

  /** Re-derive what depends on the configuration after loadState (QEMU's post_load). */
  protected postLoad(): void {
    // nothing by default
  }

  /** Releases the bus-master address space (subclasses close their own regions, then call this). */
  close(): void {
    this.busMaster?.close();
  }
}
