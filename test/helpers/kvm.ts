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

/** CPU time each thread of this process has used so far, in ms (tid -> utime + stime from /proc/self/task/TID/stat). */
export function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      // Fields after the ")" that ends the thread's name: state is the 3rd, utime the 14th, stime the 15th.
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, ((Number(f[11]) + Number(f[12])) * 1000) / 100); // USER_HZ is 100 on Linux
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

/**
 * The most CPU any one thread used since `before` (threadCpuMs()), in ms: a
 * spinning thread shows here whatever else the process (a jest worker's GC,
 * a busy host) does meanwhile, which a process-wide cpuUsage() cannot tell apart.
 */
export function busiestThreadMsSince(before: Map<string, number>): number {
  let most = 0;
  for (const [tid, ms] of threadCpuMs()) most = Math.max(most, ms - (before.get(tid) ?? 0));
  return most;
}
