// Snapshot support for devices: a device that implements these two methods
// is saved and restored with the machine (a board's devices are registered
// when the board plugs them, see devices/device.ts; register your own with
// machine.addDevice).
//
// State is plain data: numbers, strings, booleans, null, arrays, objects, and
// also bigint and Uint8Array, which the file format encodes. Keep it small:
// snapshots are taken and restored thousands of times a second.

/** Plain data a device's state is made of. */
export type DeviceStateValue =
  | number | string | boolean | null | bigint | Uint8Array
  | DeviceStateValue[] | { [key: string]: DeviceStateValue };

export interface SnapshotDevice {
  /** A name unique within the machine; it keys the device's state in snapshots. */
  readonly snapshotName: string;
  /** The device's state, as plain data that the device does not keep a reference to. */
  saveState(): DeviceStateValue;
  /**
   * Puts the device back into a state saveState() returned (possibly read from a
   * file). Check the state first and throw without changing anything when it
   * is not one this device can take.
   */
  loadState(state: DeviceStateValue): void;
}

export function isSnapshotDevice(value: unknown): value is SnapshotDevice {
  const d = value as SnapshotDevice;
  return typeof d === 'object' && d !== null && typeof d.snapshotName === 'string' && d.snapshotName.length > 0 &&
    typeof d.saveState === 'function' && typeof d.loadState === 'function';
}

/** A deep copy, so a snapshot never shares mutable state with a live device. */
export function copyState(value: DeviceStateValue): DeviceStateValue {
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map(copyState);
  if (typeof value === 'object' && value !== null) {
    const out: { [key: string]: DeviceStateValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyState(v);
    return out;
  }
  return value;
}

// JSON encoding for files: bigint and bytes become tagged objects.
export function stateToJson(value: DeviceStateValue): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(stateToJson);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = stateToJson(v);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('device state numbers must be finite');
  return value;
}

export function stateFromJson(json: unknown): DeviceStateValue {
  if (Array.isArray(json)) return json.map(stateFromJson);
  if (typeof json === 'object' && json !== null) {
    const o = json as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.$bigint === 'string') return BigInt(o.$bigint);
    if (keys.length === 1 && typeof o.$bytes === 'string') return new Uint8Array(Buffer.from(o.$bytes, 'base64'));
    const out: { [key: string]: DeviceStateValue } = {};
    for (const [k, v] of Object.entries(o)) out[k] = stateFromJson(v);
    return out;
  }
  if (typeof json === 'number' || typeof json === 'string' || typeof json === 'boolean' || json === null) return json;
  throw new TypeError(`not device state: ${typeof json}`);
}

/** Reads a field of a device state, checking its type (for loadState implementations). */
export function stateField<T extends 'number' | 'boolean' | 'string'>(
  state: DeviceStateValue, key: string, type: T, device: string,
): T extends 'number' ? number : T extends 'boolean' ? boolean : string {
  const v = (state as Record<string, unknown> | null)?.[key];
  if (typeof state !== 'object' || state === null || Array.isArray(state) || typeof v !== type) {
    throw new TypeError(`${device} state: field "${key}" must be a ${type}`);
  }
  return v as never;
}

/** stateField(state, key, 'number', device), which must also be a byte (0-255). */
export function byteStateField(state: DeviceStateValue, key: string, device: string): number {
  const v = stateField(state, key, 'number', device);
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${device} state: ${key} must be a byte`);
  return v;
}
