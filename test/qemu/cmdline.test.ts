// parseQemuCommandLine: what QEMU command lines mean, with QEMU 7.2's
// defaults: the command lines the QEMU fixtures were captured with, the ones
// kvm-unit-tests' runner builds, units, topology, drives, serial ports and
// monitors (the defaults checked against this host's QEMU with `info chardev`).
import * as fs from 'fs';
import * as path from 'path';
import { parseQemuCommandLine } from '../../lib/qemu/cmdline';
import { QemuOptionError } from '../../lib/qemu/qemu-error';
import type { QemuCommand } from '../../lib/qemu/command';

const MiB = 1n << 20n;
const GiB = 1n << 30n;

function run(args: string[]): QemuCommand {
  const r = parseQemuCommandLine(args);
  if (r.kind !== 'run') throw new Error(`expected a command, got ${r.kind}`);
  return r;
}

const words = (line: string) => line.trim().split(/\s+/);

function errorOf(args: string[]): QemuOptionError {
  try {
    parseQemuCommandLine(args);
  } catch (err) {
    if (err instanceof QemuOptionError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('the command lines of the QEMU fixtures (test/fixtures/qemu-pc/*/cmdline.txt)', () => {
  const root = path.join(__dirname, '..', 'fixtures', 'qemu-pc');
  const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('cmdline.txt')).sort();

  test('there are some', () => expect(files.length).toBeGreaterThanOrEqual(19));

  test.each(files)('%s', (file) => {
    const line = fs.readFileSync(path.join(root, file), 'utf8').replace(/\(\+ what vmm-session\.py adds\)/, '');
    const [prog, ...args] = words(line);
    expect(prog).toBe('qemu-system-x86_64');
    const c = run(args);
    // The directory names the RAM size (m128, m1G, m3968M...) and any max-ram-below-4g.
    // boot-disk has no size in its name: it was captured at -m 128 (its README).
    const m = /(?:^|\/)m(\d+)([MG]?)(?:-max-ram-below-4g=(\d+)G)?\//.exec(file) ?? [file, '128', 'M', undefined];
    expect(c.memory).toEqual({ size: BigInt(m[1]) * (m[2] === 'G' ? GiB : MiB), maxSize: null, slots: 0 });
    expect(c.machine.maxRamBelow4g).toBe(m[3] === undefined ? null : BigInt(m[3]) * GiB);
    expect(c.machine.type).toBe('pc-i440fx-7.2');
    expect(c.machine.hpet).toBe(false);
    expect(c.accel).toBe('kvm');
    expect(c.smp).toEqual({ cpus: 1, sockets: 1, dies: 1, clusters: 1, cores: 1, threads: 1, maxCpus: 1 });
    expect(c.cpu).toEqual({ model: 'qemu64', text: 'qemu64', settings: [] });
    expect(c.nodefaults).toBe(true);
    expect(c.vga).toBe('none');
    expect(c.serials).toEqual([]);
    expect(c.globals).toEqual([{ driver: 'kvm-apic', property: 'vapic', value: 'false' }]);
    expect(c.noReboot).toBe(true);
    expect(c.startStopped).toBe(args.includes('-S'));
    expect(c.warnings).toEqual([]);
  });

  test('boot-disk: the debugcon on a file chardev, QMP, the raw IDE disk', () => {
    const [, ...args] = words(fs.readFileSync(path.join(root, 'boot-disk', 'cmdline.txt'), 'utf8'));
    const c = run(args);
    expect(c.chardevs).toEqual([{ id: 'd', backend: { kind: 'file', path: 'debugcon.log', mux: false } }]);
    expect(c.devices).toEqual([{ driver: 'isa-debugcon', props: [['iobase', '0x402'], ['chardev', 'd']], location: '-device isa-debugcon,iobase=0x402,chardev=d' }]);
    expect(c.monitors).toEqual([{ mode: 'control', device: 'unix:qmp.sock,server=on,wait=off' }]);
    expect(c.drives).toEqual([{
      location: '-drive file=disk.img,format=raw,if=ide', file: 'disk.img', format: 'raw', bus: 0, unit: 0, index: 0,
      media: 'disk', snapshot: false, readOnly: false,
    }]);
    expect(c.display).toBe('none');
  });
});

describe("kvm-unit-tests' runner (x86/run, scripts/arch-run.bash, x86/unittests.cfg)", () => {
  const RUNNER = '--no-reboot -nodefaults -global kvm-pit.lost_tick_policy=discard -device pc-testdev '
    + '-device isa-debug-exit,iobase=0xf4,iosize=0x4 -display none -serial stdio -device pci-testdev -machine accel=kvm -kernel';

  test('a test: the kernel, -smp, -append, the environment as -initrd', () => {
    const c = run([...words(RUNNER), 'x86/vmexit.flat', '-smp', '1', '-append', 'cpuid', '-initrd', '/tmp/tmp.env']);
    expect(c.kernel).toBe('x86/vmexit.flat');
    expect(c.append).toBe('cpuid');
    expect(c.initrd).toBe('/tmp/tmp.env');
    expect(c.noReboot).toBe(true);
    expect(c.globals).toEqual([{ driver: 'kvm-pit', property: 'lost_tick_policy', value: 'discard' }]);
    expect(c.devices.map((d) => [d.driver, d.props])).toEqual([
      ['pc-testdev', []], ['isa-debug-exit', [['iobase', '0xf4'], ['iosize', '0x4']]], ['pci-testdev', []],
    ]);
    expect(c.serials).toEqual([{ kind: 'backend', backend: { kind: 'stdio', mux: false } }]);
    expect(c.monitors).toEqual([]);
    expect(c.smp.cpus).toBe(1);
    expect(c.machine.props).toEqual([['kernel', 'x86/vmexit.flat'], ['append', 'cpuid'], ['initrd', '/tmp/tmp.env']]);
  });

  test("the premature-failure probe (runtime.bash: kernel _NO_FILE_4Uhere_, -smp MAX_SMP) parses; loading the kernel is the launcher's", () => {
    const c = run([...words(RUNNER), '_NO_FILE_4Uhere_', '-smp', '2']);
    expect(c.kernel).toBe('_NO_FILE_4Uhere_');
    expect(c.smp).toMatchObject({ cpus: 2, sockets: 1, cores: 2, threads: 1, maxCpus: 2 });
  });

  test.each([
    ['-cpu qemu64,+x2apic,+tsc-deadline', { model: 'qemu64', settings: [{ name: 'x2apic', value: 'on', form: 'plus' }, { name: 'tsc-deadline', value: 'on', form: 'plus' }] }],
    ['-cpu qemu64,-pcid,+invpcid', { model: 'qemu64', settings: [{ name: 'pcid', value: 'off', form: 'minus' }, { name: 'invpcid', value: 'on', form: 'plus' }] }],
    ['-cpu qemu64,vendor=GenuineIntel', { model: 'qemu64', settings: [{ name: 'vendor', value: 'GenuineIntel', form: 'property' }] }],
    ['-cpu max,host-phys-bits,+vmx,-vmx-mbec -m 2560', { model: 'max', settings: [{ name: 'host-phys-bits', value: 'on', form: 'property' }, { name: 'vmx', value: 'on', form: 'plus' }, { name: 'vmx-mbec', value: 'off', form: 'minus' }] }],
    ['-enable-kvm -m 2048 -cpu host', { model: 'host', settings: [] }],
  ])('qemu_params %s', (params, cpu) => {
    const c = run([...words(RUNNER), 'x86/t.flat', '-smp', '1', ...words(params)]);
    expect(c.cpu).toEqual({ ...cpu, text: words(params)[words(params).indexOf('-cpu') + 1] });
  });

  test('qemu_params -machine pit=off merges with the runner\'s -machine accel=kvm', () => {
    const c = run([...words(RUNNER), 'x86/t.flat', '-machine', 'pit=off']);
    expect(c.machine.props).toContainEqual(['pit', 'off']);
    expect(c.accel).toBe('kvm');
  });

  test('qemu_params -m 4g: QEMU takes either case of a suffix', () => {
    expect(run(['-m', '4g']).memory.size).toBe(4n * GiB);
  });
});

describe('-m: QEMU units (a bare number is MiB), rounded up to 8 KiB', () => {
  test.each([
    ['128', 128n * MiB], ['1G', GiB], ['1.5G', 3n * GiB / 2n], ['100k', 106496n], ['1b', 8192n], ['2048M', 2048n * MiB],
    ['5000', 5000n * MiB], ['0', 128n * MiB], ['size=64', 64n * MiB], ['0x10', 16n * MiB],
  ])('-m %s', (arg, size) => {
    expect(run(['-m', arg]).memory.size).toBe(size);
  });

  test('-m 0x10: the MiB suffix QEMU adds makes it a hex number with a suffix, which QEMU 7.2 warns about', () => {
    expect(run(['-m', '0x10']).warnings).toEqual([{ location: null, text: 'Using a multiplier suffix on hex numbers is deprecated: 0x10M', hint: '' }]);
  });

  test('maxmem and slots', () => {
    expect(run(['-m', '256,maxmem=1G,slots=2']).memory).toEqual({ size: 256n * MiB, maxSize: GiB, slots: 2 });
  });
});

describe('-smp: the topology QEMU 7.2 derives (cores before sockets)', () => {
  test.each([
    ['2', { cpus: 2, sockets: 1, cores: 2, threads: 1, maxCpus: 2 }],
    ['sockets=2,cores=2,threads=2', { cpus: 8, sockets: 2, cores: 2, threads: 2, maxCpus: 8 }],
    ['2,maxcpus=4', { cpus: 2, sockets: 1, cores: 4, threads: 1, maxCpus: 4 }],
    ['4,sockets=2', { cpus: 4, sockets: 2, cores: 2, threads: 1, maxCpus: 4 }],
    ['0', { cpus: 1, sockets: 1, cores: 1, threads: 1, maxCpus: 1 }],
  ])('-smp %s', (arg, smp) => {
    expect(run(['-smp', arg]).smp).toEqual({ dies: 1, clusters: 1, ...smp });
  });

  test('two -smp merge, as QEMU merges them into the machine\'s smp property', () => {
    expect(run(['-smp', '2', '-smp', 'cores=2']).smp).toMatchObject({ cpus: 2, cores: 2, sockets: 1 });
  });
});

describe("default serial ports and monitors (QEMU's, checked with `info chardev`)", () => {
  const vc = { kind: 'backend', backend: { kind: 'vc', mux: false } };
  const stdio = { kind: 'backend', backend: { kind: 'stdio', mux: false } };
  test.each([
    ['', [vc], [{ mode: 'readline', device: 'vc:80Cx24C' }]],
    ['-display none', [vc], [{ mode: 'readline', device: 'vc:80Cx24C' }]],
    ['-display none -monitor stdio', [vc], [{ mode: 'readline', device: 'stdio' }]],
    ['-nographic', [{ kind: 'mon:stdio' }], []],
    ['-nographic -serial null', [{ kind: 'backend', backend: { kind: 'null', mux: false } }], [{ mode: 'readline', device: 'stdio' }]],
    ['-nographic -monitor none', [stdio], []],
    ['-nographic -serial file:com1.txt -monitor none', [{ kind: 'backend', backend: { kind: 'file', path: 'com1.txt', mux: false } }], []],
    ['-nodefaults -nographic', [], []],
    ['-display none -device isa-serial', [], [{ mode: 'readline', device: 'vc:80Cx24C' }]],
    ['-serial none -serial stdio', [stdio], [{ mode: 'readline', device: 'vc:80Cx24C' }]],
    ['-chardev stdio,id=s,mux=on -serial chardev:s -monitor chardev:s', [{ kind: 'chardev', id: 's' }], [{ mode: 'readline', device: 'chardev:s' }]],
  ])('%s', (line, serials, monitors) => {
    const c = run(line === '' ? [] : words(line));
    expect(c.serials).toEqual(serials);
    expect(c.monitors).toEqual(monitors);
  });

  test('-nographic: no display; VGA stays (QEMU still creates it) unless -vga none or -nodefaults', () => {
    expect(run(['-nographic'])).toMatchObject({ display: 'none', nographic: true, vga: 'std' });
    expect(run(['-nodefaults'])).toMatchObject({ display: 'default', vga: 'none' });
    expect(run(['-nodefaults', '-vga', 'std']).vga).toBe('std');
  });
});

describe('-drive, -hda..-hdd, a bare image', () => {
  test('-hda..-hdd are IDE indexes 0-3; a bare image is -hda; no format means QEMU probes', () => {
    const c = run(['-hdb', 'b.img', '-hdc', 'c.img', 'a.img', '-hdd', 'd.img']);
    expect(c.drives.map((d) => [d.file, d.bus, d.unit, d.index, d.format, d.location])).toEqual([
      ['b.img', 0, 1, 1, null, '-hdb b.img'], ['c.img', 1, 0, 2, null, '-hdc c.img'], ['a.img', 0, 0, 0, null, 'a.img'], ['d.img', 1, 1, 3, null, '-hdd d.img'],
    ]);
  });

  test('drives without index take the next free unit, then the next bus', () => {
    const c = run(['-hda', 'a', '-drive', 'file=b,format=raw', '-drive', 'file=c,format=raw,bus=1']);
    expect(c.drives.map((d) => [d.bus, d.unit])).toEqual([[0, 0], [0, 1], [1, 0]]);
  });

  test('-snapshot is every drive\'s default, snapshot=off wins; media=cdrom is read-only; ",," is a comma', () => {
    const c = run(['-snapshot', '-drive', 'file=a,,b.img,format=raw', '-drive', 'file=c,format=raw,snapshot=off,readonly=on', '-drive', 'file=d.iso,media=cdrom,snapshot=off']);
    expect(c.drives.map((d) => [d.file, d.snapshot, d.readOnly, d.media])).toEqual([
      ['a,b.img', true, false, 'disk'], ['c', false, true, 'disk'], ['d.iso', false, true, 'cdrom'],
    ]);
  });
});

describe('the other options', () => {
  test('--opt is -opt', () => {
    expect(run(['--m', '256', '--nodefaults']).memory.size).toBe(256n * MiB);
  });

  test('-machine properties are kept, in the order QEMU applies them', () => {
    const c = run(['-M', 'pc,vmport=off,hpet=off,pit=off,max-ram-below-4g=2G']);
    expect(c.machine).toEqual({
      type: 'pc-i440fx-7.2', hpet: false, maxRamBelow4g: 2n * GiB,
      // QDict order, as QEMU reports the first bad one (see the fixture's -M pc,vmport=x,pit=x).
      props: [['hpet', 'off'], ['vmport', 'off'], ['max-ram-below-4g', '2G'], ['pit', 'off']],
    });
  });

  test('-machine memory.size= and smp.cpus= are -m and -smp', () => {
    expect(run(['-M', 'pc,memory.size=256M,smp.cpus=2'])).toMatchObject({ memory: { size: 256n * MiB }, smp: { cpus: 2 }, machine: { props: [] } });
  });

  test('-accel kvm,kernel-irqchip=split and -machine kernel-irqchip= go to the accelerator', () => {
    expect(run(['-accel', 'kvm,kernel-irqchip=split']).accelProps).toEqual([['kernel-irqchip', 'split']]);
    expect(run(['-M', 'pc,accel=kvm,kernel-irqchip=off']).accelProps).toEqual([['kernel-irqchip', 'off']]);
  });

  test('-accel tcg: node-kvm has KVM only, said as a QEMU without TCG says it', () => {
    expect(errorOf(['-accel', 'tcg']).report('node-kvm-qemu')).toBe('node-kvm-qemu: -accel tcg: invalid accelerator tcg\n');
    expect(errorOf(['-M', 'accel=tcg']).message).toBe('invalid accelerator tcg');
    expect(run(['-accel', 'tcg', '-accel', 'kvm']).warnings).toEqual([
      { severity: 'error', location: '-accel tcg', text: 'invalid accelerator tcg', hint: '' },
      { severity: 'error', location: null, text: 'falling back to KVM', hint: '' },
    ]);
  });

  test('-M q35 and other machine types node-kvm lacks: QEMU\'s message for an unknown type', () => {
    const e = errorOf(['-M', 'q35']);
    expect(e.report('qemu-system-x86_64')).toBe('qemu-system-x86_64: unsupported machine type\nUse -machine help to list supported machines\n');
  });

  test('-bios, -L, -kernel/-append/-initrd, -trace, -boot, -name, -rtc, -fw_cfg, -d, -D, -k, -gdb, -s, -S and the flags', () => {
    const c = run(words('-bios /usr/share/seabios/bios.bin -L /usr/share/qemu -kernel k -append a=1 -initrd i '
      + '-trace enable=kvm_set_user_memory,file=t.log -trace kvm_run_exit -boot order=c,menu=off -name guest=g '
      + '-rtc base=localtime -fw_cfg name=opt/x,string=hi -fw_cfg opt/y,file=y.bin -d int -D log.txt -k de -s -S '
      + '-no-reboot -no-shutdown -no-acpi'));
    expect(c).toMatchObject({
      bios: '/usr/share/seabios/bios.bin', dataDirs: ['/usr/share/qemu'], kernel: 'k', append: 'a=1', initrd: 'i',
      trace: { patterns: ['kvm_set_user_memory', 'kvm_run_exit'], file: 't.log' }, boot: [['order', 'c'], ['menu', 'off']],
      name: 'g', rtcBase: 'localtime', fwCfg: [{ name: 'opt/x', string: 'hi' }, { name: 'opt/y', file: 'y.bin' }],
      log: { items: 'int', file: 'log.txt' }, keyboard: 'de', gdb: 'tcp::1234', startStopped: true, noReboot: true,
      noShutdown: true, noAcpi: true,
    });
  });

  test('-global in both forms', () => {
    expect(run(['-global', 'kvm-pit.lost_tick_policy=discard', '-global', 'driver=isa-fdc,property=fdtypeA,value=none']).globals).toEqual([
      { driver: 'kvm-pit', property: 'lost_tick_policy', value: 'discard' }, { driver: 'isa-fdc', property: 'fdtypeA', value: 'none' },
    ]);
  });

  test('a short-form boolean is accepted with QEMU 7.2\'s deprecation warning', () => {
    const c = run(['-drive', 'file=a.img,format=raw,snapshot']);
    expect(c.drives[0].snapshot).toBe(true);
    expect(c.warnings).toEqual([{ location: '-drive file=a.img,format=raw,snapshot', text: "short-form boolean option 'snapshot' deprecated", hint: 'Please use snapshot=on instead\n' }]);
  });

  test('-M pc,kernel= is -kernel (QEMU 7.2 makes -kernel a machine property), so -append is allowed', () => {
    expect(run(['-M', 'pc,kernel=k', '-append', 'x'])).toMatchObject({ kernel: 'k', append: 'x' });
  });
});

describe('information requests', () => {
  test.each([
    [['-h'], 'help'], [['-help'], 'help'], [['--help'], 'help'], [['-version'], 'version'], [['--version'], 'version'],
    [['-device', 'help'], 'device-help'], [['-device', '?'], 'device-help'], [['-machine', 'help'], 'machine-help'],
    [['-M', '?'], 'machine-help'], [['-cpu', 'help'], 'cpu-help'], [['-accel', 'help'], 'accel-help'],
    [['-m', '64', '-h', '-foo'], 'help'], [['-M', 'help', '-append', 'x'], 'machine-help'], [['-device', 'help', '-M', 'foo'], 'device-help'],
  ])('%j', (args, kind) => {
    expect(parseQemuCommandLine(args)).toEqual({ kind });
  });

  test('an error while QEMU reads the options comes first (-M help -foo)', () => {
    expect(errorOf(['-M', 'help', '-foo']).message).toBe('-foo: invalid option');
  });
});
