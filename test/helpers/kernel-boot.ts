// Booting a test kernel on the pc machine and reading what it printed: the
// kernel-boot tests (multiboot, PVH, Linux) share this, and their QEMU
// captures in test/fixtures/kernel-boot/.
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { Machine, type MachineOptions } from '../../lib/machine';
import { KERNEL_BOOT_FIXTURES } from './multiboot';

/** This host's CPU vendor (/proc/cpuinfo), which QEMU's and node-kvm's qemu64 take under KVM. */
export const HOST_CPU_VENDOR = /^vendor_id\s*:\s*(\S+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';

/**
 * A QEMU capture from test/fixtures/kernel-boot/ for a vCPU of `vendor`
 * (by default this host's, as qemu64 has): only an AMD vCPU's memory map
 * holds the HyperTransport range, so other vendors' captures (intel/, made
 * with -cpu qemu64,vendor=GenuineIntel) lack that entry.
 */
export const kernelBootFixture = (name: string, vendor = HOST_CPU_VENDOR): string =>
  fs.readFileSync(path.join(KERNEL_BOOT_FIXTURES, vendor === 'AuthenticAMD' ? '' : 'intel', name), 'latin1');

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
