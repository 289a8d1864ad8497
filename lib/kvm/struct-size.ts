// The <linux/kvm.h> struct sizes the TypeScript encoders are written for,
// checked against the addon's sizeof so a header mismatch fails loudly
// instead of corrupting state.
import { layout } from '../binding';

/** Throws unless struct `name` (e.g. 'kvm_regs') is `expected` bytes in the headers the addon was built with. */
export function checkStructSize(name: string, expected: number): void {
  const actual = layout(`sizeof.${name}`);
  if (actual !== expected) throw new Error(`node-kvm: ${name} is ${actual} bytes in <linux/kvm.h>, expected ${expected}`);
}
