// The error every snapshot refusal throws: `kind` says which check failed.

/**
 * layout: the snapshot belongs to another machine layout; version: a file of
 * another format version; corrupt: the file's checksum or tables are wrong;
 * truncated: the file is shorter than its header says; format: not a snapshot
 * file at all; file: the path cannot be read or written as a snapshot file
 * (missing, a directory, a FIFO, a device, no permission); closed: the machine is closed.
 */
export type SnapshotErrorKind = 'layout' | 'version' | 'corrupt' | 'truncated' | 'closed' | 'format' | 'file';

export class SnapshotError extends Error {
  constructor(readonly kind: SnapshotErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SnapshotError';
  }
}
