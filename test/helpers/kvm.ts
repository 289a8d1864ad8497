// KVM availability for tests. Where /dev/kvm exists, KVM tests always run
// (CI fails if any is skipped there); where it is absent they are skipped
// with a loud warning, never silently. Where it exists but cannot be opened,
// the run stops before any test, once, with the library's advice
// (test/helpers/kvm-global-setup.ts).
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

/** This process's open fds, each as "fd -> what it is" (readlink of /proc/self/fd/N). */
export function openFds(): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.add(`${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`);
    } catch { /* closed meanwhile (the readdir's own fd) */ }
  }
  return out;
}

/**
 * The fds open now that were not open at `before` (openFds()): a leak check
 * that other fds closing meanwhile cannot cancel out or fail, as a count can
 * (a jest worker's pipes from an earlier suite close when they please).
 */
export function fdsOpenedSince(before: Set<string>): string[] {
  return [...openFds()].filter((f) => !before.has(f));
}

/** Host mappings node-kvm holds (guest RAM and kvm_run pages), for leak checks. */
export function mappingCount(): number {
  // Required lazily so this helper loads even where the addon is not built.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../lib/binding') as typeof import('../../lib/binding')).native().liveMappings();
}
