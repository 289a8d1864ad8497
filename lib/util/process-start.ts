// Module state taken from the host or the environment when a module loads.
// In a process started from the startup snapshot (scripts/snapshot-builder.js)
// modules were loaded by the snapshot's builder, so such state is computed
// again when the process starts, never frozen from the build.
import * as v8 from 'v8';

/** Runs `init` when this process starts: now, or, while a startup snapshot is built, when a process starts from it. */
export function atProcessStart(init: () => void): void {
  if (v8.startupSnapshot.isBuildingSnapshot()) v8.startupSnapshot.addDeserializeCallback(init);
  else init();
}
