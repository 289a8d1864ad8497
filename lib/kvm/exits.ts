// vCPU exits, decoded from the shared kvm_run page into typed objects.
// Data of I/O and MMIO exits is a zero-copy view into the page: a handler
// fills it for reads ("in"), and KVM picks it up on the next KVM_RUN.
import { kvmConstant, layout } from '../binding';

export type VcpuExit =
  | { reason: 'io'; direction: 'in' | 'out'; port: number; size: number; count: number; data: Uint8Array }
  | { reason: 'mmio'; address: bigint; isWrite: boolean; length: number; data: Uint8Array }
  | { reason: 'hlt' }
  | { reason: 'shutdown' }
  | { reason: 'failEntry'; hardwareEntryFailureReason: bigint; cpu: number }
  | { reason: 'internalError'; suberror: number; suberrorName: string; data: bigint[]; instructionBytes?: Uint8Array }
  | { reason: 'systemEvent'; type: number; data: bigint[] }
  | { reason: 'debug'; exception: number; pc: bigint }
  | { reason: 'interrupted' }
  | { reason: 'unknown'; exitReason: number; hardwareExitReason?: bigint };

/** Offsets into kvm_run and exit numbers, read from the addon once. */
interface RunLayout {
  immediateExit: number;
  kvmDirtyRegs: number;
  exitReason: number;
  ioDirection: number; ioSize: number; ioPort: number; ioCount: number; ioDataOffset: number;
  mmioPhysAddr: number; mmioData: number; mmioLen: number; mmioIsWrite: number;
  failReason: number; failCpu: number;
  internalSuberror: number; internalNdata: number; internalData: number;
  systemEventType: number; systemEventNdata: number; systemEventData: number;
  debugException: number; debugPc: number;
  hwExitReason: number;
  exit: Record<string, number>;
  ioOut: number;
  internalEmulation: number;
}

let cached: RunLayout | undefined;

export function runLayout(): RunLayout {
  if (cached) return cached;
  const exit: Record<string, number> = {};
  for (const name of ['IO', 'MMIO', 'HLT', 'SHUTDOWN', 'FAIL_ENTRY', 'INTERNAL_ERROR', 'SYSTEM_EVENT', 'DEBUG', 'INTR', 'UNKNOWN']) {
    exit[name] = kvmConstant(`KVM_EXIT_${name}`);
  }
  cached = {
    immediateExit: layout('run.immediateExit'),
    kvmDirtyRegs: layout('run.kvmDirtyRegs'),
    exitReason: layout('run.exitReason'),
    ioDirection: layout('run.io.direction'),
    ioSize: layout('run.io.size'),
    ioPort: layout('run.io.port'),
    ioCount: layout('run.io.count'),
    ioDataOffset: layout('run.io.dataOffset'),
    mmioPhysAddr: layout('run.mmio.physAddr'),
    mmioData: layout('run.mmio.data'),
    mmioLen: layout('run.mmio.len'),
    mmioIsWrite: layout('run.mmio.isWrite'),
    failReason: layout('run.failEntry.reason'),
    failCpu: layout('run.failEntry.cpu'),
    internalSuberror: layout('run.internal.suberror'),
    internalNdata: layout('run.internal.ndata'),
    internalData: layout('run.internal.data'),
    systemEventType: layout('run.systemEvent.type'),
    systemEventNdata: layout('run.systemEvent.ndata'),
    systemEventData: layout('run.systemEvent.data'),
    debugException: layout('run.debug.exception'),
    debugPc: layout('run.debug.pc'),
    hwExitReason: layout('run.hw.hardwareExitReason'),
    exit,
    ioOut: kvmConstant('KVM_EXIT_IO_OUT'),
    internalEmulation: kvmConstant('KVM_INTERNAL_ERROR_EMULATION'),
  };
  return cached;
}

const INTERNAL_ERROR_NAMES: Record<number, string> = {
  1: 'emulation failure',
  2: 'exception while delivering an exception',
  3: 'failed to deliver an event',
  4: 'unexpected exit reason',
};

function u64s(dv: DataView, at: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < Math.min(n, 16); i++) out.push(dv.getBigUint64(at + 8 * i, true));
  return out;
}

/** Decodes the exit KVM_RUN just reported (`exitReason` is its return value). */
export function decodeExit(page: ArrayBuffer, dv: DataView, exitReason: number): VcpuExit {
  const L = runLayout();
  const E = L.exit;
  switch (exitReason) {
    case E.IO: {
      const size = dv.getUint8(L.ioSize);
      const count = dv.getUint32(L.ioCount, true);
      const dataOffset = Number(dv.getBigUint64(L.ioDataOffset, true));
      const length = size * count;
      // KVM puts the data inside the page; a value pointing elsewhere would be a kernel bug.
      if (dataOffset + length > page.byteLength) throw new RangeError('KVM_EXIT_IO data lies outside the kvm_run page');
      return {
        reason: 'io',
        direction: dv.getUint8(L.ioDirection) === L.ioOut ? 'out' : 'in',
        port: dv.getUint16(L.ioPort, true),
        size,
        count,
        data: new Uint8Array(page, dataOffset, length),
      };
    }
    case E.MMIO: {
      const length = Math.min(dv.getUint32(L.mmioLen, true), 8);
      return {
        reason: 'mmio',
        address: dv.getBigUint64(L.mmioPhysAddr, true),
        isWrite: dv.getUint8(L.mmioIsWrite) !== 0,
        length,
        data: new Uint8Array(page, L.mmioData, length),
      };
    }
    case E.HLT:
      return { reason: 'hlt' };
    case E.SHUTDOWN:
      return { reason: 'shutdown' };
    case E.FAIL_ENTRY:
      return {
        reason: 'failEntry',
        hardwareEntryFailureReason: dv.getBigUint64(L.failReason, true),
        cpu: dv.getUint32(L.failCpu, true),
      };
    case E.INTERNAL_ERROR: {
      const suberror = dv.getUint32(L.internalSuberror, true);
      const ndata = dv.getUint32(L.internalNdata, true);
      const out: VcpuExit = {
        reason: 'internalError',
        suberror,
        suberrorName: INTERNAL_ERROR_NAMES[suberror] ?? `suberror ${suberror}`,
        data: u64s(dv, L.internalData, ndata),
      };
      // Emulation failures may carry the instruction bytes: data[0] = flags
      // (bit 0: bytes valid), then insn_size (u8) and up to 15 bytes.
      if (suberror === L.internalEmulation && ndata >= 1 && (dv.getBigUint64(L.internalData, true) & 1n) === 1n) {
        const size = Math.min(dv.getUint8(L.internalData + 8), 15);
        out.instructionBytes = new Uint8Array(page.slice(L.internalData + 9, L.internalData + 9 + size));
      }
      return out;
    }
    case E.SYSTEM_EVENT:
      return {
        reason: 'systemEvent',
        type: dv.getUint32(L.systemEventType, true),
        data: u64s(dv, L.systemEventData, dv.getUint32(L.systemEventNdata, true)),
      };
    case E.DEBUG:
      return { reason: 'debug', exception: dv.getUint32(L.debugException, true), pc: dv.getBigUint64(L.debugPc, true) };
    case E.INTR:
      return { reason: 'interrupted' };
    case E.UNKNOWN:
      return { reason: 'unknown', exitReason, hardwareExitReason: dv.getBigUint64(L.hwExitReason, true) };
    default:
      return { reason: 'unknown', exitReason };
  }
}
