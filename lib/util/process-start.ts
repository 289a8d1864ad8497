// Module state taken from the host or the environment when a module loads.
// In a process started from the startup snapshot, modules were loaded by the
// snapshot's builder (scripts/snapshot-builder.js), so such state is computed
// again when the process starts, never frozen from the build.

/** Where the snapshot's builder collects what to run at start (it defines the array while it loads dist/). */
const AT_START = Symbol.for('node-kvm.startup-snapshot.at-start');

/** Runs `init` when this process starts: now, or, while a startup snapshot is built, when a process starts from it. */
export function atProcessStart(init: () => void): void {
  const later = (globalThis as { [AT_START]?: (() => void)[] })[AT_START];
  if (later) later.push(init);
  else init();
}

/** Where bin/'s launcher (scripts/launch.sh) keeps NODE_EXTRA_CA_CERTS while Node starts. */
const LAUNCH_EXTRA_CA_CERTS = 'NODE_KVM_LAUNCH_EXTRA_CA_CERTS';

/**
 * Puts back what bin/'s launcher moved aside so that Node would start fast
 * (NODE_EXTRA_CA_CERTS, which Node 20 parses at start): the executables'
 * entries call it first, so process.env, and every child's environment, is
 * the user's again.
 */
export function restoreLaunchEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const certs = env[LAUNCH_EXTRA_CA_CERTS];
  if (certs === undefined) return;
  env.NODE_EXTRA_CA_CERTS = certs;
  delete env[LAUNCH_EXTRA_CA_CERTS];
}
