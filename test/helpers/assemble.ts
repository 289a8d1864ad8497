// Assembles a guest from test/guests with the GNU assembler that ships with
// the compiler, and returns the flat binary (cached per test process).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const cache = new Map<string, Uint8Array>();
let dir: string | undefined;

export const GUESTS = path.resolve(__dirname, '..', 'guests');

export function assemble(name: string, flags: string[] = ['--64']): Uint8Array {
  const key = `${name}\0${flags.join(' ')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-guest-'));
  const src = path.join(GUESTS, name);
  const obj = path.join(dir, `${path.basename(name)}.o`);
  const bin = path.join(dir, `${path.basename(name)}.bin`);
  execFileSync('as', [...flags, '-o', obj, src]);
  execFileSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin]);
  const out = new Uint8Array(fs.readFileSync(bin));
  cache.set(key, out);
  return out;
}
