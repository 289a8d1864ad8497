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
// Hooks on guest memory accesses (issue 15)
export { MachineHooks } from './machine-hooks';
export type { MemoryAccess, MemoryHook, MemoryHookAccess, MemoryHookCallback, MemoryHookRange } from './machine-hooks';
// Boards, devices and interrupt lines (issue 11)
export { machineTypes, DEFAULT_MACHINE, RESET_VECTOR } from './machines';
export type { Board, BoardContext, BoardInstance, BoardPlan, BoardSnapshotKey, CpuSetup, TinyBoardOptions, PcBoardOptions, PcDiskOptions } from './machines';
export { FirmwareError, readFirmware, SEABIOS_PATH } from './machines/pc/firmware';
export type { Device, DeviceMapping } from './devices/device';
export { kvmIrqLine, callbackIrqLine, IRQCHIP_GSI_COUNT } from './devices/irq-line';
export type { IrqLine } from './devices/irq-line';
export type { IrqchipId, IrqchipState, Pit2State } from './kvm/irqchip-state';
// The pc machine's in-kernel IRQ chip, GSI routing and MSIs (issue 12)
export { createPcInKernelIrqchip, pcGsiRouting } from './devices/kvm-irqchip-pc';
export type { PcInKernelIrqchip } from './devices/kvm-irqchip-pc';
export type { GsiRoute, IrqchipRoute, MsiRoute, MsiMessage } from './kvm/gsi-routing';
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
// QEMU's `pc` machine, piece by piece (issue 12): its memory map, the
// i440FX host bridge and PCI, fw_cfg, the mc146818 RTC and what the machine
// stores in them; devices are Devices (see mapDevices) for a board to plug in.
export { mapDevices } from './devices/device';
export type { DeviceRoots } from './devices/device';
export { PcMemoryMap, PC_ROM_MIN_VGA, PC_ROM_SIZE, checkBiosImage } from './machines/pc/memory-map';
export type { PcMemoryMapOptions, PcMemoryRoots } from './machines/pc/memory-map';
export {
  pcRamSplit, DEFAULT_MAX_RAM_BELOW_4G, I440FX_PCI_HOLE64_SIZE, AMD_HT_START, AMD_ABOVE_1TB_START,
} from './machines/pc/ram-split';
export type { PcRamSplit, PcRamSplitInput, PcRamSplitOptions } from './machines/pc/ram-split';
export { pcE820Entries, encodeE820, E820_RAM, E820_RESERVED, E820_ENTRY_SIZE } from './machines/pc/e820';
export type { E820Entry, PcE820Options } from './machines/pc/e820';
export { addPcFwCfgItems, pcFwCfgMachineReset } from './machines/pc/fw-cfg-items';
export type { PcFwCfgOptions } from './machines/pc/fw-cfg-items';
export { pcCmosInit, pcCmosInitLate, pcSetBootDevices, x86RtcSetCpusCount } from './machines/pc/cmos-init';
export type { PcCmosOptions, PcCmosDisk, PcCmosDrives, PcCmosFloppy } from './machines/pc/cmos-init';
export { PciBus } from './devices/pci/pci-bus';
export {
  PciDevice, PCI_BASE_ADDRESS_SPACE_IO, PCI_BASE_ADDRESS_MEM_TYPE_64, PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_ROM_SLOT,
  PCI_CONFIG_SPACE_SIZE,
} from './devices/pci/pci-device';
export type { PciDeviceOptions, PciDeviceState } from './devices/pci/pci-device';
export { PciHost, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_DATA_PORT } from './devices/pci/pci-host';
export type { PciHostState } from './devices/pci/pci-host';
export { I440fx } from './devices/i440fx';
export type { I440fxOptions } from './devices/i440fx';
export { PamMemoryRegion } from './devices/pam';
export { FwCfgIo, FwCfgKey, FW_CFG_IO_BASE, FW_CFG_DMA_IO_BASE, FW_CFG_FILE_SLOTS_DEFAULT } from './devices/fw-cfg';
export type { FwCfgIoOptions } from './devices/fw-cfg';
export { FwCfgDma, FwCfgDmaControl, FW_CFG_DMA_SIGNATURE } from './devices/fw-cfg-dma';
export { Mc146818Rtc, RtcReg, CMOS_SIZE, RTC_ISA_BASE } from './devices/mc146818-rtc';
export type { Mc146818RtcOptions } from './devices/mc146818-rtc';
export { hostRtcClock } from './devices/rtc-clock';
export type { RtcClock } from './devices/rtc-clock';
export { formatRamBlocks } from './memory/ramblock-info';
export { I8042, I8042Cmd, I8042_DATA_PORT, I8042_CMD_PORT } from './devices/i8042';
export type { I8042Options } from './devices/i8042';
export { Port92, PORT92_PORT } from './devices/port92';
export type { Port92Options } from './devices/port92';
export { Pcspk, PCSPK_PORT, kvmPitChannel2 } from './devices/pcspk';
export type { PcspkOptions, PitChannel2 } from './devices/pcspk';
export { Ioport80, IOPORT80_PORT } from './devices/ioport80';
export { Debugcon, DEBUGCON_PORT } from './devices/debugcon';
export type { DebugconOptions } from './devices/debugcon';
export { pitChannel, pitChannelOutput, withPitGate } from './kvm/pit-state';
export type { PitChannelState } from './kvm/pit-state';
export { Piix3, PIIX_RCR_IOPORT, ELCR_IOPORT } from './devices/piix3';
export type { Piix3Options, Piix3State, ResetKind } from './devices/piix3';
export { Piix4Pm, piix4SystemStates } from './devices/piix4-pm';
export { PM_TIMER_FREQUENCY } from './devices/acpi-pm-regs';
export type { Piix4PmOptions, Piix4PmState } from './devices/piix4-pm';
export { Piix3IdePci } from './devices/piix3-ide-pci';
// The PIIX IDE's parts (issue 12): channels, ATA disks on raw images, the BMDMA block for BAR 4.
export { IdeBus, IDE_PRIMARY, IDE_SECONDARY } from './devices/ide/ide-bus';
export type { IdeBusOptions } from './devices/ide/ide-bus';
export { AtaDisk, qemuDriveSerial, MAX_MULT_SECTORS } from './devices/ide/ata-disk';
export type { AtaDiskOptions } from './devices/ide/ata-disk';
export { DiskImage, DiskImageError, SECTOR_SIZE } from './devices/ide/disk-image';
export type { DiskImageOptions } from './devices/ide/disk-image';
export { PiixBmdma, BmdmaChannel, BMDMA_BAR_SIZE } from './devices/ide/bmdma';
export type { PiixBmdmaOptions } from './devices/ide/bmdma';
export { hdGeometryGuess } from './devices/ide/hd-geometry';
