// Hexadecimal formatting, in the forms node-kvm's messages and QEMU's text use.

/** `0x1f` for 31: addresses, ports and values in messages. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** Zero-padded to `digits` digits without a prefix, modulo 2^(4·digits): QEMU's `%016" PRIx64`. */
export function hexPadded(value: bigint, digits: number): string {
  return BigInt.asUintN(digits * 4, value).toString(16).padStart(digits, '0');
}

/** `0f 01 d9`: instruction or data bytes. */
export function hexBytes(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
