// A VM with an in-kernel IRQ chip (the pc variant, or the plain one with
// KVM's default routing), 1 MiB of RAM, a debug-exit port and one vCPU in
// flat protected mode at 0x1000, run through the RunLoop so that MMIO and
// port exits reach the device regions as on a machine.
import { DebugExit } from '../../lib/devices/debug-exit';
import { type Device, deviceRegions, mapDevices } from '../../lib/devices/device';
import { createInKernelIrqchip, type InKernelIrqchip } from '../../lib/devices/irqchip';
import { createPcInKernelIrqchip } from '../../lib/devices/kvm-irqchip-pc';
import { type Kvm, RunLoop, setupProtectedMode } from '../../lib';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS } from '../../lib/memory';

export function irqchipRig<C extends InKernelIrqchip>(kvm: Kvm, make: (vm: ReturnType<Kvm['createVm']>) => C | null) {
  const vm = kvm.createVm();
  const chip = make(vm);
  if (chip === null) throw new Error('this host has no KVM_CAP_IRQCHIP');
  const system = MemoryRegion.container('system', 1n << 64n);
  const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
  const ram = MemoryRegion.ram('ram', 0x100000);
  system.addSubregion(0n, ram);
  // (called during a run, when `loop` exists)
  const debugExit = new DebugExit({ onExit: (exitCode) => loop.requestStop({ reason: 'debugExit', exitCode }) });
  const devices: Device[] = [chip, debugExit];
  mapDevices({ memory: system, io: ioRoot }, devices);
  const memory = new AddressSpace(system, 'memory');
  const io = new AddressSpace(ioRoot, 'I/O');
  vm.addAddressSpace(memory);
  const vcpu = vm.createVcpu(0);
  const loop = new RunLoop(vcpu, io, memory);
  const write = (gpa: bigint, bytes: ArrayLike<number>) => memory.write(gpa, Array.from(bytes));
  return {
    vm, chip, vcpu, loop, memory, io, system, ioRoot,
    /** Loads `code` at 0x1000 and points the vCPU at it (flat protected mode). */
    load(code: Uint8Array) {
      write(0x1000n, code);
      setupProtectedMode(vcpu, (g, b) => write(g, b), { gdtAddr: 0x500n, entry: 0x1000n, stack: 0x8000n });
    },
    readU32: (gpa: bigint) => Buffer.from(memory.read(gpa, 4).data).readUInt32LE(0),
    close() {
      vm.close();
      memory.destroy();
      io.destroy();
      for (const r of deviceRegions(devices)) r.close();
      for (const r of [ram, system, ioRoot]) r.close();
    },
  };
}

export const pcChip = (vm: Parameters<typeof createPcInKernelIrqchip>[0]) => createPcInKernelIrqchip(vm);
export const defaultChip = (vm: Parameters<typeof createInKernelIrqchip>[0]) => createInKernelIrqchip(vm);
