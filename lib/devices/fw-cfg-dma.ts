// The DMA interface of fw_cfg (hw/nvram/fw_cfg.c fw_cfg_dma_transfer,
// docs/specs/fw_cfg.rst): the guest writes the guest-physical address of a
// FWCfgDmaAccess { be32 control; be32 length; be64 address } to the 8-byte
// big-endian register "fwcfg.dma" (high half at +0, low half at +4, which
// starts the transfer; or all 64 bits at +0). The transfer runs at once and
// ends by storing the new control word (0, or ERROR) over the descriptor's.
import type { AddressSpace } from '../memory/address-space';
import { MemoryRegion } from '../memory/region';
import { MemTxResult } from '../memory/types';

/** "QEMU CFG", what reads of the DMA register return (FW_CFG_DMA_SIGNATURE). */
export const FW_CFG_DMA_SIGNATURE = 0x51454d5520434647n;

/** FW_CFG_DMA_CTL_* bits of FWCfgDmaAccess.control; SELECT puts the key in bits 31..16. */
export const FwCfgDmaControl = {
  ERROR: 0x01,
  READ: 0x02,
  SKIP: 0x04,
  SELECT: 0x08,
  WRITE: 0x10,
} as const;

/** sizeof(FWCfgDmaAccess) */
export const FW_CFG_DMA_ACCESS_SIZE = 16;

/** Zero-fill past an item's end is written in chunks of this size, so a 4 GiB length allocates nothing large. */
const ZERO_CHUNK = 0x10000;
const U64_MASK = (1n << 64n) - 1n;

/** What the transfer needs of the fw_cfg device: selection and the selected item's unread bytes. */
export interface FwCfgDmaTarget {
  select(key: number): void;
  /** @internal the selected item from the current offset, null when nothing is left */
  _remaining(): Uint8Array | null;
  /** @internal advance the current offset */
  _advance(n: number): void;
}

export class FwCfgDma {
  readonly region: MemoryRegion;
  /** FWCfgState.dma_addr: the descriptor address being assembled. */
  address = 0n;
  private zeros: Uint8Array | null = null;

  constructor(private readonly as: AddressSpace, private readonly fw: FwCfgDmaTarget) {
    this.region = MemoryRegion.io('fwcfg.dma', 8, {
      read: (offset, size) => signatureBytes(Number(offset), size),
      write: (offset, value, size) => this.write(Number(offset), value, size),
      endianness: 'big',
      // fw_cfg_dma_mem_valid: any read; writes of the two halves or of all 64 bits.
      valid: {
        maxAccessSize: 8,
        accepts: (offset, size, isWrite) => !isWrite || (size === 4 && (offset === 0n || offset === 4n)) || (size === 8 && offset === 0n),
      },
      impl: { maxAccessSize: 8 },
    });
  }

  private write(offset: number, value: bigint, size: number): void {
    if (size === 4 && offset === 0) {
      this.address = (value & 0xffff_ffffn) << 32n;
    } else if (size === 4 && offset === 4) {
      this.address |= value & 0xffff_ffffn;
      this.transfer();
    } else if (size === 8 && offset === 0) {
      this.address = value;
      this.transfer();
    }
  }

  /** fw_cfg_dma_transfer */
  private transfer(): void {
    const descriptor = this.address;
    this.address = 0n; // reset before the next access
    const { data, result } = this.as.read(descriptor, FW_CFG_DMA_ACCESS_SIZE);
    if (result !== MemTxResult.OK) {
      this.storeControl(descriptor, FwCfgDmaControl.ERROR);
      return;
    }
    const view = new DataView(data.buffer);
    let control = view.getUint32(0, false);
    let length = view.getUint32(4, false);
    let address = view.getBigUint64(8, false);

    if (control & FwCfgDmaControl.SELECT) this.fw.select(control >>> 16);
    // READ wins over WRITE, WRITE over SKIP; with none of them nothing moves.
    const read = (control & FwCfgDmaControl.READ) !== 0;
    const write = !read && (control & FwCfgDmaControl.WRITE) !== 0;
    if (!read && !write && !(control & FwCfgDmaControl.SKIP)) length = 0;

    control = 0;
    while (length > 0 && !(control & FwCfgDmaControl.ERROR)) {
      const rest = this.fw._remaining();
      let len: number;
      if (rest === null) {
        // Past the end (or nothing selected): reads see zeros, writes fail.
        len = length;
        if (read && !this.zeroFill(address, len)) control |= FwCfgDmaControl.ERROR;
        if (write) control |= FwCfgDmaControl.ERROR;
      } else {
        len = Math.min(length, rest.length);
        if (read && this.as.write(address, rest.subarray(0, len)) !== MemTxResult.OK) control |= FwCfgDmaControl.ERROR;
        // No item of this device is writable (QEMU's allow_write is false for all of them).
        if (write) control |= FwCfgDmaControl.ERROR;
        this.fw._advance(len);
      }
      address = (address + BigInt(len)) & U64_MASK;
      length -= len;
    }
    this.storeControl(descriptor, control);
  }

  /**
   * dma_memory_set(…, 0, len): true when every byte was written. Stops at the
   * first chunk that fails (QEMU goes on writing the rest; the guest sees the
   * same ERROR either way).
   */
  private zeroFill(address: bigint, len: number): boolean {
    this.zeros ??= new Uint8Array(ZERO_CHUNK);
    for (let done = 0; done < len; done += ZERO_CHUNK) {
      const n = Math.min(ZERO_CHUNK, len - done);
      const at = (address + BigInt(done)) & U64_MASK;
      if (this.as.write(at, this.zeros.subarray(0, n)) !== MemTxResult.OK) return false;
    }
    return true;
  }

  /** stl_be_dma at descriptor + offsetof(control); a failure is ignored, as in QEMU. */
  private storeControl(descriptor: bigint, control: number): void {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, control, false);
    this.as.write(descriptor, bytes);
  }
}

/** fw_cfg_dma_mem_read: the bytes of "QEMU CFG" at [offset, offset + size). */
function signatureBytes(offset: number, size: number): bigint {
  const shift = (8 - offset - size) * 8;
  if (shift < 0) return 0n; // cannot happen for aligned accesses inside the 8 bytes
  return (FW_CFG_DMA_SIGNATURE >> BigInt(shift)) & ((1n << BigInt(size * 8)) - 1n);
}
