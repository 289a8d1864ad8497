// The monitor's `quit` ends node-kvm-qemu as it ends QEMU 7.2 (checked on
// this host with qemu-system-x86_64 -accel kvm): exit status 0, nothing on
// stdout after the echoed "quit" line (no prompt, no error), nothing on
// stderr — while stdin stays open (a terminal that is still there), or when
// it closes right after the line. Every front end the monitor can have:
// -monitor stdio (paused by -S or running), the -nographic multiplexer and
// -serial mon:stdio (reached with Ctrl-A c), and after stop/cont/system_reset.
// -cpu qemu64,-pni: this host lacks SSE3, and QEMU's warning about it would
// be the only stderr line.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { HmpMonitor, type HmpTarget } from '../../lib/qemu/hmp';
import { qemuMain } from '../../lib/qemu/main';
import { runQemuCommand } from '../../lib/qemu/qemu-run';
import { describeKvm } from '../helpers/kvm';
import { multibootFiles } from '../helpers/multiboot';
import { startQemuExe } from '../helpers/qemu-exe';

const BANNER = "QEMU 7.2.22 monitor - type 'help' for more information\r\n";
const PC = ['-M', 'pc', '-cpu', 'qemu64,-pni', '-nodefaults', '-display', 'none'];
const CTRL_A_C = '\x01c';

/**
 * Starts node-kvm-qemu with `args`, types each line once the prompt before
 * it has appeared, and waits for the process to end; stdin is ended only
 * with `endStdin` (right after the last line).
 */
async function session(args: string[], lines: string[], opts: { endStdin?: boolean; focus?: string } = {}) {
  const exe = startQemuExe(args);
  const timer = setTimeout(() => exe.child.kill('SIGKILL'), 60_000);
  try {
    if (opts.focus !== undefined) exe.child.stdin.write(opts.focus);
    for (const [i, line] of lines.entries()) {
      await waitForPrompts(exe, i + 1);
      exe.child.stdin.write(`${line}\n`);
    }
    if (opts.endStdin) exe.child.stdin.end();
    const status = await exe.exited;
    return { status, stdout: exe.stdout(), stderr: exe.stderr() };
  } finally {
    clearTimeout(timer);
    exe.child.kill('SIGKILL'); // a no-op once it has exited
  }
}

/** Resolves once stdout holds `n` prompts. */
async function waitForPrompts(exe: ReturnType<typeof startQemuExe>, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (exe.stdout().split('(qemu) ').length - 1 < n) {
    if (Date.now() > deadline) throw new Error(`no prompt ${n}; stdout ${JSON.stringify(exe.stdout())}, stderr ${JSON.stringify(exe.stderr())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What QEMU prints for the typed lines (node-kvm echoes a piped line plainly, as the line itself). */
const transcript = (lines: string[]) => BANNER + lines.map((l) => `(qemu) ${l}\r\n`).join('');

/** A target whose commands do what the test says; the rest is never asked for. */
function target(over: Partial<HmpTarget>): HmpTarget {
  const no = () => { throw new Error('not asked for'); };
  return { mtree: no, formatRamBlocks: no, infoPci: no, cpuCount: () => 1, infoRegisters: no, runState: () => 'paused', stop() {}, cont() {}, systemReset() {}, quit() {}, ...over };
}

/** A monitor on a kept-open input, its output collected; `errors` holds the output's error events. */
function monitorRig(t: HmpTarget) {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  const errors: Error[] = [];
  output.on('data', (b: Buffer) => { out += b.toString(); });
  output.on('error', (e) => errors.push(e));
  const monitor = new HmpMonitor(t, { input, output, echo: true });
  return { input, output, monitor, errors, out: () => out };
}

describe('HmpMonitor: nothing written after quit or close()', () => {
  test('quit whose owner ends the output before quit returns: no write after end', async () => {
    let rig: ReturnType<typeof monitorRig> | null = null;
    rig = monitorRig(target({ quit: () => { rig!.output.end(); } }));
    const done = rig.monitor.run();
    rig.input.write('quit\ninfo status\n');
    await done;
    await new Promise((r) => setImmediate(r));
    expect({ out: rig.out(), errors: rig.errors, ended: rig.output.writableEnded }).toEqual({ out: transcript(['quit']), errors: [], ended: true });
  });

  test('close() while a command runs: its answer and the next prompt are not written; run() resolves with the input open', async () => {
    let finish: () => void = () => {};
    const rig = monitorRig(target({ stop: () => new Promise<void>((r) => { finish = r; }) }));
    const done = rig.monitor.run();
    rig.input.write('stop\n');
    while (!rig.out().includes('stop\r\n')) await new Promise((r) => setImmediate(r));
    rig.monitor.close();
    rig.output.end();
    finish();
    await done;
    rig.input.write('info status\n'); // read by nobody
    await new Promise((r) => setImmediate(r));
    expect({ out: rig.out(), errors: rig.errors }).toEqual({ out: `${BANNER}(qemu) stop\r\n`, errors: [] });
  });

  test('close() while waiting for a line, and close() before run(): run() resolves, nothing more is written', async () => {
    const rig = monitorRig(target({}));
    const done = rig.monitor.run();
    await new Promise((r) => setImmediate(r));
    rig.monitor.close();
    await done;
    expect(rig.out()).toBe(`${BANNER}(qemu) `);
    const early = monitorRig(target({}));
    early.monitor.close();
    await early.monitor.run();
    expect(early.out()).toBe('');
  });
});

describeKvm('the monitor\'s quit', () => {
  jest.setTimeout(90_000);

  test('-S -monitor stdio (pc): status 0, stdout ends at the echoed quit, stderr empty, stdin left open', async () => {
    expect(await session([...PC, '-S', '-monitor', 'stdio'], ['quit'])).toEqual({ status: 0, stdout: transcript(['quit']), stderr: '' });
  });

  test('-S -monitor stdio, stdin closed right after "quit\\n"', async () => {
    expect(await session([...PC, '-S', '-monitor', 'stdio'], ['quit'], { endStdin: true })).toEqual({ status: 0, stdout: transcript(['quit']), stderr: '' });
  });

  test('-monitor stdio without -S, while the guest (SeaBIOS) runs', async () => {
    expect(await session([...PC, '-monitor', 'stdio'], ['quit'])).toEqual({ status: 0, stdout: transcript(['quit']), stderr: '' });
  });

  test('-M microvm -kernel K -S -monitor stdio', async () => {
    const files = multibootFiles('elf');
    try {
      const args = ['-M', 'microvm', '-cpu', 'qemu64,-pni', '-m', '128', '-nodefaults', '-display', 'none', '-kernel', path.join(files.dir, files.kernel), '-S', '-monitor', 'stdio'];
      expect(await session(args, ['quit'])).toEqual({ status: 0, stdout: transcript(['quit']), stderr: '' });
    } finally {
      files.remove();
    }
  });

  test('-S -nographic: Ctrl-A c, then quit on the multiplexed monitor', async () => {
    const args = ['-M', 'pc', '-cpu', 'qemu64,-pni', '-S', '-nographic'];
    expect(await session(args, ['quit'], { focus: CTRL_A_C })).toEqual({ status: 0, stdout: transcript(['quit']), stderr: '' });
  });

  test('-S -serial mon:stdio: Ctrl-A c, then quit', async () => {
    expect(await session([...PC, '-S', '-serial', 'mon:stdio'], ['quit'], { focus: CTRL_A_C })).toEqual({ status: 0, stdout: transcript(['quit']), stderr: '' });
  });

  test.each([
    [['stop', 'quit']],
    [['cont', 'quit']],
    [['system_reset', 'quit']],
    [['stop', 'cont', 'system_reset', 'stop', 'quit']],
  ])('-S -monitor stdio: %j', async (lines) => {
    expect(await session([...PC, '-S', '-monitor', 'stdio'], lines)).toEqual({ status: 0, stdout: transcript(lines), stderr: '' });
  });

  test.each([
    [['-S', '-monitor', 'stdio'], '', ['quit']],
    [['-S', '-serial', 'mon:stdio'], CTRL_A_C, ['quit']],
    [['-S', '-monitor', 'stdio'], '', ['cont', 'quit']],
  ])('in-process %j, typed %j then %j: quit leaves no fd open and no listener on stdin', async (args, focus, lines) => {
    const fds = () => fs.readdirSync('/proc/self/fd').sort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitor-quit-'));
    const file = path.join(dir, 'stdout');
    const stdoutFd = fs.openSync(file, 'w');
    try {
      const before = fds();
      const stdin = new PassThrough();
      const stderr = new PassThrough();
      let err = '';
      stderr.on('data', (b: Buffer) => { err += b.toString(); });
      const status = qemuMain([...PC, ...args], {
        progName: 'node-kvm-qemu', stdout: new PassThrough(), stderr,
        launch: (cmd) => runQemuCommand(cmd, 'node-kvm-qemu', { stdin, stdoutFd, stderr }),
      });
      stdin.write(focus);
      for (const line of lines) {
        const deadline = Date.now() + 60_000;
        while (!fs.readFileSync(file, 'latin1').endsWith('(qemu) ') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        stdin.write(`${line}\n`);
      }
      expect({ status: await status, stdout: fs.readFileSync(file, 'latin1'), stderr: err }).toEqual({ status: 0, stdout: transcript(lines), stderr: '' });
      await new Promise((r) => setImmediate(r));
      expect(fds()).toEqual(before);
      expect(['data', 'readable', 'end'].map((e) => stdin.listenerCount(e))).toEqual([0, 0, 0]);
    } finally {
      fs.closeSync(stdoutFd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
