// errno values by name, from Node's table for this platform (never literals:
// they differ between architectures).
import * as os from 'os';

export const ERRNO: Readonly<Record<string, number>> = os.constants.errno;

/** strerror() of the errors a file open reports, by Node's error code (what QEMU prints for them). */
const STRERROR: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  EROFS: 'Read-only file system',
  ELOOP: 'Too many levels of symbolic links',
  ENOTDIR: 'Not a directory',
};

/** The C library's text for a Node error (`e.code`), or the error's own message for a code not in the table. */
export function strerror(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return (typeof code === 'string' ? STRERROR[code] : undefined) ?? (e instanceof Error ? e.message : String(e));
}

/** The errno value of `name` (e.g. 'EBADF'); throws on a name this platform does not have. */
export function errno(name: keyof typeof os.constants.errno): number {
  const value = os.constants.errno[name];
  if (typeof value !== 'number') throw new Error(`node-kvm: no errno named ${String(name)} on this platform`);
  return value;
}
