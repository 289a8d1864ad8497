// Host memory and RAM regions over 4 GiB: Node cannot make one external
// ArrayBuffer that large, so views come from windows (this used to abort the
// process with a double free). Runs the fixture in a child process.
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

test('an 8 GiB mapping and an 8 GiB RAM region are read and written through windows, without an abort', () => {
  const r = spawnSync(process.execPath, ['scripts/run-example.js', 'test/kvm/fixtures/big-host-memory.ts'],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  expect(r.signal).toBeNull();
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const f = JSON.parse(r.stdout);
  expect(f.hostEnd).toBe(0x77);
  expect(f.straddle).toBe(true);
  expect(f.tooLarge).toMatch(/^RangeError: .*at most 4 GiB/);
  expect(f.detached).toBe(0);
  expect(f.guestEnd).toEqual([1, 2, 3, 4]);
  expect(f.across4G).toEqual([5, 6, 7, 8]);
  expect(f.direct).toEqual([5, 6, 7, 8]);
});
