// QEMU 7.2's two option-string syntaxes and its value parsers, as the
// command line needs them: QemuOpts (util/qemu-option.c: -m, -drive, -device,
// -chardev, -smp, ...) and keyval (util/keyval.c: -machine, -display), both
// "key=value,key2=value" with ",," standing for a comma inside a value; and
// qemu_strtosz (util/cutils.c), qapi_bool_parse (qapi/qapi-util.c) and the
// C-integer syntax strtoll/strtoull accept with base 0.
import { QemuOptionError, type QemuWarning } from './qemu-error';

/** One key=value of an option string, in the order written. */
export type OptPair = [key: string, value: string];

/** The value types of a QemuOpts list with a description (QEMU_OPT_*): checked as the option is parsed. */
export type OptType = 'string' | 'bool' | 'number' | 'size';

export interface QemuOptsSyntax {
  /** The key of a first element written without '=' (QemuOptsList.implied_opt_name). */
  implied?: string;
  /** The list's description; without one, any key is accepted here and checked by its consumer. */
  desc?: Record<string, OptType>;
}

/** Reads a value up to the next lone ',' (",," is a comma); returns it and the index after the ','. */
function readValue(text: string, at: number): [string, number] {
  let value = '';
  let i = at;
  while (i < text.length) {
    if (text[i] === ',') {
      if (text[i + 1] !== ',') return [value, i + 1];
      i++;
    }
    value += text[i++];
  }
  return [value, i];
}

/**
 * Splits a QemuOpts string (get_opt_name_value): a first element without '='
 * is the implied key's value; any other element without '=' is a short-form
 * boolean ("foo" is foo=on, "nofoo" is foo=off), accepted with QEMU 7.2's
 * deprecation warning. With a description, unknown keys and bad values are
 * errors here, as in opt_set().
 */
export function parseQemuOpts(text: string, syntax: QemuOptsSyntax, location: string, warnings: QemuWarning[]): OptPair[] {
  const pairs: OptPair[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const nameLen = rest.search(/[=,]|$/);
    let key: string;
    let value: string;
    if (rest[nameLen] === '=') {
      key = rest.slice(0, nameLen);
      [value, i] = readValue(text, i + nameLen + 1);
    } else if (i === 0 && syntax.implied !== undefined) {
      key = syntax.implied;
      [value, i] = readValue(text, 0);
    } else {
      const flag = rest.slice(0, nameLen);
      key = flag.startsWith('no') ? flag.slice(2) : flag;
      value = flag.startsWith('no') ? 'off' : 'on';
      if (flag !== 'help' && flag !== '?') {
        warnings.push({ location, text: `short-form boolean option '${flag}' deprecated`, hint: `Please use ${key}=${value} instead\n` });
      }
      i += nameLen + (rest[nameLen] === ',' ? 1 : 0);
    }
    if (key === 'id') checkId(value, location);
    else if (syntax.desc) checkDescribed(syntax.desc, key, value, location, warnings);
    pairs.push([key, value]);
  }
  return pairs;
}

/** util/id.c id_wellformed: what QemuOpts takes as an id= (checked for every list). */
function checkId(value: string, location: string): void {
  if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(value)) {
    throw new QemuOptionError("Parameter 'id' expects an identifier", location, "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n");
  }
}

function checkDescribed(desc: Record<string, OptType>, key: string, value: string, location: string, warnings: QemuWarning[]): void {
  const type = desc[key];
  if (type === undefined) throw new QemuOptionError(`Invalid parameter '${key}'`, location);
  if (type === 'bool' && parseQapiBool(value) === undefined) throw new QemuOptionError(`Parameter '${key}' expects 'on' or 'off'`, location);
  if (type === 'number' && parseCInteger(value, false) === undefined) throw new QemuOptionError(`Parameter '${key}' expects a number`, location);
  if (type === 'size') {
    parseOptionSize(key, value, location);
    if (isHexWithSuffix(value)) warnings.push(hexSuffixWarning(value, location));
  }
}

/** QemuOpts' size option (parse_option_size): QEMU's two messages for a bad size. */
export function parseOptionSize(key: string, value: string, location: string | null): bigint {
  const r = qemuStrtosz(value);
  if (r === 'ERANGE') throw new QemuOptionError(`Value '${value}' is out of range for parameter '${key}'`, location);
  if (r === 'EINVAL') {
    throw new QemuOptionError(`Parameter '${key}' expects a non-negative number below 2^64`, location,
      'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.\n');
  }
  return r.value;
}

const KEY_FRAGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Splits a keyval string (keyval_parse): an implied first key's value ends at
 * the first ',' (no escape there, as in QEMU); every other element needs '='.
 * Later keys win over earlier ones, as QEMU's QDict does; the order returned
 * is that of first appearance.
 */
export function parseKeyval(text: string, implied: string | undefined, location: string): OptPair[] {
  const pairs = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const keyLen = rest.search(/[=,]|$/);
    const key = rest.slice(0, keyLen);
    if (i === 0 && implied !== undefined && rest[keyLen] !== '=') {
      pairs.set(implied, key);
      i += keyLen + 1;
      continue;
    }
    if (key === '' || !key.split('.').every((f) => KEY_FRAGMENT.test(f))) throw new QemuOptionError(`Invalid parameter '${key}'`, location);
    if (rest[keyLen] !== '=') throw new QemuOptionError(`Expected '=' after parameter '${key}'`, location);
    let value: string;
    [value, i] = readValue(text, i + keyLen + 1);
    pairs.delete(key);
    pairs.set(key, value);
  }
  return [...pairs];
}

/** qapi_bool_parse: on/yes/true/y and off/no/false/n. */
export function parseQapiBool(value: string): boolean | undefined {
  if (['on', 'yes', 'true', 'y'].includes(value)) return true;
  if (['off', 'no', 'false', 'n'].includes(value)) return false;
  return undefined;
}

/**
 * An integer as strtoll/strtoull read it with base 0 (decimal, 0x hex, 0
 * octal), the whole string, as qemu_strtoi64/qemu_strtou64 require; a
 * leading '-' is allowed for signed values (and, as strtoull does, wraps for
 * unsigned ones). Undefined when it is not one or does not fit in 64 bits.
 */
export function parseCInteger(value: string, signed: boolean): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(value);
  if (!m) return undefined;
  const magnitude = BigInt(/^0[0-7]+$/.test(m[2]) ? `0o${m[2].slice(1)}` : m[2]);
  const v = m[1] === '-' ? -magnitude : magnitude;
  if (signed) return v >= -(1n << 63n) && v < 1n << 63n ? v : undefined;
  if (magnitude >= 1n << 64n) return undefined;
  return BigInt.asUintN(64, v);
}

const SIZE_SUFFIX = 'BKMGTPE';

/** Whether a size has a multiplier suffix on a hex number: QEMU 7.2 warns that this is deprecated. */
export function isHexWithSuffix(value: string): boolean {
  return /^\s*\+?0[xX][0-9a-fA-F]+[KMGTPEkmgtpe]$/.test(value);
}

/** qemu_strtosz's warning for such a size, each time it parses one. */
export function hexSuffixWarning(value: string, location: string | null): QemuWarning {
  return { location, text: `Using a multiplier suffix on hex numbers is deprecated: ${value}`, hint: '' };
}

/**
 * qemu_strtosz with QEMU 7.2's rules: a decimal integer with an optional
 * fraction (which needs a multiplier), or 0x hex without one; an optional
 * suffix B, K, M, G, T, P or E (either case, powers of 1024); the exact
 * product in 64.64 fixed point, .5 rounded up; more than 64 bits is ERANGE.
 */
export function qemuStrtosz(value: string): { value: bigint } | 'EINVAL' | 'ERANGE' {
  const m = /^\s*\+?(?:(0[xX][0-9a-fA-F]+)|([0-9]+)(\.[0-9]*)?)([A-Za-z]?)$/.exec(value);
  if (!m) return 'EINVAL';
  const [, hexDigits, decimal, fraction, suffix] = m;
  const exponent = SIZE_SUFFIX.indexOf(suffix.toUpperCase());
  if (suffix !== '' && exponent < 0) return 'EINVAL';
  const integer = BigInt(hexDigits ?? decimal);
  if (integer >= 1n << 64n) return 'ERANGE';
  const mul = 1n << BigInt(10 * Math.max(exponent, 0));
  // The fraction as a 64-bit fixed-point number, from its double, as QEMU converts it.
  const fixed = fraction && fraction.length > 1 ? BigInt(Math.min(Number(fraction) * 2 ** 64, 2 ** 64 - 2048)) : 0n;
  if (mul === 1n) return fixed === 0n ? { value: integer } : 'EINVAL';
  const scaledFraction = fixed * mul;
  const result = integer * mul + (scaledFraction >> 64n) + ((scaledFraction >> 63n) & 1n);
  return result >= 1n << 64n ? 'ERANGE' : { value: result };
}
