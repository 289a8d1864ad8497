// KVM availability for tests. Where /dev/kvm exists, KVM tests always run
// (CI fails if any is skipped there); where it is absent they are skipped
// with a loud warning, never silently.
import * as fs from 'fs';

export const KVM_PATH = '/dev/kvm';
export const hasKvm = fs.existsSync(KVM_PATH);

if (!hasKvm) {
  process.stderr.write(`\n*** ${KVM_PATH} is absent: KVM tests are SKIPPED on this host ***\n\n`);
}

/** `describe` for suites that need /dev/kvm. */
export const describeKvm: jest.Describe = hasKvm ? describe : describe.skip;

/** Open file descriptors of this process, for leak checks. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Mappings of this process (lines of /proc/self/maps), for leak checks. */
export function mappingCount(): number {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length;
}
