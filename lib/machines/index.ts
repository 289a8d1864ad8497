// The machine types Machine.create({ machine }) knows (QEMU's -machine),
// by name. A new board is a file in this folder, listed here.
import type { Board } from './board';
import { MICROVM } from './microvm';
import { PC } from './pc';
import { TINY } from './tiny';

const BOARDS: ReadonlyMap<string, Board> = new Map([TINY, PC, MICROVM].map((b) => [b.name, b]));

/** The board Machine.create() builds without a `machine` option (what node-kvm always built). */
export const DEFAULT_MACHINE = TINY.name;

/** The machine types, with a line each (what QEMU's `-machine help` lists). */
export function machineTypes(): { name: string; description: string }[] {
  return [...BOARDS.values()].map((b) => ({ name: b.name, description: b.description }));
}

function supported(): string {
  return [...BOARDS.keys()].map((n) => `"${n}"`).join(', ');
}

/**
 * The board named `name` (undefined: the default). Throws, like QEMU's
 * "unsupported machine type", a RangeError listing the machine types.
 */
export function boardNamed(name: unknown, where: string): Board {
  if (name === undefined) return BOARDS.get(DEFAULT_MACHINE)!;
  if (typeof name !== 'string') throw new TypeError(`machine must be a string naming a machine type (${supported()}), got ${name === null ? 'null' : typeof name}`);
  const board = BOARDS.get(name);
  if (board === undefined) {
    throw new RangeError(`unsupported machine type "${name}" for ${where}; supported machine types: ${supported()} (machineTypes() lists them with a description)`);
  }
  return board;
}

/**
 * The board an options object's `machine` names, and the other options (the
 * board's to check). Anything but a plain object is passed on as it is, for
 * checkOptions() to refuse.
 */
export function pickBoard(options: object | undefined, where: string): { board: Board; rest: object | undefined } {
  if (typeof options !== 'object' || options === null || Array.isArray(options) || !Object.hasOwn(options, 'machine')) {
    return { board: boardNamed(undefined, where), rest: options };
  }
  const { machine, ...rest } = options as { machine?: unknown };
  return { board: boardNamed(machine, where), rest };
}

/** The board of a snapshot layout, or undefined when this node-kvm has none of that name. */
export function boardOfSnapshot(machine: string): Board | undefined {
  return BOARDS.get(machine);
}

export type { Board, BoardContext, BoardInstance, BoardPlan, BoardSnapshotKey, CpuSetup, FirmwareCpuSetup, ProgramCpuSetup, SystemResetHooks } from './board';
export { MACHINE_LAYOUT, type SerialOptions, type TinyBoardOptions } from './tiny';
export { RESET_VECTOR, type PcBoardOptions, type PcDiskOptions } from './pc';
export type { MicrovmBoardOptions } from './microvm';
