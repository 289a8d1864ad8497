// errno values by name, from Node's table for this platform (never literals:
// they differ between architectures).
import * as os from 'os';

export const ERRNO: Readonly<Record<string, number>> = os.constants.errno;

/** The errno value of `name` (e.g. 'EBADF'); throws on a name this platform does not have. */
export function errno(name: keyof typeof os.constants.errno): number {
  const value = os.constants.errno[name];
  if (typeof value !== 'number') throw new Error(`node-kvm: no errno named ${String(name)} on this platform`);
  return value;
}
