// SeaBIOS on a pc machine with several vCPUs: it wakes the application
// processors (INIT-SIPI-SIPI through the in-kernel LAPIC; they start in
// KVM's wait-for-SIPI), counts them against fw_cfg NB_CPUS/MAX_CPUS and
// CMOS 0x5f as under QEMU (test/fixtures/qemu-pc/smp), and POSTs to the
// memory map of one vCPU. A system reset puts the APs back in wait-for-SIPI.
import * as fs from 'fs';
import * as path from 'path';
import { getMpState } from '../../lib/kvm/mp-state';
import { describeKvm } from '../helpers/kvm';
import { memoryFlatViewOf, memoryTreeDOf, NO_BOOTABLE_DEVICE, PC_FIXTURES, pcMachine } from '../helpers/pc';

const fixture = (rel: string) => fs.readFileSync(path.join(PC_FIXTURES, rel), 'utf8');
/** SeaBIOS's lines about the CPUs it found (src/fw/smp.c), sorted: the APs wake in any order, under QEMU too. */
const cpuLines = (log: string) => log.split('\n').filter((l) => /^handle_smp: |^Found \d+ cpu\(s\)/.test(l)).sort();

describeKvm('SeaBIOS on the pc machine with several vCPUs', () => {
  jest.setTimeout(120_000);

  test('-smp 4: SeaBIOS finds 4 CPUs as under QEMU, the memory map after POST is the one-vCPU map, every vCPU has its cpu-memory-N', async () => {
    const pc = pcMachine({ cpus: 4 });
    try {
      expect(pc.machine.vcpus.map((v) => getMpState(v))).toEqual(['runnable', 'uninitialized', 'uninitialized', 'uninitialized']);
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      expect(cpuLines(pc.debugcon())).toEqual(cpuLines(fixture('smp/debugcon-smp4.log')));
      expect(cpuLines(pc.debugcon())).toContain('Found 4 cpu(s) max supported 4 cpu(s)');
      const m = pc.machine;
      // The one-vCPU tree and flat view, listing cpu-memory-1..3 beside cpu-memory-0 (QEMU sorts the
      // address spaces of one root by name: memory.c, mtree_info_as and mtree_info_flatview).
      const withCpus = (lines: string[], name: (i: number) => string) => {
        const at = lines.indexOf(name(0)) + 1;
        return [...lines.slice(0, at), ...[1, 2, 3].map(name), ...lines.slice(at)];
      };
      expect(memoryTreeDOf(m.mtree({ disabled: true })).split('\n'))
        .toEqual(withCpus(memoryTreeDOf(fixture('post-sizes/m128/info_mtree_D.txt')).split('\n'), (i) => `address-space: cpu-memory-${i}`));
      expect(memoryFlatViewOf(m.mtree({ flat: true })).split('\n'))
        .toEqual(withCpus(memoryFlatViewOf(fixture('post-sizes/m128/info_mtree_f.txt')).split('\n'), (i) => ` AS "cpu-memory-${i}", root: system`));
      // The APs ran SeaBIOS's handle_smp and are parked in it (hlt), not waiting for SIPI any more.
      expect(m.vcpus.slice(1).map((v) => getMpState(v))).not.toContain('uninitialized');
      // A system reset puts them back in wait-for-SIPI; the next POST finds them again.
      m.systemReset();
      expect(m.vcpus.map((v) => getMpState(v))).toEqual(['runnable', 'uninitialized', 'uninitialized', 'uninitialized']);
      const before = pc.debugcon().length;
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      expect(cpuLines(pc.debugcon().slice(before))).toEqual(cpuLines(fixture('smp/debugcon-smp4.log')));
    } finally {
      pc.machine.close();
    }
  });

  test('-smp 2,maxcpus=4: "Found 2 cpu(s) max supported 4 cpu(s)", as under QEMU', async () => {
    const pc = pcMachine({ cpus: 2, maxCpus: 4 });
    try {
      await pc.runUntil(NO_BOOTABLE_DEVICE);
      expect(cpuLines(pc.debugcon())).toEqual(cpuLines(fixture('smp/debugcon-smp2-maxcpus4.log')));
      expect(pc.machine.vcpus).toHaveLength(2);
    } finally {
      pc.machine.close();
    }
  });
});
