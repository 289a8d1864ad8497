// Assembles a guest from test/guests with the GNU assembler that ships with
// the compiler, and returns the flat binary (cached per test process). The
// object files go to a directory of their own that is removed before
// returning, so no test run leaves anything in /tmp, however many workers
// run and however a test file ends.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const cache = new Map<string, Uint8Array>();

export const GUESTS = path.resolve(__dirname, '..', 'guests');

export function assemble(name: string, flags: string[] = ['--64']): Uint8Array {
  const key = `${name}\0${flags.join(' ')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-guest-'));
  try {
    const obj = path.join(dir, 'guest.o');
    const bin = path.join(dir, 'guest.bin');
    execFileSync('as', [...flags, '-I', GUESTS, '-o', obj, path.join(GUESTS, name)]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin]);
    const out = new Uint8Array(fs.readFileSync(bin));
    cache.set(key, out);
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
