// The test suite itself: it leaves nothing behind in the temp directory, and
// where the KVM device exists but cannot be opened, a run stops once, before
// any test, with the advice (instead of one EACCES failure per KVM test).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Jest on `files` in a child process, with the environment `env` added. */
function jestChild(files: string[], env: NodeJS.ProcessEnv, prefix: string[] = []) {
  const [cmd, ...args] = [...prefix, process.execPath, path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci', ...files];
  return spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 170_000, killSignal: 'SIGKILL', env: { ...process.env, ...env } });
}

test('test files that assemble guests and make temp files leave nothing in the temp directory', () => {
  // A child jest, because os.tmpdir() reads the real environment, not the test's copy of it.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-hygiene-'));
  try {
    const r = jestChild(['test/kvm/first-guest.test.ts', 'test/cli/cli.test.ts'], { TMPDIR: tmp });
    expect(r.stderr).toMatch(/^Tests: .*\d+ total$/m);
    expect({ status: r.status, failed: r.stderr.match(/^Tests:.*failed.*$/m)?.[0] }).toEqual({ status: 0, failed: undefined });
    // jest_*: jest's own transform cache, kept on purpose between runs
    expect(fs.readdirSync(tmp).filter((f) => !f.startsWith('jest_'))).toEqual([]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}, 180_000); // a whole jest run, on a host shared with other runs

test('where the KVM device cannot be opened, jest stops before any test and prints the advice once', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-eacces-'));
  try {
    const device = path.join(dir, 'kvm');
    fs.writeFileSync(device, '');
    fs.chmodSync(device, 0o000);
    // root opens a mode-000 file anyway: drop the capabilities that let it.
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] : [];
    const r = jestChild(['test/kvm/first-guest.test.ts', 'test/memory/misc.test.ts'], { NODE_KVM_TEST_DEVICE: device }, asUser);
    const out = r.stdout + r.stderr;
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
    const advice = `open (${device}) failed: EACCES — permission denied — add your user to the kvm group (sudo usermod -aG kvm $USER) and log in again`;
    expect(out.split(advice).length - 1).toBe(1);
    expect(out.match(/EACCES/g)).toHaveLength(1);
    expect(out).not.toMatch(/^Tests:/m); // no test ran, so none could fail with it or be skipped
    expect(out).not.toMatch(/\n\s+at /); // no stack trace buries the advice
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
