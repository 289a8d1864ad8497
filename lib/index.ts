// node-kvm: QEMU-exact guest memory maps and tiny x86 guests on real KVM.
export { KvmError } from './errors';
export { allocateHostMemory } from './host-memory';
export type { HostMemory, HostMemoryOptions } from './host-memory';
export { Kvm } from './kvm/system';
export type { CpuidEntry } from './kvm/system';
export { Vm, PAGE_SIZE } from './kvm/vm';
export type { UserMemoryRegion } from './kvm/vm';
export { Vcpu } from './kvm/vcpu';
export type { VcpuExit } from './kvm/exits';
export type { Registers, SpecialRegisters, Segment, DescriptorTable } from './kvm/registers';
export { setupRealMode, setupProtectedMode, setupLongMode, pageTableBytes } from './x86/modes';
export type { CpuMode, GuestWriter, LongModeOptions, ProtectedModeOptions } from './x86/modes';
