// node-kvm: QEMU-exact guest memory maps and tiny x86 guests on real KVM.
// The memory model (QEMU's MemoryRegion / AddressSpace / FlatView)
export * from './memory';
export { KvmError } from './errors';
export { allocateHostMemory } from './host-memory';
export type { HostMemory, HostMemoryOptions } from './host-memory';
export { Kvm } from './kvm/system';
export type { CpuidEntry } from './kvm/cpuid';
export { Vm } from './kvm/vm';
export type { UserMemoryRegion } from './kvm/vm';
export { Vcpu } from './kvm/vcpu';
export type { VcpuExit } from './kvm/exits';
export type { Registers, SpecialRegisters, Segment, DescriptorTable } from './kvm/registers';
export { setupRealMode, setupProtectedMode, setupLongMode, pageTableBytes } from './x86/modes';
export { resetVcpuState } from './x86/reset';
export type { CpuMode, GuestWriter, LongModeOptions, ProtectedModeOptions } from './x86/modes';
// vCPU run loop, x86 set-up, devices, machine (issue 5)
export { RunLoop, DeviceError } from './kvm/run-loop';
export type { RunResult, RunOptions, AsyncRunOptions, StopReason, StopRequest } from './kvm/run-loop';
export { LapicState, LAPIC_REG } from './kvm/cpu-state';
export type { FpuState } from './kvm/cpu-state';
export { guessInstruction } from './kvm/emulation-failure';
export { identityPageTables, cpuidHas1GPages } from './x86/modes';
export type { LargePageSize } from './x86/modes';
export { loadFlat } from './x86/loader-flat';
export type { LoadedImage } from './x86/loader-flat';
export { loadElf, parseElf, isElf } from './x86/loader-elf';
export { Serial16550A, COM1_PORT } from './devices/serial-16550a';
export type { Serial16550AOptions } from './devices/serial-16550a';
export { DebugExit, DEBUG_EXIT_PORT } from './devices/debug-exit';
export { createInKernelIrqchip } from './devices/irqchip';
export type { InKernelIrqchip } from './devices/irqchip';
export { Machine, MACHINE_LAYOUT } from './machine';
export type { MachineOptions, MachineMemory, LoadOptions, SerialOptions, SnapshotFileOptions, MachineLoadOptions } from './machine';
// Boards, devices and interrupt lines (issue 11)
export { machineTypes, DEFAULT_MACHINE } from './machines';
export type { Board, BoardContext, BoardInstance, BoardPlan, BoardSnapshotKey, CpuSetup, TinyBoardOptions } from './machines';
export type { Device, DeviceMapping } from './devices/device';
export { kvmIrqLine, callbackIrqLine, IRQCHIP_GSI_COUNT } from './devices/irq-line';
export type { IrqLine } from './devices/irq-line';
export type { IrqchipId, IrqchipState, Pit2State } from './kvm/irqchip-state';
export { parseSize, parseAddress } from './parse-size';
// KVM memory listener: flat view -> memory slots, dirty log, vCPU threads (issue 4)
export { KvmMemoryListener, guestMmioAccess, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, KVM_MAX_SLOT_SIZE, UNSLOTTABLE_WARNING } from './kvm/memory-listener';
export type { KvmSlot, KvmMemoryListenerOptions, TrappedRange, TrappedReason } from './kvm/memory-listener';
export { GuestMemoryLimitError, guestMemoryLimit, MAX_GUEST_RAM_ENV } from './host-limits';
export { VcpuThread } from './kvm/vcpu-thread';
export type { VcpuThreadOptions } from './kvm/vcpu-thread';
// Snapshots and fast reset (issue 7)
export { Snapshot, SnapshotError, SNAPSHOT_FORMAT_VERSION } from './snapshot/snapshot';
export type { SnapshotLayout, SnapshotErrorKind } from './snapshot/snapshot';
export type { SnapshotDevice, DeviceStateValue } from './snapshot/device-state';
export type { SnapshotOptions, RestoreOptions, RestoreStats } from './snapshot/machine-snapshot';
export type { RestoreLevel } from './snapshot/vcpu-state';
