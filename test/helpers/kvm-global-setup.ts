// Jest globalSetup: runs once, before any test file. Where /dev/kvm exists
// but this user cannot open it, every KVM test could only fail with the same
// EACCES: stop the run here instead, with the library's advice, once.
// (Not in ./kvm.ts: that module uses jest's `describe`, which globalSetup lacks.)
import * as fs from 'fs';
import * as os from 'os';
import { KvmError } from '../../lib/errors';

// NODE_KVM_TEST_DEVICE stands in for /dev/kvm only here, so that
// test/suite/hygiene.test.ts can run jest where "the device" cannot be opened.
const KVM_PATH = process.env.NODE_KVM_TEST_DEVICE || '/dev/kvm';

/**
 * The KvmError, with its advice, that opening an existing KVM device gives
 * this user; null when it opens or does not exist (then ./kvm.ts skips the
 * KVM tests loudly). A plain open(2): the addon is not needed for this.
 */
export function kvmAccessError(path = KVM_PATH): KvmError | null {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') return null;
    return new KvmError('open', os.constants.errno[code as keyof typeof os.constants.errno] ?? 0, path);
  }
  fs.closeSync(fd);
  return null;
}

export default function kvmGlobalSetup(): void {
  const err = kvmAccessError();
  if (!err) return;
  // The message only: a stack trace of this helper would bury the advice.
  err.stack = `${err.message}\nThe tests run real guests on KVM: fix the access to ${KVM_PATH}, then run them again.`;
  throw err;
}
