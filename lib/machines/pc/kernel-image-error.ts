// The error of a -kernel/-initrd image the pc machine cannot boot: the
// message is QEMU's for the same image (QEMU exits with status 1), so a
// command line that maps it onto stderr behaves as qemu-system-x86_64 does.
export class KernelImageError extends Error {
  override readonly name = 'KernelImageError';
}
