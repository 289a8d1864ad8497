// The channels of the in-kernel PIT's state (struct kvm_pit_state2 of
// <linux/kvm.h>), decoded for the one device that needs them: the PC
// speaker port 0x61 reads channel 2's gate and output and writes its gate,
// as QEMU's kvm-i8254.c does through KVM_GET_PIT2/KVM_SET_PIT2.
//
// struct kvm_pit_channel_state (24 bytes): u32 count; u16 latched_count;
// u8 count_latched, status_latched, status, read_state, write_state,
// write_latch, rw_mode, mode, bcd, gate; s64 count_load_time (the kernel's
// ktime, CLOCK_MONOTONIC ns). kvm_pit_state2: channels[3], u32 flags,
// u32 reserved[9]. This is kernel ABI, fixed since Linux 2.6.
import { layout } from '../binding';
import { toBigInt, toUint } from '../util/integers';
import { pit2Buffer, pit2State, type Pit2State } from './irqchip-state';

const CHANNEL_SIZE = 24;
const OFF_COUNT = 0;
const OFF_MODE = 13;
const OFF_GATE = 15;
const OFF_COUNT_LOAD_TIME = 16;
/** PIT_FREQ (hw/timer/i8254_common.c): the PIT's input clock, Hz. */
export const PIT_FREQ = 1193182n;
const NS_PER_S = 1_000_000_000n;

/** The fields of one PIT channel that its output depends on. */
export interface PitChannelState {
  /** The reload value (the kernel stores a programmed 0 as 0x10000). */
  readonly count: number;
  readonly mode: number;
  readonly gate: boolean;
  /** When counting (re)started, CLOCK_MONOTONIC ns. */
  readonly countLoadTime: bigint;
}

function checkChannel(channel: number): number {
  if (channel !== 0 && channel !== 1 && channel !== 2) throw new RangeError(`a PIT channel is 0, 1 or 2, got ${String(channel)}`);
  return channel;
}

function view(state: Pit2State): DataView {
  const bytes = pit2State(state?.bytes).bytes;
  if (bytes.length < 3 * CHANNEL_SIZE || layout('sizeof.kvm_pit_state2') < 3 * CHANNEL_SIZE) throw new RangeError('struct kvm_pit_state2 is smaller than its three channels');
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Channel `channel` of a KVM_GET_PIT2 state. */
export function pitChannel(state: Pit2State, channel: number): PitChannelState {
  const base = checkChannel(channel) * CHANNEL_SIZE;
  const v = view(state);
  return {
    count: v.getUint32(base + OFF_COUNT, true),
    mode: v.getUint8(base + OFF_MODE),
    gate: v.getUint8(base + OFF_GATE) !== 0,
    countLoadTime: v.getBigInt64(base + OFF_COUNT_LOAD_TIME, true),
  };
}

/** A copy of `state` with channel `channel`'s gate set to `gate`, for KVM_SET_PIT2. */
export function withPitGate(state: Pit2State, channel: number, gate: boolean): Pit2State {
  const base = checkChannel(channel) * CHANNEL_SIZE;
  view(state);
  const bytes = state.bytes.slice();
  bytes[base + OFF_GATE] = gate ? 1 : 0;
  return pit2State(bytes);
}

/**
 * A PIT state whose three channels have these reload values, modes, gates
 * and load times, every other field (latches, read/write state, rw_mode,
 * BCD) and the flags zero: what a channel is before the guest programs it.
 */
export function pit2StateOf(channels: readonly PitChannelState[]): Pit2State {
  if (!Array.isArray(channels) || channels.length !== 3) throw new TypeError('pit2StateOf() needs the three channels');
  const bytes = pit2Buffer();
  if (bytes.length < 3 * CHANNEL_SIZE) throw new RangeError('struct kvm_pit_state2 is smaller than its three channels');
  const v = new DataView(bytes.buffer);
  channels.forEach((ch, i) => {
    const base = i * CHANNEL_SIZE;
    v.setUint32(base + OFF_COUNT, toUint(ch?.count, 32, `channel ${i} count`), true);
    v.setUint8(base + OFF_MODE, toUint(ch.mode, 8, `channel ${i} mode`));
    if (typeof ch.gate !== 'boolean') throw new TypeError(`channel ${i} gate must be a boolean`);
    v.setUint8(base + OFF_GATE, ch.gate ? 1 : 0);
    v.setBigInt64(base + OFF_COUNT_LOAD_TIME, BigInt.asIntN(64, toBigInt(ch.countLoadTime, `channel ${i} countLoadTime`)), true);
  });
  return pit2State(bytes);
}

/** pit_get_out (hw/timer/i8254_common.c): the channel's OUT pin at `nowNs` (CLOCK_MONOTONIC). */
export function pitChannelOutput(ch: PitChannelState, nowNs: bigint): boolean {
  const elapsed = nowNs > ch.countLoadTime ? nowNs - ch.countLoadTime : 0n;
  const d = (elapsed * PIT_FREQ) / NS_PER_S;
  const count = BigInt(ch.count === 0 ? 0x10000 : ch.count);
  switch (ch.mode) {
    case 1:
      return d < count;
    case 2:
      return d % count === 0n && d !== 0n;
    case 3:
      return d % count < (count + 1n) >> 1n;
    case 4:
    case 5:
      return d === count;
    default: // mode 0 (and what QEMU treats as it)
      return d >= count;
  }
}
