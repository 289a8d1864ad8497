// The PIIX IDE's bus-master DMA register block (hw/ide/piix.c
// bmdma_setup_bar, hw/ide/pci.c): 16 ports for BAR 4, "piix-bmdma-container"
// with, per channel i at i*8, "piix-bmdma" (command at +0, status at +2, byte
// access only) and "bmdma" (the PRD table address at +4, any width, bits 1:0
// read as zero).
//
// Each channel is its IdeBus's DMA engine (pass `channels[i]` as the bus's
// `dma`): a READ/WRITE DMA command waits until the guest sets START (or runs
// at once if it is set), then the sectors move through the PRD table in guest
// memory (bmdma_prepare_buf, ide_dma_cb), synchronously. The interrupt bit
// follows the channel's IRQ.
import type { AddressSpace } from '../../memory/address-space';
import { MemoryRegion } from '../../memory/region';
import { MemTxResult, type MemoryRegionOps } from '../../memory/types';
import { checkOptions, type OptionKeys } from '../../options';
import { type DiskImage, SECTOR_SIZE } from './disk-image';
import { isMediumError, sectorRangeOk } from './ide-commands';
import { type IdeDmaEngine, type IdeState, READY_STAT, SEEK_STAT } from './ide-state';

/** Command: start/stop bus master, direction (1: write to memory). */
const BM_CMD_START = 0x01;
const BM_CMD_MASK = 0x09;
/** Status: active, error, interrupt; bits 5 and 6 (drive DMA capable) are the firmware's. */
const BM_STATUS_DMAING = 0x01;
const BM_STATUS_ERROR = 0x02;
const BM_STATUS_INT = 0x04;
/** The BAR's size. */
export const BMDMA_BAR_SIZE = 16;
/** BMDMA_PAGE_SIZE: a PRD table ends after this many bytes even without an end-of-table bit. */
const PRD_TABLE_LIMIT = 4096;

/** One channel's registers and DMA engine (BMDMAState). */
export class BmdmaChannel implements IdeDmaEngine {
  cmd = 0;
  status = 0;
  /** the PRD table's guest-physical address */
  addr = 0;
  /** where the engine is in the table (latched from addr on START) */
  curAddr = 0;
  /** bm->dma_cb: the position whose DMA command waits for START */
  private pending: { s: IdeState; write: boolean } | null = null;
  private raise: () => void = () => {};

  constructor(private readonly memory: AddressSpace | null) {}

  reset(): void {
    this.cmd = this.status = this.addr = this.curAddr = 0;
    this.pending = null;
  }

  connect(raise: () => void): void {
    this.raise = raise;
  }

  /** bmdma_start_dma */
  start(s: IdeState, write: boolean): void {
    this.pending = { s, write };
    if (this.status & BM_STATUS_DMAING) this.transfer();
  }

  /** bmdma_irq: the channel raised its IRQ. */
  interrupt(): void {
    this.status |= BM_STATUS_INT;
  }

  /** ide_dma_cb, both rounds at once: gather the PRDs, move the sectors, complete. */
  private transfer(): void {
    const { s, write } = this.pending!;
    const n = s.nsector;
    const limit = n * SECTOR_SIZE;
    const { sg, described } = this.prepareBuffer(limit);
    const sgBytes = sg.reduce((a, e) => a + e.len, 0);
    if (sgBytes < limit) {
      // PRDs too short: the engine stops, no interrupt (the guest sees active clear without INT)
      s.status = READY_STAT | SEEK_STAT;
      this.setInactive(false);
      return;
    }
    const sector = s.getSector();
    if (!sectorRangeOk(s, sector, n) || s.disk === null || this.memory === null || !this.move(s.disk.image, sector, n, sg, write)) {
      // ide_dma_error
      s.abort();
      this.setInactive(false);
      this.raise();
      return;
    }
    s.setSector(sector + n);
    s.nsector = 0;
    s.status = READY_STAT | SEEK_STAT;
    this.raise();
    // PRDs longer than the transfer leave the engine active
    this.setInactive(Math.floor(described / SECTOR_SIZE) > n);
  }

  /** Copies between the image and the scatter list; false on a refused write or a bus error. */
  private move(image: DiskImage, sector: number, n: number, sg: { addr: number; len: number }[], write: boolean): boolean {
    const memory = this.memory!;
    if (write) {
      const data = new Uint8Array(n * SECTOR_SIZE);
      let at = 0;
      for (const e of sg) {
        const { data: chunk, result } = memory.read(e.addr, e.len);
        if (result !== MemTxResult.OK) return false;
        data.set(chunk, at);
        at += e.len;
      }
      try {
        image.write(sector, data);
      } catch (e) {
        if (!isMediumError(e)) throw e;
        return false; // read-only image or I/O error: ABRT, as werror=report does
      }
      return true;
    }
    let data: Uint8Array;
    try {
      data = image.read(sector, n);
    } catch (e) {
      if (!isMediumError(e)) throw e;
      return false;
    }
    let at = 0;
    for (const e of sg) {
      if (memory.write(e.addr, data.subarray(at, at + e.len)) !== MemTxResult.OK) return false;
      at += e.len;
    }
    return true;
  }

  /** bmdma_prepare_buf: the PRD entries from curAddr, clipped to `limit` bytes; `described` is what the entries cover. */
  private prepareBuffer(limit: number): { sg: { addr: number; len: number }[]; described: number } {
    const sg: { addr: number; len: number }[] = [];
    let size = 0;
    let described = 0;
    for (;;) {
      if (this.curAddr - this.addr >= PRD_TABLE_LIMIT || this.memory === null) break;
      const { data } = this.memory.read(this.curAddr, 8);
      this.curAddr += 8;
      const view = new DataView(data.buffer, data.byteOffset, 8);
      const addr = view.getUint32(0, true);
      const word = view.getUint32(4, true);
      const len = word & 0xfffe || 0x10000;
      const take = Math.min(limit - size, len);
      if (take > 0) sg.push({ addr, len: take });
      size += take;
      described += len;
      if (word & 0x80000000) break;
    }
    return { sg, described };
  }

  /** bmdma_set_inactive */
  private setInactive(more: boolean): void {
    this.pending = null;
    if (more) this.status |= BM_STATUS_DMAING;
    else this.status &= ~BM_STATUS_DMAING;
  }

  /** bmdma_cmd_writeb: START's edge latches the table; stopping clears the active bit. */
  writeCommand(val: number): void {
    if ((val & BM_CMD_START) !== (this.cmd & BM_CMD_START)) {
      if (!(val & BM_CMD_START)) {
        this.status &= ~BM_STATUS_DMAING;
      } else {
        this.curAddr = this.addr;
        if (!(this.status & BM_STATUS_DMAING)) {
          this.status |= BM_STATUS_DMAING;
          if (this.pending) this.transfer();
        }
      }
    }
    this.cmd = val & BM_CMD_MASK;
  }

  /** bmdma_status_writeb: bits 5-6 written, error and interrupt cleared by writing 1, active kept. */
  writeStatus(val: number): void {
    this.status = (val & 0x60) | (this.status & BM_STATUS_DMAING) | (this.status & ~val & (BM_STATUS_ERROR | BM_STATUS_INT));
  }

}

export interface PiixBmdmaOptions {
  /** The address space the engine reads PRD tables and moves data in (the PCI function's bus-master view of "memory"); without it DMA commands fail with ABRT. */
  memory?: AddressSpace;
}

const PIIX_BMDMA_OPTIONS = { memory: true } as const satisfies OptionKeys<PiixBmdmaOptions>;

/** The 16-byte block for PIIX3 IDE's BAR 4 (the PCI function maps `region` as its I/O BAR). */
export class PiixBmdma {
  readonly channels: readonly [BmdmaChannel, BmdmaChannel];
  /** "piix-bmdma-container", 16 bytes */
  readonly region: MemoryRegion;
  private readonly children: MemoryRegion[] = [];

  constructor(options?: PiixBmdmaOptions) {
    const opts = checkOptions(options, PIIX_BMDMA_OPTIONS, 'new PiixBmdma()');
    const memory = opts.memory ?? null;
    if (memory !== null && (typeof memory !== 'object' || typeof memory.read !== 'function')) throw new TypeError('PiixBmdma: memory must be an AddressSpace');
    this.channels = [new BmdmaChannel(memory), new BmdmaChannel(memory)];
    this.region = MemoryRegion.container('piix-bmdma-container', BMDMA_BAR_SIZE);
    this.channels.forEach((bm, i) => {
      const regs: MemoryRegionOps = {
        read: (offset, size) => {
          if (size !== 1) return 2 ** (size * 8) - 1;
          return offset === 0n ? bm.cmd : offset === 2n ? bm.status : 0xff;
        },
        write: (offset, value, size) => {
          if (size !== 1) return;
          if (offset === 0n) bm.writeCommand(Number(value));
          else if (offset === 2n) bm.writeStatus(Number(value));
        },
        impl: { minAccessSize: 1, maxAccessSize: 4 },
        endianness: 'little',
      };
      const addr: MemoryRegionOps = {
        read: (offset, size) => Number((BigInt(bm.addr) >> (offset * 8n)) & ((1n << BigInt(size * 8)) - 1n)),
        write: (offset, value, size) => {
          const shift = offset * 8n;
          const mask = ((1n << BigInt(size * 8)) - 1n) << shift;
          const next = (BigInt(bm.addr) & ~mask) | ((value << shift) & mask);
          bm.addr = Number(next & 0xfffffffcn);
        },
        impl: { minAccessSize: 1, maxAccessSize: 4 },
        valid: { minAccessSize: 1, maxAccessSize: 4 },
        endianness: 'little',
      };
      const extra = MemoryRegion.io('piix-bmdma', 4, regs);
      const table = MemoryRegion.io('bmdma', 4, addr);
      this.region.addSubregion(BigInt(i * 8), extra);
      this.region.addSubregion(BigInt(i * 8 + 4), table);
      this.children.push(extra, table);
    });
  }

  /** bmdma_reset of both channels. */
  reset(): void {
    for (const bm of this.channels) bm.reset();
  }

  close(): void {
    for (const r of this.children) r.close();
    this.region.close();
  }
}
