// Random bytes as guest code, in real and in long mode, under a timeout: every
// run ends with a reported reason, the process survives, and the machine still
// boots a known-good guest afterwards. CI runs a few seconds; a long run:
//   FUZZ_SECONDS=600 npx jest --testTimeout=700000 test/fuzz/guest-code
// Replay a failure with FUZZ_SEED=<seed printed below>.
import { Machine } from '../../lib/machine';
import { describeKvm } from '../helpers/kvm';
import { fuzzSeconds, fuzzSeed, prng } from '../helpers/prng';

const SECONDS = fuzzSeconds(3);
// mov dx/edx, 0x501; mov al, 0x21; out dx, al; hlt
const KNOWN_GOOD = {
  real: Uint8Array.from([0xba, 0x01, 0x05, 0xb0, 0x21, 0xee, 0xf4]),
  long: Uint8Array.from([0xba, 0x01, 0x05, 0x00, 0x00, 0xb0, 0x21, 0xee, 0xf4]),
};
const REPORTED = new Set(['hlt', 'shutdown', 'exception', 'debugExit', 'timeout', 'maxExits', 'internalError', 'failEntry', 'systemEvent', 'debug', 'unknown']);

describeKvm('fuzz: random guest code', () => {
  test.each(['real', 'long'] as const)(`%s mode, ${SECONDS} s`, async (mode) => {
    const seed = fuzzSeed();
    const rng = prng(seed);
    const machine = Machine.createSync({ memory: '4M', mode, serial: { output: null } });
    const counts: Record<string, number> = {};
    let runs = 0;
    let current: Uint8Array = new Uint8Array(0);
    try {
      const deadline = Date.now() + SECONDS * 1000;
      while (Date.now() < deadline) {
        current = rng.bytes(16 + rng.int(240));
        machine.load(current, { format: 'flat' });
        const result = machine.runSync({ timeoutMs: 20, maxExits: 500 });
        counts[result.reason] = (counts[result.reason] ?? 0) + 1;
        if (!REPORTED.has(result.reason)) throw new Error(`unexpected stop reason ${result.reason}`);
        expect(typeof result.message).toBe('string');
        runs++;
        if (runs % 50 === 0) {
          // The machine is still sound: a known guest writes 0x21 to the debug-exit port => exit code 0x43.
          machine.load(KNOWN_GOOD[mode], { format: 'flat' });
          expect(machine.runSync({ timeoutMs: 1000 })).toMatchObject({ reason: 'debugExit', exitCode: 0x43 });
        }
      }
    } catch (err) {
      process.stderr.write(`fuzz failure: mode=${mode} FUZZ_SEED=${seed} run=${runs} code=${Buffer.from(current).toString('hex')}\n`);
      throw err;
    } finally {
      machine.close();
    }
    process.stdout.write(`fuzz ${mode}: seed ${seed}, ${runs} runs in ${SECONDS} s: ${JSON.stringify(counts)}\n`);
    expect(runs).toBeGreaterThan(0);
  });
});
