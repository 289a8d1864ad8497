/**
 * Conformance cases captured from real QEMU 7.2 machines
 * (test/fixtures/qemu/*.json), built through the PUBLIC memory API.
 * Reused by the KVM listener tests.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AddressSpace, MemoryRegion, UNASSIGNED_IO_OPS, transaction } from '../../lib/memory';

export interface ConformanceRegion {
  id: number;
  name: string;
  size: string;
  kind: 'container' | 'io' | 'ram' | 'rom' | 'alias';
  target?: number;
  offset?: string;
  readonly?: boolean;
  priority?: number;
  enabled?: boolean;
  dirtyLogging?: boolean;
}

export interface ConformanceCase {
  name: string;
  qemu: string;
  regions: ConformanceRegion[];
  subregions: { parent: number; child: number; addr: string; priority: number }[];
  addressSpaces: { name: string; root: number }[];
  expected: {
    mtree: Record<string, string[]>;
    flat: Record<string, string[]>;
    slots: { gpa: string; size: string; flags: number }[];
    qemuSlots: { gpa: string; size: string; flags: number }[];
  };
}

export const CONFORMANCE_DIR = path.resolve(__dirname, '..', 'fixtures', 'qemu');

export function loadConformanceCases(): { file: string; json: ConformanceCase }[] {
  return fs.readdirSync(CONFORMANCE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(fs.readFileSync(path.join(CONFORMANCE_DIR, file), 'utf8')) as ConformanceCase }));
}

export interface BuiltCase {
  spaces: Map<string, AddressSpace>;
  regions: Map<number, MemoryRegion>;
  /** destroys the address spaces and closes every region (frees host memory) */
  close(): void;
}

/**
 * Build a case: regions (RAM/ROM get real host memory), aliases (targets
 * first), flags, then subregions in the recorded order, then the address
 * spaces.  The root of the `I/O` address space is QEMU's `io` region, whose
 * ops are unassigned_io_ops (all-ones reads); other `io` regions without ops
 * are reservations (unassigned_mem_ops).
 */
export function buildConformanceCase(json: ConformanceCase): BuiltCase {
  const byId = new Map(json.regions.map((r) => [r.id, r]));
  const ioRoots = new Set(json.addressSpaces.filter((a) => a.name === 'I/O').map((a) => a.root));
  const regions = new Map<number, MemoryRegion>();
  const spaces = new Map<string, AddressSpace>();

  const build = (id: number): MemoryRegion => {
    const have = regions.get(id);
    if (have) return have;
    const r = byId.get(id);
    if (!r) throw new Error(`${json.name}: unknown region id ${id}`);
    const size = BigInt(r.size);
    let mr: MemoryRegion;
    switch (r.kind) {
      case 'container': mr = MemoryRegion.container(r.name, size); break;
      case 'io': mr = MemoryRegion.io(r.name, size, ioRoots.has(id) ? UNASSIGNED_IO_OPS : undefined); break;
      case 'ram': mr = MemoryRegion.ram(r.name, size); break;
      case 'rom': mr = MemoryRegion.rom(r.name, size); break;
      case 'alias': mr = MemoryRegion.alias(r.name, build(r.target!), BigInt(r.offset!), size); break;
      default: throw new Error(`${json.name}: unknown kind ${(r as ConformanceRegion).kind}`);
    }
    if (r.readonly) mr.setReadonly(true);
    if (r.enabled === false) mr.setEnabled(false);
    if (r.dirtyLogging) mr.setDirtyLogging(true);
    regions.set(id, mr);
    return mr;
  };

  try {
    transaction(() => {
      for (const r of json.regions) build(r.id);
      for (const s of json.subregions) {
        regions.get(s.parent)!.addSubregionOverlap(BigInt(s.addr), regions.get(s.child)!, s.priority);
      }
      for (const a of json.addressSpaces) spaces.set(a.name, new AddressSpace(regions.get(a.root)!, a.name));
    });
  } catch (e) {
    for (const mr of regions.values()) mr.close();
    throw e;
  }

  return {
    spaces,
    regions,
    close(): void {
      for (const as of spaces.values()) as.destroy();
      for (const mr of regions.values()) mr.close();
    },
  };
}
