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
