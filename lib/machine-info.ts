// What the monitor's `info` commands print about a machine (QEMU's hmp-cmds):
// `info mtree` over every address space the machine has, `info pci`, and
// `info registers` of one vCPU read while it is held out of KVM_RUN.
import { formatInfoPci } from './devices/pci/info-pci';
import type { Vcpu } from './kvm/vcpu';
import type { Vm } from './kvm/vm';
import type { MachineMemory } from './machines/assemble';
import type { BoardInstance } from './machines/board';
import { formatMtree } from './memory/mtree';
import { formatInfoRegisters, readInfoRegistersState } from './x86/info-registers';

/** `info mtree [-f] [-D]`: "memory", the CPUs' address spaces, "I/O", then the PCI functions' bus-master spaces, in QEMU's order. */
export function machineMtree(memory: MachineMemory, board: BoardInstance, opts: { flat?: boolean; disabled?: boolean }): string {
  const busMasters = (board.pciBus?.functions ?? []).flatMap((f) => (f.busMaster ? [f.busMaster.addressSpace] : []));
  return formatMtree([memory.system, ...memory.cpu, memory.io, ...busMasters], { flat: !!opts.flat, disabled: !!opts.disabled });
}

/** `info pci` (boards with PCI: 'pc'). */
export function machineInfoPci(board: BoardInstance): string {
  if (board.pciBus === undefined) throw new TypeError("formatInfoPci(): this machine has no PCI bus (machine 'pc' has one)");
  return formatInfoPci(board.pciBus);
}

/** `info registers` of vCPU `cpu`; a vCPU running on its thread is held out of KVM_RUN meanwhile (QEMU's cpu_synchronize_state). */
export function machineInfoRegisters(vm: Vm, vcpus: readonly Vcpu[], board: BoardInstance, cpu: number): string {
  const vcpu = vcpus[cpu];
  if (!Number.isInteger(cpu) || vcpu === undefined) throw new RangeError(`CPU#${String(cpu)} not available (this machine has ${vcpus.length})`);
  const release = vm.holdVcpus();
  try {
    return formatInfoRegisters(readInfoRegistersState(vcpu, board.a20?.() ?? true));
  } finally {
    release();
  }
}
