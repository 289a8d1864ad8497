// qemuMain in-process, with stdout and stderr captured and a `launch` that
// records the command and returns LAUNCHED.
import { PassThrough } from 'stream';
import { qemuMain } from '../../lib/qemu/main';
import type { QemuCommand } from '../../lib/qemu/command';

/** What the fake launch returns (the status `timeout` gives a QEMU still running: the fixtures' "accepted"). */
export const LAUNCHED = 124;

export async function runQemuMain(args: string[], progName = 'qemu-system-x86_64') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => { out += c.toString(); });
  stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const launched: QemuCommand[] = [];
  const status = await qemuMain(args, { progName, stdout, stderr, launch: async (command) => { launched.push(command); return LAUNCHED; } });
  return { status, out, err, launched };
}
