// Booting a test kernel on the pc machine and reading what it printed: the
// kernel-boot tests (multiboot, PVH, Linux) share this, and their QEMU
// captures in test/fixtures/kernel-boot/.
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { Machine, type MachineOptions } from '../../lib/machine';
import { KERNEL_BOOT_FIXTURES } from './multiboot';

/** A QEMU capture from test/fixtures/kernel-boot/. */
export const kernelBootFixture = (name: string): string => fs.readFileSync(path.join(KERNEL_BOOT_FIXTURES, name), 'latin1');

/**
 * COM1's text once the kernel exits through isa-debug-exit at 0xf4, and the
 * run's result; `create` wraps the machine's creation (e.g. in a working
 * directory, for relative -initrd names).
 */
export async function bootPcKernel(options: Omit<MachineOptions, 'machine' | 'serial'>, create: (make: () => Machine) => Machine = (make) => make()) {
  const com1 = new PassThrough();
  let text = '';
  com1.on('data', (b: Buffer) => { text += b.toString('latin1'); });
  const machine = create(() => Machine.createSync({ machine: 'pc', serial: { output: com1 }, debugExit: { port: 0xf4 }, ...options }));
  try {
    const result = await machine.run({ timeoutMs: 60_000 });
    machine.serial?.flush();
    return { result, text };
  } finally {
    machine.close();
  }
}
