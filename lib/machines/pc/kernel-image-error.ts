// The pc machine's -kernel errors are the boot protocols' (lib/x86/kernel-image-error.ts).
export { KernelImageError } from '../../x86/kernel-image-error';
