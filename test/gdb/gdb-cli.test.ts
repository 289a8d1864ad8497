// `node-kvm run --gdb`: the guest waits for gdb, runs as gdb says, and the
// command ends with the guest's exit code (or 0 when gdb kills it).
import * as fs from 'fs';
import { PassThrough } from 'stream';
import { main, USAGE_EXIT } from '../../lib/cli';
import { buildElf64, freePort, runGdb } from '../helpers/gdb';
import { describeKvm } from '../helpers/kvm';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stdout.resume();
  stderr.on('data', (c: Buffer) => { err += c.toString(); });
  return { io: { stdout, stderr, stdin: null }, err: () => err };
}

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error('timed out');
  }
}

describeKvm('node-kvm run --gdb', () => {
  jest.setTimeout(60_000);
  const { elf, dir } = buildElf64('gdb-long.S');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('gdb breaks in bump, continues, and the command ends with the guest\'s exit code', async () => {
    const port = await freePort();
    const t = io();
    const status = main(['run', elf, '--gdb', String(port)], t.io);
    await until(() => t.err().includes('waiting for gdb'));
    expect(t.err()).toBe(`node-kvm: waiting for gdb on tcp:127.0.0.1:${port} (in gdb: target remote 127.0.0.1:${port})\n`);
    const r = await runGdb([`target remote 127.0.0.1:${port}`, 'break bump', 'continue', 'delete', 'continue'], { file: elf });
    expect(r.output).toMatch(/Breakpoint 1, 0x0*20002f in bump \(\)/);
    expect(r.output).toContain('exited with code 07');
    expect(await status).toBe(7);
  });

  test('kill from gdb ends the command with 0; --gdb with --timeout or a bad address is a usage error', async () => {
    const port = await freePort();
    const t = io();
    const status = main(['run', elf, '--gdb', `127.0.0.1:${port}`], t.io);
    await until(() => t.err().includes('waiting for gdb'));
    await runGdb([`target remote 127.0.0.1:${port}`, 'kill'], { file: elf });
    expect(await status).toBe(0);
    const bad = io();
    expect(await main(['run', elf, '--gdb', '1234', '--timeout', '10'], bad.io)).toBe(USAGE_EXIT);
    expect(bad.err()).toContain('--gdb and --timeout do not go together');
    expect(await main(['run', elf, '--gdb', 'x:99999'], bad.io)).toBe(USAGE_EXIT);
    expect(bad.err()).toContain('--gdb must be PORT or HOST:PORT, got x:99999');
  });
});
