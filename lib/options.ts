// Options objects are checked against the keys they can have: a misspelt
// option ({ memroy: '32M' }) would otherwise be ignored and the default used
// without a word.

/**
 * The valid keys of an options type, as an object literal that the compiler
 * checks against the type (`satisfies OptionKeys<T>`): adding an option to the
 * interface without adding it here, or the reverse, does not compile.
 */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/**
 * Returns `opts` (or `{}` when it is undefined) after checking that it is a
 * plain options object whose own keys are all in `valid`; otherwise throws a
 * TypeError that names the offending key and lists the valid ones. `where`
 * names the call, e.g. 'Machine.create()'.
 */
export function checkOptions<T extends object>(opts: T | undefined, valid: OptionKeys<T>, where: string): T {
  if (opts === undefined) return {} as T;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    const got = opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts;
    throw new TypeError(`the options of ${where} must be an object, got ${got}`);
  }
  for (const key of Object.keys(opts)) {
    if (!Object.hasOwn(valid, key)) {
      throw new TypeError(`unknown option '${key}' for ${where}; valid options: ${Object.keys(valid).join(', ')}`);
    }
  }
  return opts;
}
