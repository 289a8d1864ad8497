// qemuMain: the information texts (against this host's QEMU where QEMU has
// the same lines, and as kvm-unit-tests' runner reads them), errors with the
// program name, warnings, and the hand-over to `launch`.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { runQemuMain } from '../helpers/qemu-main';
import { qemuMain } from '../../lib/qemu/main';
import { QemuOptionError } from '../../lib/qemu/qemu-error';
import { DEVICE_MODELS } from '../../lib/qemu/device-options';
import { CPU_MODELS } from '../../lib/qemu/help';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'qemu-cmdline');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

/** Runs a bash snippet with `text` on stdin: the runner's own parsing, not a re-implementation of it. */
function bash(script: string, text: string): string {
  const r = spawnSync('bash', ['-c', script], { input: text, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
}

describe("what kvm-unit-tests' runner probes", () => {
  test('-h: the first line is QEMU\'s version line, which the runner splits into 7 2 0 (scripts/arch-run.bash)', async () => {
    const r = await runQemuMain(['-h'], 'node-kvm-qemu');
    expect(r.status).toBe(0);
    expect(r.err).toBe('');
    const first = r.out.split('\n')[0];
    expect(first).toBe(`QEMU emulator version 7.2.0 (node-kvm ${version})`);
    expect(bash('IFS="[ .]" read -r _ _ _ QEMU_MAJOR QEMU_MINOR QEMU_MICRO rest; echo "$QEMU_MAJOR $QEMU_MINOR $QEMU_MICRO"', `${first}\n`)).toBe('7 2 0\n');
    expect(r.out).toContain('usage: node-kvm-qemu [options] [disk_image]\n');
  });

  test('--help mentions QEMU (search_qemu_binary greps it)', async () => {
    const r = await runQemuMain(['--help']);
    expect(bash("grep -q 'QEMU' && echo found", r.out)).toBe('found\n');
  });

  test("-device '?' lists pc-testdev and pci-testdev as x86/run greps them", async () => {
    const r = await runQemuMain(['-device', '?']);
    expect(r.status).toBe(0);
    expect(bash('grep -F -e \\"testdev\\" -e \\"pc-testdev\\"', r.out)).toBe('name "pc-testdev", bus ISA\n');
    expect(bash('grep -F "pci-testdev"', r.out)).toBe('name "pci-testdev", bus PCI, desc "PCI Test Device"\n');
  });
});

describe("the information texts are QEMU's lines for what node-kvm has", () => {
  test('-device help: QEMU\'s categories, order and lines, only the devices node-kvm has', async () => {
    // QEMU's text with every device line node-kvm lacks removed, and then the empty categories.
    const ours = new Set(Object.keys(DEVICE_MODELS));
    const kept = fixture('device-help.txt').split('\n\n').map((group) => {
      const [header, ...lines] = group.trimEnd().split('\n');
      return [header, ...lines.filter((l) => ours.has(/^name "([^"]+)"/.exec(l)![1]))];
    }).filter((g) => g.length > 1);
    const expected = kept.map((g) => `${g.join('\n')}\n`).join('\n');
    const r = await runQemuMain(['-device', 'help']);
    // Bridges come first in QEMU's list: without any, QEMU starts with the blank line before the next header.
    expect(r.out).toBe(`\n${expected}`);
  });

  test('-machine help: QEMU\'s lines for microvm, pc and pc-i440fx-7.2', async () => {
    const qemu = fixture('machine-help.txt').split('\n');
    const r = await runQemuMain(['-machine', 'help']);
    expect(r.out).toBe(`${[qemu[0], ...qemu.filter((l) => /^(microvm|pc|pc-i440fx-7\.2) /.test(l))].join('\n')}\n`);
  });

  test('-cpu help: QEMU\'s lines for the models listed', async () => {
    const qemu = fixture('cpu-help.txt').split('\n');
    const names = new Set(CPU_MODELS.map((m) => m.name));
    const r = await runQemuMain(['-cpu', 'help']);
    expect(r.out).toBe(`${[qemu[0], ...qemu.filter((l) => names.has(l.slice(4).split(' ')[0]) && l.startsWith('x86 '))].join('\n')}\n`);
  });

  test('-version and -accel help', async () => {
    expect((await runQemuMain(['-version'])).out.split('\n')[0]).toBe(`QEMU emulator version 7.2.0 (node-kvm ${version})`);
    expect((await runQemuMain(['-accel', 'help'])).out).toBe('Accelerators supported in QEMU binary:\nkvm\n');
  });
});

describe('errors, warnings and launch', () => {
  test('an error: PROG: MESSAGE on stderr, status 1, nothing launched, nothing on stdout', async () => {
    const r = await runQemuMain(['-m', '12Q'], 'node-kvm-qemu');
    expect(r).toEqual({
      status: 1, out: '', launched: [],
      err: "node-kvm-qemu: -m 12Q: Parameter 'size' expects a non-negative number below 2^64\n"
        + 'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.\n',
    });
  });

  test('a valid line: its warnings on stderr, then launch(command), whose status is the result', async () => {
    const r = await runQemuMain(['-smp', '0', '-m', '64'], 'node-kvm-qemu');
    expect(r.err).toBe('node-kvm-qemu: warning: Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero\n');
    expect(r.status).toBe(124);
    expect(r.launched).toEqual([expect.objectContaining({ kind: 'run', memory: { size: 64n << 20n, maxSize: null, slots: 0 } })]);
  });

  test("a QemuOptionError from launch is printed as QEMU's, status 1 (the launcher's own errors, e.g. a missing disk)", async () => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const status = await qemuMain(['-hda', '/nonexist'], {
      progName: 'node-kvm-qemu', stdout: new PassThrough(), stderr,
      launch: async (c) => { throw new QemuOptionError("Could not open '/nonexist': No such file or directory", c.drives[0].location); },
    });
    expect(status).toBe(1);
    expect(err).toBe("node-kvm-qemu: -hda /nonexist: Could not open '/nonexist': No such file or directory\n");
  });

  test('any other error from launch is not QEMU\'s to word: it propagates', async () => {
    await expect(qemuMain([], { progName: 'p', stdout: new PassThrough(), stderr: new PassThrough(), launch: async () => { throw new RangeError('x'); } }))
      .rejects.toThrow(RangeError);
  });
});
