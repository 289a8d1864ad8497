// node-kvm-qemu's stderr and exit status against this host's
// qemu-system-x86_64 7.2 for the same command lines: every case of
// test/fixtures/qemu-cmdline/cases.txt, as capture.sh recorded QEMU's answer
// in qemu-7.2.txt (errors byte for byte, the warnings of accepted lines, and
// which error QEMU reports first when a line has several).
import * as fs from 'fs';
import * as path from 'path';
import { LAUNCHED, runQemuMain } from '../helpers/qemu-main';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'qemu-cmdline', 'qemu-7.2.txt');

interface Case { args: string[]; stderr: string; status: number }

function cases(): Case[] {
  const [, ...lines] = fs.readFileSync(FIXTURE, 'utf8').split('\n');
  const out: Case[] = [];
  let current: Case | undefined;
  for (const line of lines) {
    if (line.startsWith('$ ')) {
      current = { args: line.slice(2).split(' '), stderr: '', status: NaN };
    } else if (line.startsWith('status ')) {
      current!.status = line === 'status accepted' ? LAUNCHED : Number(line.slice(7));
      out.push(current!);
    } else if (line !== '') {
      current!.stderr += `${line}\n`;
    }
  }
  return out;
}

describe('node-kvm-qemu says what qemu-system-x86_64 7.2 says', () => {
  const all = cases();

  test('the fixture has every case of cases.txt', () => {
    const listed = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'qemu-cmdline', 'cases.txt'), 'utf8')
      .split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(all.map((c) => c.args.join(' '))).toEqual(listed);
  });

  test.each(all.map((c) => [c.args.join(' '), c] as const))('%s', async (_, c) => {
    const r = await runQemuMain(c.args);
    expect(r.err).toBe(c.stderr);
    expect(r.status).toBe(c.status);
    expect(r.launched).toHaveLength(c.status === LAUNCHED ? 1 : 0);
  });
});
