// The pc models as Devices (lib/devices/device.ts): QEMU's type names, the
// I/O mappings QEMU's tree shows, and states a snapshot (in memory and in a
// file's JSON encoding) saves and restores, on a real machine too.
import { mapDevices, type Device } from '../../lib/devices/device';
import { FwCfgIo, FwCfgKey } from '../../lib/devices/fw-cfg';
import { I440fx } from '../../lib/devices/i440fx';
import { Mc146818Rtc, RtcReg } from '../../lib/devices/mc146818-rtc';
import { PciBus } from '../../lib/devices/pci/pci-bus';
import { PciHost } from '../../lib/devices/pci/pci-host';
import { MemoryRegion, formatTreeOf } from '../../lib/memory';
import { type DeviceStateValue, stateFromJson, stateToJson } from '../../lib/snapshot/device-state';
import { describeKvm } from '../helpers/kvm';
import { testMachine } from '../helpers/machine';
import { configRead, configWrite, fixture, testPc } from '../helpers/pc';
import { fakeClock, utcNs } from './rtc-rig';

const MiB = 1n << 20n;

/** A state as a snapshot file stores and reads it back. */
function throughFile(state: DeviceStateValue): DeviceStateValue {
  return stateFromJson(JSON.parse(JSON.stringify(stateToJson(state))));
}

describe('the pc models are Devices', () => {
  test("names are QEMU's qtree type names; mapped with mapDevices, the I/O tree has QEMU's lines", () => {
    const pc = testPc(128n * MiB);
    const rtc = new Mc146818Rtc({ clock: fakeClock(utcNs(2026, 12, 1, 12, 0, 0)) });
    const fw = new FwCfgIo({ dmaAddressSpace: pc.map.memory });
    try {
      mapDevices({ memory: pc.map.system, io: pc.map.io }, [rtc, fw]);
      const devices: Device[] = [rtc, fw, pc.map.pciHost, pc.map.i440fx];
      const qtree = fixture('m128/post/info_qtree.txt');
      for (const d of devices) expect([d.name, qtree.includes(`dev: ${d.name}, id ""`)]).toEqual([d.name, true]);
      expect(devices.map((d) => d.name)).toEqual(['mc146818rtc', 'fw_cfg_io', 'i440FX-pcihost', 'i440FX']);
      const want = fixture('m128/reset/io-tree.txt').split('\n').map((l) => l.trim())
        .filter((l) => / (rtc|rtc-index|fwcfg|fwcfg\.dma|pci-conf-idx|pci-conf-data)$/.test(l));
      expect(want).toHaveLength(6);
      const got = formatTreeOf(pc.map.io).split('\n').map((l) => l.trim());
      for (const line of want) expect(got).toContain(line);
      // the i440FX's mappings: the pci container under everything, then smram-region and 13 x 4 PAM aliases
      const m = pc.map.i440fx.mappings;
      expect(m).toHaveLength(2 + 13 * 4);
      expect(m.slice(0, 2).map((x) => [x.space, x.address, x.region.name, x.priority])).toEqual([
        ['memory', 0n, 'pci', -1], ['memory', 0xa0000n, 'smram-region', 1],
      ]);
      expect(m.slice(2).every((x) => x.space === 'memory' && x.priority === 1 && x.region.container === pc.map.system)).toBe(true);
      expect(pc.map.i440fx.snapshotName).toBe('0000:00:00.0/i440FX');
      expect(new Set(devices.map((d) => d.snapshotName)).size).toBe(devices.length);
      expect(() => new Mc146818Rtc({ irq: { set: 1 } as never })).toThrow(
        new TypeError('rtc irq must be an IrqLine (kvmIrqLine(), callbackIrqLine()) or a function (level) => void'));
    } finally {
      rtc.close();
      fw.close();
      pc.close();
    }
  });

  test('every state survives the file encoding and puts the device back', () => {
    const pc = testPc(128n * MiB);
    const rtc = new Mc146818Rtc({ clock: fakeClock(utcNs(2026, 12, 1, 12, 0, 0)) });
    const fw = new FwCfgIo({ dmaAddressSpace: pc.map.memory });
    try {
      mapDevices({ memory: pc.map.system, io: pc.map.io }, [rtc, fw]);
      const io = pc.map.ioSpace;
      io.write(0x70, [0x40]);
      io.write(0x71, [0x5a]);
      io.write(0x510, [FwCfgKey.ID, 0]);
      io.read(0x511, 1);
      configWrite(io, 0, 0x58, 0x33333000, 4); // PAM: 0xf0000 read/write RAM
      io.write(0xcf8, [0x58, 0, 0, 0x80]);
      const devices = [rtc, fw, pc.map.pciHost, pc.map.i440fx];
      const saved = devices.map((d) => throughFile(d.saveState()));
      io.write(0x70, [0x40]);
      io.write(0x71, [0x00]);
      io.write(0x510, [FwCfgKey.SIGNATURE, 0]);
      configWrite(io, 0, 0x58, 0, 4);
      devices.forEach((d, i) => d.loadState(saved[i]));
      expect(Array.from(io.read(0xcf8, 4).data)).toEqual([0x58, 0, 0, 0x80]);
      expect(io.read(0x511, 1).data[0]).toBe(0); // ID's second byte: the offset was restored
      expect(rtc.getCmos(0x40)).toBe(0x5a);
      expect(configRead(io, 0, 0x58, 4)).toBe(0x33333000);
      expect(pc.map.i440fx.pam[0].current).toBe(3);
    } finally {
      rtc.close();
      fw.close();
      pc.close();
    }
  });
});

describeKvm('pc models in a real machine', () => {
  test("mapped into a Machine's roots and added to its snapshots: restore() brings back the RTC, the latch and the i440FX's registers", async () => {
    const { machine } = await testMachine({ mode: 'real' });
    const pci = MemoryRegion.container('pci', 1n << 64n);
    const bus = new PciBus('pci.0', pci, machine.memory.ioRoot);
    const host = new PciHost(bus);
    const i440fx = new I440fx({ bus, pci, ram: machine.memory.ram, ramSize: 4n * MiB });
    const rtc = new Mc146818Rtc({ clock: fakeClock(utcNs(2026, 12, 1, 12, 0, 0)) });
    const fw = new FwCfgIo({ dmaAddressSpace: machine.memory.system });
    const devices = [host, i440fx, rtc, fw];
    try {
      mapDevices({ memory: machine.memory.root, io: machine.memory.ioRoot }, devices);
      for (const d of devices) machine.addDevice(d);
      const io = machine.memory.io;
      configWrite(io, 0, 0x5a, 0x31, 1);
      io.write(0x70, [RtcReg.B]);
      io.write(0x71, [0x06]);
      configWrite(io, 0, 0x60, 0x0a, 1);
      const snap = machine.snapshot();
      // (a PAM change here would make restore() refuse: the snapshot's layout check compares flat views)
      configWrite(io, 0, 0x60, 0x80, 1);
      io.write(0x70, [RtcReg.B]);
      io.write(0x71, [0x02]);
      io.write(0xcf8, [0, 0, 0, 0]);
      machine.restore(snap);
      expect(Array.from(io.read(0xcf8, 4).data)).toEqual([0x60, 0, 0, 0x80]); // the latch of the last access before the snapshot
      expect(rtc.getCmos(RtcReg.B)).toBe(0x06);
      expect(i440fx.pam.slice(1, 3).map((s) => s.current)).toEqual([1, 3]);
      expect(configRead(io, 0, 0x60, 1)).toBe(0x0a);
      expect(configRead(io, 0, 0x5a, 1)).toBe(0x31);
      expect(machine.mtree({ flat: true })).toContain('00000000000c0000-00000000000c3fff (prio 0, rom): ram @00000000000c0000 KVM\n'); // pam-rom
    } finally {
      for (const d of devices.slice().reverse()) d.close();
      pci.close();
      machine.close();
    }
  });
});
