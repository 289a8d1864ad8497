// bin/'s executables started from the startup snapshot (scripts/build-snapshot.js)
// behave exactly as the normal path (`node bin/...`): same stdout, stderr and
// exit status for help texts, errors and a microvm boot. The launcher uses
// the blob only when it fits: a changed dist/ file, another Node binary or a
// moved package run the normal path, never the snapshot's old code.
// Hermetic: a copy of the package (dist/, bin/, scripts/) in a temporary
// directory, with its own blob; node_modules and the addon (build/, prebuilds/) are the checkout's.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../helpers/child';
import { describeKvm } from '../helpers/kvm';
import { multibootFiles, type MultibootFiles } from '../helpers/multiboot';

const TRACE = 'NODE_KVM_STARTUP_TRACE';

interface Run { status: number | null; stdout: string; stderr: string }

function run(cmd: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'latin1', timeout: 60_000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A package directory with dist/, bin/, scripts/ and package.json copied, node_modules and the addon's directories linked. */
function copyPackage(dir: string): string {
  const pkg = path.join(dir, 'pkg');
  fs.mkdirSync(pkg);
  for (const d of ['dist', 'bin', 'scripts']) fs.cpSync(path.join(ROOT, d), path.join(pkg, d), { recursive: true, preserveTimestamps: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  // the addon is wherever node-gyp-build finds it in the checkout: build/, or prebuilds/ (CI's package check packs it there)
  for (const d of ['node_modules', 'build', 'prebuilds']) if (fs.existsSync(path.join(ROOT, d))) fs.symlinkSync(path.join(ROOT, d), path.join(pkg, d));
  return pkg;
}

describeKvm('the startup snapshot', () => {
  jest.setTimeout(120_000);
  let dir: string;
  let pkg: string;
  let kernel: MultibootFiles;
  const bin = (name: string) => path.join(pkg, 'bin', name);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-startup-'));
    pkg = copyPackage(dir);
    const built = run([process.execPath, path.join(pkg, 'scripts', 'build-snapshot.js')]);
    expect(built).toMatchObject({ status: 0, stdout: expect.stringMatching(/^node-kvm: built the startup snapshot \.startup\/startup\.blob/) });
    kernel = multibootFiles('elf');
  });
  afterAll(() => {
    kernel?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('executed directly, bin/node-kvm-qemu and bin/node-kvm start from the snapshot', () => {
    for (const [name, args] of [['node-kvm-qemu', ['-version']], ['node-kvm', ['--help']]] as const) {
      const r = run([bin(name), ...args], { [TRACE]: '1' });
      expect(r.stderr).toMatch(/^node-kvm startup: from the snapshot, main at [\d.]+ ms, checked at [\d.]+ ms\n/);
    }
  });

  test('NODE_EXTRA_CA_CERTS is kept from Node\'s start (it costs Node 20 ~50 ms) and is back in process.env when the executable runs', () => {
    // A preload runs before the entry and reports at exit: what Node started with, and what the entry left in process.env.
    const probe = path.join(dir, 'env-probe.js');
    fs.writeFileSync(probe, [
      'const atStart = process.env.NODE_EXTRA_CA_CERTS;',
      "process.on('exit', () => process.stderr.write(JSON.stringify({ atStart: atStart ?? null, atExit: process.env.NODE_EXTRA_CA_CERTS ?? null,",
      '  aside: process.env.NODE_KVM_LAUNCH_EXTRA_CA_CERTS ?? null }) + "\\n"));',
    ].join('\n'));
    const certs = path.join(dir, 'no-such-bundle.crt'); // Node would warn about a missing bundle if it read this one
    for (const [name, args] of [['node-kvm-qemu', ['-version']], ['node-kvm', ['--help']]] as const) {
      const r = run([bin(name), ...args], { NODE_OPTIONS: `--require ${probe}`, NODE_EXTRA_CA_CERTS: certs, [TRACE]: '1' });
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/^node-kvm startup: from the snapshot/);
      expect(r.stderr).not.toMatch(/extra certs|Ignoring extra certs/i);
      expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toEqual({ atStart: null, atExit: certs, aside: null });
    }
    // unset stays unset
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--require ${probe}` };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(bin('node-kvm-qemu'), ['-version'], { encoding: 'latin1', timeout: 60_000, env });
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toEqual({ atStart: null, atExit: null, aside: null });
  });

  test('the same commands give the same stdout, stderr and exit status from the snapshot as the normal way', () => {
    const k = (n: string) => path.join(kernel.dir, n);
    const microvm = ['-accel', 'kvm', '-M', 'microvm', '-m', '128', '-nodefaults', '-display', 'none', '-serial', 'stdio',
      '-device', 'isa-debug-exit,iobase=0xf4', '-no-reboot', '-kernel', k(kernel.kernel), '-append', 'a b', '-initrd', `${k('m1')} x,${k('m2')}`];
    const cases: [string, string[]][] = [
      ['node-kvm-qemu', ['-h']],
      ['node-kvm-qemu', ['-version']],
      ['node-kvm-qemu', ['-device', 'help']],
      ['node-kvm-qemu', ['-device', '?']],
      ['node-kvm-qemu', ['-machine', 'help']],
      ['node-kvm-qemu', microvm],
      ['node-kvm-qemu', ['-foo']],
      ['node-kvm-qemu', ['-M', 'nosuch']],
      ['node-kvm-qemu', ['-M', 'microvm', '-kernel', path.join(dir, 'missing.elf')]],
      ['node-kvm', ['--help']],
      ['node-kvm', ['demo']],
      ['node-kvm', ['run']],
    ];
    const statuses: (number | null)[] = [];
    for (const [name, args] of cases) {
      const normal = run([process.execPath, bin(name), ...args]);
      const snap = run([bin(name), ...args]);
      expect({ name, args, ...snap }).toEqual({ name, args, ...normal });
      statuses.push(normal.status);
    }
    // the cases cover success, the guest's own exit status (isa-debug-exit) and errors
    expect(statuses).toEqual(expect.arrayContaining([0, 1, 33]));
  });

  test('through a symlink of another name (as kvm-unit-tests or a user may install it), messages carry that name both ways', () => {
    const link = path.join(dir, 'qemu-system-x86_64');
    fs.symlinkSync(bin('node-kvm-qemu'), link);
    try {
      const snap = run([link, '-foo'], { [TRACE]: '1' });
      expect(snap.stderr).toMatch(/^node-kvm startup: from the snapshot.*\nqemu-system-x86_64: -foo: invalid option\n$/);
      const normal = run([process.execPath, link, '-foo']);
      expect(run([link, '-foo'])).toEqual(normal);
    } finally {
      fs.rmSync(link);
    }
  });

  test('a dist/ file changed after the build: the launcher runs the new code, not the snapshot\'s', () => {
    const file = path.join(pkg, 'dist', 'qemu', 'cmdline.js');
    const before = fs.readFileSync(file, 'utf8');
    expect(before).toContain('invalid option');
    fs.writeFileSync(file, before.replace(/invalid option/g, 'invalid option (changed)'));
    try {
      const r = run([bin('node-kvm-qemu'), '-foo'], { [TRACE]: '1' });
      expect(r).toEqual({ status: 1, stdout: '', stderr: expect.stringMatching(/^node-kvm startup: snapshot not valid here, normal path.*\nnode-kvm-qemu: -foo: invalid option \(changed\)\n$/) });
    } finally {
      fs.writeFileSync(file, before);
    }
  });

  test('another Node binary than the blob was built for: the launcher does not use the blob', () => {
    const stamp = path.join(pkg, '.startup', 'node');
    const good = fs.statSync(stamp);
    // the stamp's mtime is the Node binary's: a newer or older stamp (another Node), or none (a failed build removes it)
    for (const mtime of [good.mtimeMs / 1000 + 1, good.mtimeMs / 1000 - 1, null]) {
      if (mtime === null) fs.rmSync(stamp);
      else fs.utimesSync(stamp, mtime, mtime);
      const r = run([bin('node-kvm-qemu'), '-version'], { [TRACE]: '1' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^QEMU emulator version 7\.2/);
      expect(r.stderr).toBe(''); // the normal path: Node started without the blob says nothing
    }
    const rebuilt = run([process.execPath, path.join(pkg, 'scripts', 'build-snapshot.js')]);
    expect(rebuilt.status).toBe(0);
    expect(run([bin('node-kvm-qemu'), '-version'], { [TRACE]: '1' }).stderr).toMatch(/^node-kvm startup: from the snapshot/);
  });

  test('a module that reads host state at load time fails the build, named; --best-effort says so in one line and exits 0', () => {
    const file = path.join(pkg, 'dist', 'devices', 'rtc-clock.js');
    const before = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, `${before}\nexports.frozen = [Date.now(), process.env.HOME, require('os').cpus().length];\n`);
    const out = path.join(dir, 'other-blob');
    try {
      const strict = run([process.execPath, path.join(pkg, 'scripts', 'build-snapshot.js'), '--out', out]);
      expect(strict.status).toBe(1);
      for (const what of ['Date.now()', 'process.env.HOME', 'os.cpus()']) expect(strict.stderr).toContain(`dist/devices/rtc-clock.js reads ${what} at load time`);
      const lenient = run([process.execPath, path.join(pkg, 'scripts', 'build-snapshot.js'), '--out', out, '--best-effort']);
      expect(lenient.status).toBe(0);
      expect(lenient.stderr.trim().split('\n')).toHaveLength(1);
      expect(lenient.stderr).toMatch(/^node-kvm: no startup snapshot \(building it failed: .*would freeze host state/);
      expect(fs.existsSync(path.join(out, 'startup.blob'))).toBe(false);
    } finally {
      fs.writeFileSync(file, before);
    }
  });

  test('the package moved after the build: the blob is not used, the executables still work', () => {
    const moved = path.join(dir, 'moved');
    fs.renameSync(pkg, moved);
    try {
      const r = run([path.join(moved, 'bin', 'node-kvm-qemu'), '-foo'], { [TRACE]: '1' });
      expect(r).toEqual({ status: 1, stdout: '', stderr: expect.stringMatching(/^node-kvm startup: snapshot not valid here, normal path.*\nnode-kvm-qemu: -foo: invalid option\n$/) });
    } finally {
      fs.renameSync(moved, pkg);
    }
  });
});
