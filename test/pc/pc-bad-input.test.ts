// Bad input to Machine.create({ machine: 'pc' }) gets a clear, typed error
// that says what to do, and nothing stays open: no fd, no mapping.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DiskImageError } from '../../lib/devices/ide/disk-image';
import { GuestMemoryLimitError } from '../../lib/host-limits';
import { Machine, type MachineOptions } from '../../lib/machine';
import { FirmwareError, SEABIOS_PATH } from '../../lib/machines/pc/firmware';
import { runChild } from '../helpers/child';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

describeKvm('pc machine: bad input', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-pc-bad-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, () => MachineOptions, new (...a: never[]) => Error, string | RegExp][] = [
    ['a missing BIOS file', () => ({ bios: path.join(dir, 'nope.bin') }), FirmwareError,
      `could not load PC BIOS '${path.join(dir, 'nope.bin')}': No such file or directory; give a SeaBIOS-style image (a multiple of 64 KiB) with bios: / -bios, or leave it out to use Debian's SeaBIOS`],
    ['a BIOS file of the wrong size', () => {
      const f = path.join(dir, 'short.bin');
      fs.writeFileSync(f, Buffer.alloc(1000));
      return { bios: f };
    }, FirmwareError, /^could not load PC BIOS '.*short\.bin': its size \(1000 bytes\) must be a non-zero multiple of 64 KiB/],
    ['a directory as BIOS', () => ({ bios: dir }), FirmwareError, /^could not load PC BIOS '.*': .* is a directory/],
    ['BIOS bytes of the wrong size', () => ({ bios: new Uint8Array(100) }), RangeError, /must be a non-zero multiple of 64 KiB/],
    ['a missing disk image', () => ({ disks: [path.join(dir, 'disk.img')] }), DiskImageError, `Could not open '${path.join(dir, 'disk.img')}': No such file or directory`],
    ['a disk index taken twice', () => ({ disks: [{ file: '/dev/null', index: 1 }, { file: '/dev/null', index: 1 }] }), RangeError, 'drive with bus=0, unit=1 (index=1) exists'],
    ['five IDE disks', () => ({ disks: ['a', 'b', 'c', 'd', 'e'] }), RangeError, /too many IDE drives: the pc machine has 4/],
    ['a malformed disk entry', () => ({ disks: [{ file: 'x', format: 'qcow2' } as never] }), TypeError, /unknown option 'format'/],
    ['more RAM than the host has', () => ({ memory: '200G' }), GuestMemoryLimitError, /^RAM block "pc.ram": 200 GiB of guest RAM is more than this host can back: .*NODE_KVM_MAX_GUEST_RAM/],
    ['more RAM than 40 physical address bits reach', () => ({ memory: '2T' }), RangeError, 'Address space limit 0xffffffffff < 0x2ffbfffffff phys-bits too low (40): use less RAM'],
    ['memory that is no size', () => ({ memory: '12Q' }), RangeError, /is not a size/],
    ['no vCPU', () => ({ cpus: 0 }), RangeError, /cpus must be at least 1, got 0/],
    ['half a vCPU', () => ({ cpus: 1.5 }), TypeError, /cpus must be a whole number of vCPUs \(1 or more\), got 1.5/],
    ['cpus as a string', () => ({ cpus: '2' } as never), TypeError, /cpus must be a whole number of vCPUs \(1 or more\), got string/],
    ['more vCPUs than KVM creates', () => ({ cpus: 100000 }), RangeError, /^cpus 100000 is above this KVM's limit of \d+ vCPUs \(KVM_CAP_MAX_VCPUS\): ask for at most \d+ \(KVM recommends at most \d+, KVM_CAP_NR_VCPUS\)$/],
    ['maxCpus below cpus', () => ({ cpus: 2, maxCpus: 1 }), RangeError, /maxCpus \(1\) must be at least cpus \(2\)/],
    ['an option of the tiny board', () => ({ mode: 'long' } as never), TypeError, /unknown option 'mode' for Machine.create\(\); valid options: memory, cpus, maxCpus, cpu, bios, disks/],
    ['an unknown CPU model', () => ({ cpu: 'pentium9' }), Error, /^unable to find CPU model 'pentium9'/],
    ['a CPU flag QEMU does not have', () => ({ cpu: 'qemu64,+frobnicate' }), Error, /frobnicate/],
    ['a reboot timeout out of range', () => ({ rebootTimeout: 70000 }), RangeError, /reboot timeout is invalid/],
  ];

  test.each(cases)('%s', (_name, options, type, message) => {
    const opts = options();
    const fds = openFdCount();
    const maps = mappingCount();
    let err: unknown;
    try {
      Machine.createSync({ machine: 'pc', serial: false, ...opts }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(type);
    if (typeof message === 'string') expect((err as Error).message).toBe(message);
    else expect((err as Error).message).toMatch(message);
    expect(openFdCount()).toBe(fds);
    expect(mappingCount()).toBe(maps);
  });

  test('without the seabios package the error names it (a child process where opening the default path fails with ENOENT)', () => {
    const r = runChild(`
      const fs = require('fs');
      const open = fs.openSync;
      fs.openSync = (file, ...rest) => {
        if (file === ${JSON.stringify(SEABIOS_PATH)}) throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
        return open(file, ...rest);
      };
      const { Machine } = require('./lib');
      try { Machine.createSync({ machine: 'pc', serial: false }); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
    `);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      name: 'FirmwareError', code: 'ENOENT',
      message: "could not load PC BIOS '/usr/share/seabios/bios-256k.bin': No such file or directory; install Debian's package seabios (apt-get install seabios), or give another image with bios: / -bios",
    });
  });
});

describeKvm('pc machine: the CPU model', () => {
  test("the default is QEMU's qemu64 with QEMU's warnings for what this host's KVM filters; -cpu strings are taken", () => {
    const m = Machine.createSync({ machine: 'pc', serial: false });
    try {
      // QEMU 7.2 prints the same on this host (test/fixtures/qemu-cpuid/messages.txt)
      expect(m.warnings).toContain("host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]");
      const leaf = (fn: number) => m.vcpu.getCpuid().find((e) => e.function === fn && e.index === 0)!;
      expect(Buffer.from(new Uint32Array([leaf(0x80000002).eax, leaf(0x80000002).ebx, leaf(0x80000002).ecx, leaf(0x80000002).edx]).buffer).toString('latin1')).toBe('QEMU Virtual CPU');
      expect(leaf(0x40000000).eax).toBe(0x40000001);
    } finally {
      m.close();
    }
    const k = Machine.createSync({ machine: 'pc', serial: false, cpu: 'qemu64,kvm=off' });
    try {
      expect(k.vcpu.getCpuid().some((e) => e.function === 0x40000000)).toBe(false);
    } finally {
      k.close();
    }
  });
});
