// A long-mode guest written in C, compiled here with
// gcc -ffreestanding -nostdlib into a static ELF64 and loaded by its
// PT_LOAD segments.  Needs gcc and binutils.
// Run: node scripts/run-example.js examples/c-guest.ts
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Writable } from 'stream';
import { Machine } from '../lib';

export function buildGuest(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-c-guest-'));
  const elf = path.join(dir, 'guest.elf');
  execFileSync('gcc', [
    '-ffreestanding', '-nostdlib', '-static', '-no-pie', '-fno-pic', '-O2',
    '-mgeneral-regs-only', '-mno-red-zone', '-fno-stack-protector', '-fcf-protection=none',
    '-Wl,-Ttext=0x200000', '-Wl,--build-id=none', '-Wl,-e,_start',
    '-o', elf, path.join(__dirname, 'c-guest', 'guest.c'),
  ]);
  return elf;
}

export async function main(output: Writable = process.stdout): Promise<number> {
  const elf = buildGuest();
  const machine = await Machine.create({ memory: '16M', mode: 'long', serial: { output } });
  try {
    const image = machine.load(elf);
    console.error(`loaded ${image.format}, entry 0x${image.entry.toString(16)}`);
    const result = await machine.run({ timeoutMs: 20000 });
    console.error(`stopped: ${result.message}`);
    return result.exitCode ?? 2;
  } finally {
    machine.close();
    fs.rmSync(path.dirname(elf), { recursive: true, force: true });
  }
}

if (require.main === module) main().then((code) => process.exit(code));
