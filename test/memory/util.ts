/** Small helpers shared by the memory tests (not a test file). */
import { AddressSpace, MemoryRegion, type MemoryRegionOps } from '../../lib/memory';

const live: AddressSpace[] = [];
const regions: MemoryRegion[] = [];

/** an AddressSpace that is destroyed by cleanup() */
export function space(root: MemoryRegion, name = 'test'): AddressSpace {
  const as = new AddressSpace(root, name);
  live.push(as);
  return as;
}

/** remember a region so cleanup() closes it (frees host memory) */
export function track<T extends MemoryRegion>(mr: T): T {
  regions.push(mr);
  return mr;
}

export function cleanup(): void {
  while (live.length) live.pop()!.destroy();
  while (regions.length) regions.pop()!.close();
}

/** formatFlatView() as an array of lines */
export function flat(as: AddressSpace): string[] {
  const t = as.formatFlatView();
  return t === '' ? [] : t.slice(0, -1).split('\n');
}

/** formatTree() as an array of lines */
export function tree(as: AddressSpace, disabled = true): string[] {
  return as.formatTree({ disabled }).slice(0, -1).split('\n');
}

export const h = (v: bigint | number): string => BigInt(v).toString(16).padStart(16, '0');

export interface Call { op: 'r' | 'w'; offset: bigint; size: number; value?: bigint }

/** ops that record every callback; reads return readValue(offset, size) */
export function recordingOps(extra: Partial<MemoryRegionOps> = {}, readValue: (o: bigint, s: number) => number | bigint = () => 0): { ops: MemoryRegionOps; calls: Call[] } {
  const calls: Call[] = [];
  const ops: MemoryRegionOps = {
    read(offset, size) {
      calls.push({ op: 'r', offset, size });
      return readValue(offset, size);
    },
    write(offset, value, size) {
      calls.push({ op: 'w', offset, size, value });
    },
    ...extra,
  };
  return { ops, calls };
}
