// QEMU's isa-pcspk port (hw/audio/pcspk.c) at 0x61, "pcspk" in the I/O tree:
// bit 0 is PIT channel 2's gate, bit 1 the speaker data enable, bit 4 a
// refresh toggle that flips on every read (firmware delay loops wait on it)
// and bit 5 channel 2's output. There is no sound: only the port.
//
// The PIT is in the kernel (kvm-pit), so channel 2 is reached through an
// interface: kvmPitChannel2(vm) backs it with KVM_GET_PIT2/KVM_SET_PIT2, as
// QEMU's kvm-i8254.c does. QEMU's pcspk has no reset handler: data_on and
// the toggle survive a system reset (the PIT's own reset clears the gate).
import type { Vm } from '../kvm/vm';
import { pitChannel, pitChannelOutput, withPitGate } from '../kvm/pit-state';
import { MemoryRegion } from '../memory/region';
import { checkOptions, type OptionKeys } from '../options';
import { type DeviceStateValue, type SnapshotDevice, stateField } from '../snapshot/device-state';
import { checkIoPort, type Device, type DeviceMapping } from './device';

/** QEMU's isa-pcspk iobase. */
export const PCSPK_PORT = 0x61;

/** PIT channel 2 as the speaker port sees it. */
export interface PitChannel2 {
  getChannel2(): { gate: boolean; output: boolean };
  setGate(level: boolean): void;
}

/** Channel 2 of the VM's in-kernel PIT (which must exist). */
export function kvmPitChannel2(vm: Vm): PitChannel2 {
  return {
    getChannel2() {
      const ch = pitChannel(vm.getPit2(), 2);
      return { gate: ch.gate, output: pitChannelOutput(ch, process.hrtime.bigint()) };
    },
    // KVM_SET_PIT2 reloads the counters from the state (kvm_pit_load_count), which is QEMU's way too
    setGate(level) {
      vm.setPit2(withPitGate(vm.getPit2(), 2, level));
    },
  };
}

export interface PcspkOptions {
  /** PIT channel 2 (kvmPitChannel2(vm) on a KVM board). */
  pit: PitChannel2;
  /** I/O port (default 0x61; QEMU's iobase property). */
  iobase?: number;
}

const PCSPK_OPTIONS = { pit: true, iobase: true } as const satisfies OptionKeys<PcspkOptions>;

export class Pcspk implements Device, SnapshotDevice {
  /** QEMU's type name. */
  readonly name = 'isa-pcspk';
  readonly snapshotName = 'isa-pcspk';
  readonly region: MemoryRegion;
  readonly mappings: readonly DeviceMapping[];
  private dataOn = false;
  /** dummy_refresh_clock: bit 4, flipped by each read */
  private refresh = 0;

  constructor(options: PcspkOptions) {
    const opts = checkOptions(options, PCSPK_OPTIONS, 'new Pcspk()');
    const pit = opts.pit;
    if (typeof pit !== 'object' || pit === null || typeof pit.getChannel2 !== 'function' || typeof pit.setGate !== 'function') {
      throw new TypeError('Pcspk needs pit: { getChannel2(), setGate(level) } (kvmPitChannel2(vm) for the in-kernel PIT)');
    }
    const iobase = checkIoPort(opts.iobase ?? PCSPK_PORT, 'pcspk iobase');
    this.region = MemoryRegion.io('pcspk', 1, {
      read: () => {
        const ch = pit.getChannel2();
        this.refresh ^= 0x10;
        return (ch.gate ? 0x01 : 0) | (this.dataOn ? 0x02 : 0) | this.refresh | (ch.output ? 0x20 : 0);
      },
      write: (_offset, value) => {
        this.dataOn = (value & 2n) !== 0n;
        pit.setGate((value & 1n) !== 0n);
      },
      impl: { minAccessSize: 1, maxAccessSize: 1 },
      endianness: 'little',
    });
    this.mappings = [{ space: 'io', address: BigInt(iobase), region: this.region }];
  }

  saveState(): DeviceStateValue {
    return { dataOn: this.dataOn, refresh: this.refresh };
  }

  loadState(state: DeviceStateValue): void {
    const dataOn = stateField(state, 'dataOn', 'boolean', 'isa-pcspk');
    const refresh = stateField(state, 'refresh', 'number', 'isa-pcspk');
    if (refresh !== 0 && refresh !== 0x10) throw new RangeError('isa-pcspk state: refresh must be 0 or 0x10');
    this.dataOn = dataOn;
    this.refresh = refresh;
  }
}
