// QEMU's portio lists (softmmu/ioport.c, isa_register_portio_list) for
// devices whose ports are all byte-wide: one region per contiguous run of
// ports, whose callbacks see the absolute port number. portio_read and
// portio_write give the access-size rules a guest can observe: a byte access
// reaches the port; a word access is two byte accesses, the upper one only
// while it stays inside the run (else its read half is 0xff); a dword access
// reads all ones and writes nothing.
import { MemoryRegion } from '../memory/region';
import type { DeviceMapping } from './device';

export interface BytePorts {
  /** The byte at `port` (an absolute port number). */
  read(port: number): number;
  write(port: number, value: number): void;
}

/** One portio run: `count` byte ports from `start`, named `name` (QEMU's portio_list name). */
export function bytePortioRegion(name: string, start: number, count: number, ports: BytePorts): DeviceMapping {
  const last = count - 1;
  const region = MemoryRegion.io(name, count, {
    read: (offset, size) => {
      const at = Number(offset);
      if (size === 1) return ports.read(start + at) & 0xff;
      if (size !== 2) return 0xffffffff;
      const low = ports.read(start + at) & 0xff;
      return low | ((at < last ? ports.read(start + at + 1) & 0xff : 0xff) << 8);
    },
    write: (offset, value, size) => {
      const at = Number(offset);
      if (size > 2) return;
      ports.write(start + at, Number(value & 0xffn));
      if (size === 2 && at < last) ports.write(start + at + 1, Number((value >> 8n) & 0xffn));
    },
    impl: { minAccessSize: 1, maxAccessSize: 4, unaligned: true },
    valid: { minAccessSize: 1, maxAccessSize: 4, unaligned: true }, // portio_ops
    endianness: 'little',
  });
  return { space: 'io', address: BigInt(start), region };
}
