// The parts of a vCPU's state that `info registers` shows beyond the general,
// special, debug and x87/SSE registers (which Vcpu reads itself): the
// interrupt shadow, SMM and halted flags (kvm_vcpu_events, kvm_mp_state) and
// XCR0 with the AVX/AVX-512 register parts of the XSAVE image, read the way
// QEMU 7.2's target/i386/kvm/kvm.c fills CPUX86State (kvm_get_vcpu_events,
// kvm_get_mp_state, kvm_get_xsave / x86_cpu_xrstor_all).
import { kvmConstant, layout } from '../binding';
import { XSTATE_BV_OFFSET } from './cpu-state';
import type { Vcpu } from './vcpu';

/**
 * Where the XSAVE standard (non-compacted) format keeps the components past
 * x87/SSE: Intel SDM vol. 1 13.4, the offsets CPUID.(0DH, i).EBX reports on
 * every CPU with the feature, and those QEMU's x86_ext_save_areas uses.
 */
const XSAVE_YMM_HI128 = 576; // YMM0-15 bits 255:128, 16 bytes each
const XSAVE_OPMASK = 1088; // k0-k7, 8 bytes each
const XSAVE_ZMM_HI256 = 1152; // ZMM0-15 bits 511:256, 32 bytes each
const XSAVE_HI16_ZMM = 1664; // ZMM16-31, 64 bytes each

/** XCR0 bits (XSTATE_*_MASK in QEMU's target/i386/cpu.h) */
export const XSTATE_SSE = 1n << 1n;
export const XSTATE_YMM = 1n << 2n;
export const XSTATE_OPMASK = 1n << 5n;
export const XSTATE_ZMM_HI256 = 1n << 6n;
export const XSTATE_HI16_ZMM = 1n << 7n;
export const XSTATE_AVX = XSTATE_YMM | XSTATE_SSE;
export const XSTATE_AVX512 = XSTATE_OPMASK | XSTATE_ZMM_HI256 | XSTATE_HI16_ZMM | XSTATE_AVX;

export interface VcpuDumpExtras {
  /** an interrupt shadow (after STI or MOV SS) is in effect: QEMU's HF_INHIBIT_IRQ, "II=" */
  interruptShadow: boolean;
  /** in System Management Mode: "SMM=" */
  smm: boolean;
  /** KVM_MP_STATE_HALTED: QEMU's cs->halted, "HLT=" */
  halted: boolean;
  /** XCR0; 1 (x87 only) on a host without XSAVE */
  xcr0: bigint;
  /** the AVX and AVX-512 parts of the vector registers, when XCR0 enables them */
  vectors?: XsaveVectors;
}

export interface XsaveVectors {
  /** bits 255:128 of YMM0-15 */
  ymmHigh: Uint8Array[];
  /** k0-k7 */
  opmask: bigint[];
  /** bits 511:256 of ZMM0-15 */
  zmmHigh: Uint8Array[];
  /** ZMM16-31, whole */
  hi16Zmm: Uint8Array[];
}

function slots(image: Uint8Array, at: number, size: number, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => image.slice(at + size * i, at + size * (i + 1)));
}

/**
 * The vector parts of an XSAVE image.  A component whose XSTATE_BV bit is
 * clear is in its init state (all zeros), whatever the image's bytes say.
 */
export function decodeXsaveVectors(image: Uint8Array): XsaveVectors {
  const bv = new DataView(image.buffer, image.byteOffset, image.byteLength).getBigUint64(XSTATE_BV_OFFSET, true);
  const part = (bit: bigint, at: number, size: number, n: number) =>
    (bv & bit ? slots(image, at, size, n) : Array.from({ length: n }, () => new Uint8Array(size)));
  const opmask = part(XSTATE_OPMASK, XSAVE_OPMASK, 8, 8).map((b) => new DataView(b.buffer).getBigUint64(0, true));
  return {
    ymmHigh: part(XSTATE_YMM, XSAVE_YMM_HI128, 16, 16),
    opmask,
    zmmHigh: part(XSTATE_ZMM_HI256, XSAVE_ZMM_HI256, 32, 16),
    hi16Zmm: part(XSTATE_HI16_ZMM, XSAVE_HI16_ZMM, 64, 16),
  };
}

/** Reads the flags and vector parts (KVM_GET_VCPU_EVENTS, KVM_GET_MP_STATE, KVM_GET_XCRS, KVM_GET_XSAVE). */
export function readVcpuDumpExtras(vcpu: Vcpu): VcpuDumpExtras {
  const events = new Uint8Array(layout('sizeof.kvm_vcpu_events'));
  vcpu.ioctl('KVM_GET_VCPU_EVENTS', events);
  const flags = new DataView(events.buffer).getUint32(layout('vcpu_events.flags'), true);
  const mp = new Uint8Array(layout('sizeof.kvm_mp_state'));
  vcpu.ioctl('KVM_GET_MP_STATE', mp);
  const out: VcpuDumpExtras = {
    interruptShadow: events[layout('vcpu_events.interrupt.shadow')] !== 0,
    smm: (flags & kvmConstant('KVM_VCPUEVENT_VALID_SMM')) !== 0 && events[layout('vcpu_events.smi.smm')] !== 0,
    halted: new DataView(mp.buffer).getUint32(0, true) === kvmConstant('KVM_MP_STATE_HALTED'),
    xcr0: 1n,
  };
  if (!vcpu.hasXsaveState) return out;
  out.xcr0 = vcpu.getXcrs().find((x) => x.index === 0)?.value ?? 1n;
  if ((out.xcr0 & XSTATE_AVX) === XSTATE_AVX) {
    const image = new Uint8Array(layout('sizeof.kvm_xsave'));
    vcpu.ioctl('KVM_GET_XSAVE', image);
    out.vectors = decodeXsaveVectors(image);
  }
  return out;
}
