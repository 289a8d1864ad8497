// Builds a board into a fresh VM: QEMU's memory_map_init roots, the board's
// RAM and devices (mapped in one transaction), the address spaces and their
// KVM memory listener, and the vCPU. What the Machine then runs; on failure
// everything opened so far is closed again.
import { type Device, deviceRegions, mapDevices } from '../devices/device';
import type { StopRequest } from '../kvm/run-loop';
import { Kvm } from '../kvm/system';
import type { Vcpu } from '../kvm/vcpu';
import type { Vm } from '../kvm/vm';
import { AddressSpace } from '../memory/address-space';
import { MemoryRegion, UNASSIGNED_IO_OPS } from '../memory/region';
import { transaction } from '../memory/transaction';
import type { BoardInstance, BoardPlan } from './board';
import { checkCpusOnHost, cpuidWithApicId } from './cpus';

/** The machine's memory: address spaces and the regions it made. */
export interface MachineMemory {
  /** The system (memory) AddressSpace; map MMIO devices under `root`. */
  readonly system: AddressSpace;
  /** The I/O port AddressSpace; map port devices under `ioRoot`. */
  readonly io: AddressSpace;
  readonly root: MemoryRegion;
  readonly ioRoot: MemoryRegion;
  readonly ram: MemoryRegion;
  /** QEMU's cpu-memory-N address spaces, one per vCPU (boards that have them). */
  readonly cpu: readonly AddressSpace[];
}

/** A built machine, for the Machine to run. */
export interface AssembledMachine {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly memory: MachineMemory;
  readonly board: BoardInstance;
  /** The board's devices, in the order they were plugged. */
  readonly devices: readonly Device[];
  readonly vcpus: Vcpu[];
  /** Regions to close after the address spaces, in creation order. */
  readonly owned: MemoryRegion[];
  /** What QEMU would warn about while building it (CPU features the host lacks, ...). */
  readonly warnings: readonly string[];
}


/** Where to build: the KVM device, and where slot updates are traced (both optional). */
export interface AssembleOptions {
  kvmPath?: string;
  traceSlots?: (line: string) => void;
}

/** Builds `plan` on the KVM device at `kvmPath`; `requestStop` ends the current run (debug-exit). */
export function assemble(plan: BoardPlan, options: AssembleOptions, requestStop: (req: StopRequest) => void): AssembledMachine {
  const kvm = Kvm.open(options.kvmPath);
  const cleanup: (() => void)[] = [() => kvm.close()];
  try {
    const cpus = plan.cpus ?? 1;
    const cpusWarning = cpus > 1 ? checkCpusOnHost(kvm, cpus) : null;
    const vm = kvm.createVm();
    cleanup.push(() => vm.close());
    // QEMU's memory_map_init: the "system" container and the "io" root with unassigned_io_ops.
    const root = MemoryRegion.container('system', 1n << 64n);
    const ioRoot = MemoryRegion.io('io', 0x10000, UNASSIGNED_IO_OPS);
    const owned: MemoryRegion[] = [root, ioRoot];
    cleanup.push(() => { for (const mr of owned.slice().reverse()) mr.close(); });
    const devices: Device[] = [];
    cleanup.push(() => { for (const d of devices.slice().reverse()) d.close?.(); });

    // The address spaces exist from the start, as QEMU's memory_map_init
    // makes them (DMA-capable devices hold the "memory" one); KVM attaches
    // to "memory" once the map is built.
    const spaces: AddressSpace[] = [];
    const system = new AddressSpace(root, 'memory');
    spaces.push(system);
    const io = new AddressSpace(ioRoot, 'I/O');
    spaces.push(io);
    cleanup.push(() => { for (const s of spaces) s.destroy(); });

    // The board's RAM and every device's regions appear in one transaction.
    const board = transaction(() => {
      const built = plan.create({
        kvm, vm, system: root, io: ioRoot, memory: system, ioSpace: io,
        own: (mr) => { owned.push(mr); return mr; },
        plug: (d) => { devices.push(d); return d; },
        requestStop,
      });
      owned.push(...deviceRegions(devices));
      mapDevices({ memory: root, io: ioRoot }, devices);
      return built;
    });

    vm.addAddressSpace(system, { trace: options.traceSlots });

    const vcpus: Vcpu[] = [];
    const cpu: AddressSpace[] = [];
    const warnings: string[] = cpusWarning === null ? [] : [cpusWarning];
    for (let i = 0; i < cpus; i++) {
      // vCPU i has APIC ID i (QEMU's for a topology of one socket).
      const vcpu = vm.createVcpu(i);
      vcpus.push(vcpu);
      if (board.cpuAddressSpaces) cpu.push(new AddressSpace(root, `cpu-memory-${vcpu.id}`));
      // The board's CPU model, or like QEMU's -cpu host: everything KVM can offer (pdpe1gb decides the page size below).
      const model = board.cpuid?.(vcpu);
      const supported = model ? model.entries : kvm.supportedCpuid();
      vcpu.setCpuid(model ? supported : cpuidWithApicId(supported, i));
      if (i === 0) warnings.push(...(model?.warnings ?? []));
    }
    spaces.push(...cpu);
    // The vCPU is put into its mode by load() (or the first run()), which knows
    // the entry point: doing it here too would cost four more ioctls.
    return { kvm, vm, memory: { system, io, root, ioRoot, ram: board.ram, cpu }, board, devices, vcpus, owned, warnings };
  } catch (err) {
    for (const f of cleanup.reverse()) {
      try { f(); } catch { /* report the original error */ }
    }
    throw err;
  }
}
