// The PIIX IDE's bus-master DMA register block (hw/ide/piix.c
// bmdma_setup_bar, hw/ide/pci.c): 16 ports for BAR 4, "piix-bmdma-container"
// with, per channel i at i*8, "piix-bmdma" (command at +0, status at +2, byte
// access only) and "bmdma" (the PRD table address at +4, any width, bits 1:0
// read as zero).
//
// Registers only: setting START latches the PRD table address and sets the
// active bit, but no data moves (the DMA commands abort on the channel), so
// a guest that tries DMA sees an error rather than wrong data. The interrupt
// bit follows the channel's IRQ (IdeBus's onIrq: bmdmaIrq).
import { MemoryRegion } from '../../memory/region';
import type { MemoryRegionOps } from '../../memory/types';

/** Command: start/stop bus master, direction (1: write to memory). */
const BM_CMD_START = 0x01;
const BM_CMD_MASK = 0x09;
/** Status: active, error, interrupt; bits 5 and 6 (drive DMA capable) are the firmware's. */
const BM_STATUS_DMAING = 0x01;
const BM_STATUS_ERROR = 0x02;
const BM_STATUS_INT = 0x04;
/** The BAR's size. */
export const BMDMA_BAR_SIZE = 16;

/** One channel's registers (BMDMAState). */
export class BmdmaChannel {
  cmd = 0;
  status = 0;
  /** the PRD table's guest-physical address */
  addr = 0;
  /** where the engine is in the table (latched from addr on START) */
  curAddr = 0;

  reset(): void {
    this.cmd = this.status = this.addr = this.curAddr = 0;
  }

  /** bmdma_cmd_writeb: START's edge latches the table; stopping clears the active bit. */
  writeCommand(val: number): void {
    if ((val & BM_CMD_START) !== (this.cmd & BM_CMD_START)) {
      if (!(val & BM_CMD_START)) {
        this.status &= ~BM_STATUS_DMAING;
      } else {
        this.curAddr = this.addr;
        this.status |= BM_STATUS_DMAING;
      }
    }
    this.cmd = val & BM_CMD_MASK;
  }

  /** bmdma_status_writeb: bits 5-6 written, error and interrupt cleared by writing 1, active kept. */
  writeStatus(val: number): void {
    this.status = (val & 0x60) | (this.status & BM_STATUS_DMAING) | (this.status & ~val & (BM_STATUS_ERROR | BM_STATUS_INT));
  }

  /** bmdma_irq: the channel raised its IRQ. */
  raiseInterrupt(): void {
    this.status |= BM_STATUS_INT;
  }
}

/** The 16-byte block for PIIX3 IDE's BAR 4 (the PCI function maps `region` as its I/O BAR). */
export class PiixBmdma {
  readonly channels: readonly [BmdmaChannel, BmdmaChannel] = [new BmdmaChannel(), new BmdmaChannel()];
  /** "piix-bmdma-container", 16 bytes */
  readonly region: MemoryRegion;
  private readonly children: MemoryRegion[] = [];

  constructor() {
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

  /** What IdeBus's onIrq calls for channel `i` (0 primary, 1 secondary). */
  bmdmaIrq(i: 0 | 1): () => void {
    return () => this.channels[i].raiseInterrupt();
  }

  close(): void {
    for (const r of this.children) r.close();
    this.region.close();
  }
}
