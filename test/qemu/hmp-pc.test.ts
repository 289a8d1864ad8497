// The monitor over the pc pieces and a real vCPU, the way the integrator's
// target wires them: what goes out on the stream for `info pci`, `info
// mtree [-D]`, `info ramblock` and `info registers` is QEMU 7.2's text
// (with its "\r\n"), for the same state.
import * as fs from 'fs';
import * as path from 'path';
import { Kvm } from '../../lib';
import { mapDevices } from '../../lib/devices/device';
import { callbackIrqLine } from '../../lib/devices/irq-line';
import { formatInfoPci } from '../../lib/devices/pci/info-pci';
import { Piix3 } from '../../lib/devices/piix3';
import { Piix3IdePci } from '../../lib/devices/piix3-ide-pci';
import { Piix4Pm } from '../../lib/devices/piix4-pm';
import { formatMtree } from '../../lib/memory';
import { formatRamBlocks } from '../../lib/memory/ramblock-info';
import { HmpMonitor, type HmpTarget } from '../../lib/qemu/hmp';
import { formatInfoRegisters, readInfoRegistersState } from '../../lib/x86/info-registers';
import { PassThrough } from 'stream';
import { fakeClock } from '../pc/rtc-rig';
import { describeKvm } from '../helpers/kvm';
import { fixture, seabiosSouthbridgePost, testPc } from '../helpers/pc';

const MiB = 1n << 20n;
const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

describeKvm('HMP over the pc pieces', () => {
  test("each answer between the echoed line and the next prompt is QEMU's", async () => {
    const pc = testPc(128n * MiB);
    const isaIrqs = Array.from({ length: 16 }, (_, i) => callbackIrqLine(() => {}, `ISA ${i}`));
    const devices = [
      new Piix3({ bus: pc.map.pciBus, isaIrqs, onResetRequest: () => {} }),
      new Piix3IdePci(pc.map.pciBus),
      new Piix4Pm({ bus: pc.map.pciBus, sci: () => {}, clock: fakeClock(0n) }),
    ];
    mapDevices({ memory: pc.map.system, io: pc.map.io }, devices);
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    const vcpu = vm.createVcpu(0);
    vcpu.setRegs({ rdx: 0x60fb1n }); // QEMU's default CPU model's signature, its EDX at reset
    const target: HmpTarget = {
      mtree: (o) => formatMtree([pc.map.memory, pc.cpu], o),
      formatRamBlocks: () => formatRamBlocks(pc.map.ramList),
      infoPci: () => formatInfoPci(pc.map.pciBus),
      cpuCount: () => 1,
      infoRegisters: () => formatInfoRegisters(readInfoRegistersState(vcpu)),
      runState: () => 'prelaunch', stop() {}, cont() {}, systemReset() {}, quit() {},
    };
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      let out = '';
      output.on('data', (d: Buffer) => { out += d.toString(); });
      const commands = ['info mtree', 'info mtree -D', 'info registers', 'info pci', 'info ramblock'];
      const done = new HmpMonitor(target, { input, output }).run();
      input.write(commands.slice(0, 3).map((c) => `${c}\n`).join(''));
      await new Promise((r) => setImmediate(r));
      seabiosSouthbridgePost(pc.map.ioSpace); // the PCI writes SeaBIOS does during POST, before `info pci`
      input.end(commands.slice(3).map((c) => `${c}\n`).join(''));
      await done;
      const answers = out.split('(qemu) ');
      expect(answers[0]).toBe("QEMU 7.2.22 monitor - type 'help' for more information\r\n");
      const answer = (c: string) => answers[1 + commands.indexOf(c)].replace(`${c}\r\n`, '');
      expect(answer('info mtree')).toBe(crlf(`${fixture('m128/reset/memory-tree.txt')}\n`));
      expect(answer('info mtree -D')).toBe(crlf(`${fixture('m128/reset/memory-tree-D.txt')}\n`));
      const regs = fs.readFileSync(path.resolve(__dirname, '../fixtures/qemu-hmp/reset-info_registers.txt'), 'utf8');
      expect(answer('info registers')).toBe(crlf(`\nCPU#0\n${regs}`));
      expect(answer('info pci')).toBe(fixture('m128/post/info_pci.txt'));
      const rows = answer('info ramblock').split('\r\n');
      const want = fixture('m128/post/info_ramblock.txt').split('\r\n');
      expect(rows).toEqual([...want.filter((l) => !l.includes('/rom@etc')).slice(0, -1), '']);
    } finally {
      vm.close();
      kvm.close();
      for (const d of devices) d.close();
      pc.close();
    }
  });
});
