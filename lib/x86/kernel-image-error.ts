// The error of a -kernel/-initrd image that cannot be booted: the message is
// QEMU's for the same image (QEMU exits with status 1), so a command line
// that maps it onto stderr behaves as qemu-system-x86_64 does. The boot
// protocols (lib/x86/boot-*.ts) and the boards that use them throw it.
export class KernelImageError extends Error {
  override readonly name = 'KernelImageError';

  /**
   * @param qemuText the line QEMU writes to stderr as it is, when QEMU
   *   prints it with fprintf ("qemu: ..."), not with error_report (then the
   *   program name and the message)
   */
  constructor(message: string, readonly qemuText?: string) {
    super(message);
  }
}
