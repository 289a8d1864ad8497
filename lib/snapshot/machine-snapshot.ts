// Snapshots of a Machine: what is captured, how dirty pages are tracked, and
// how a restore puts everything back.
//
// RAM: the first snapshot turns on dirty logging for every RAM-backed region
// of the system address space. From then on the machine has a "base": the
// snapshot last taken or restored. Restoring the base copies back only the
// pages dirtied since (KVM's dirty log merged with the host's writes through
// the memory model); restoring any other snapshot, or a machine without
// tracking, copies all of RAM and makes that snapshot the base.
import type { Kvm } from '../kvm/system';
import type { Vcpu } from '../kvm/vcpu';
import { fitsSupport, type VcpuStateSupport } from '../kvm/vcpu-state-blobs';
import type { Vm } from '../kvm/vm';
import type { BoardSnapshotKey } from '../machines/board';
import type { AddressSpace } from '../memory/address-space';
import { PAGE_SIZE } from '../memory/ram-block';
import type { MemoryRegion } from '../memory/region';
import { transaction } from '../memory/transaction';
import { copyState, type SnapshotDevice } from './device-state';
import { layoutDifference, Snapshot, SnapshotError, type SnapshotLayout } from './snapshot';
import { probeSupport, type RestoreLevel } from './vcpu-state';

const PAGE = Number(PAGE_SIZE);

/** What the engine needs from the machine it serves. */
export interface SnapshotHost {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpus: readonly Vcpu[];
  readonly system: AddressSpace;
  readonly devices: ReadonlyMap<string, SnapshotDevice>;
  /** The board's part of the layout: its machine type and parameters (BoardSnapshotKey). */
  readonly shape: BoardSnapshotKey;
  readonly hasLapic: boolean;
  /** The MSRs snapshots keep (default SAVED_MSRS). */
  readonly msrs?: readonly number[];
  memoryMap(): string;
}

export interface SnapshotOptions {
  /** Track dirty pages so restore copies only those (default true). False: every restore copies all RAM. */
  dirtyTracking?: boolean;
}

export interface RestoreOptions {
  /**
   * 'full' (default): every piece of vCPU state. 'registers': general and
   * special registers and events only, which is enough when the guest does
   * not change FPU/SSE, MSR, debug or APIC state, and far cheaper (see README).
   */
  cpu?: RestoreLevel;
}

export interface RestoreStats {
  /** Pages copied back into guest RAM. */
  pages: number;
  /** True when all of RAM was copied (not the base snapshot, or no tracking). */
  fullCopy: boolean;
}

export class SnapshotEngine {
  private support: VcpuStateSupport | undefined;
  private regions: MemoryRegion[] | undefined;
  private tracking = false;
  private base: Snapshot | null = null;
  private cachedLayout: { key: unknown[]; layout: SnapshotLayout } | undefined;

  constructor(private readonly host: SnapshotHost) {}

  /** RAM-backed regions of the system address space, by name (RAM, ROM, ROM devices). */
  private ramRegions(): MemoryRegion[] {
    const seen = new Map<string, MemoryRegion>();
    for (const s of this.host.system.sections()) {
      if (s.mr.ramBlock) {
        const other = seen.get(s.mr.name);
        if (other !== undefined && other !== s.mr) {
          throw new SnapshotError('layout', `two RAM regions are both named "${s.mr.name}": snapshots key RAM by region name`);
        }
        seen.set(s.mr.name, s.mr);
      }
    }
    return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The machine's layout now (recomputed only when the flat view or the devices changed). */
  layout(): SnapshotLayout {
    const key = [this.host.system.currentView, this.host.devices.size];
    const c = this.cachedLayout;
    if (c && c.key.every((k, i) => k === key[i])) return c.layout;
    const regions = this.ramRegions();
    const layout: SnapshotLayout = {
      ...this.host.shape,
      ramBlocks: regions.map((r) => ({ name: r.name, size: r.ramBlock!.usedLength })),
      devices: [...this.host.devices.keys()].sort(),
      memoryMap: this.host.memoryMap(),
    };
    this.cachedLayout = { key, layout };
    return layout;
  }

  /** Views of the regions' RAM, made once per set of regions (a restore needs them every time). */
  private liveViews(regions: MemoryRegion[]): Uint8Array[] {
    const c = this.viewCache;
    if (c && c.regions === regions) return c.views;
    const views = regions.map((r) => r.ramBlock!.bytes(0n, r.ramBlock!.usedLength));
    this.viewCache = { regions, views };
    return views;
  }

  private viewCache: { regions: MemoryRegion[]; views: Uint8Array[] } | undefined;

  take(opts: SnapshotOptions = {}): Snapshot {
    const wantTracking = opts.dirtyTracking ?? true;
    if (typeof wantTracking !== 'boolean') throw new TypeError('dirtyTracking must be a boolean');
    const { vm, vcpus, kvm } = this.host;
    this.support ??= probeSupport(kvm, vm, vcpus[0]!, this.host.hasLapic, this.host.msrs);
    const regions = this.ramRegions();
    if (wantTracking && (!this.tracking || this.regions?.some((r, i) => r !== regions[i]) || this.regions?.length !== regions.length)) {
      transaction(() => { for (const r of regions) r.setDirtyLogging(true); });
      this.tracking = true;
    }
    this.regions = regions;
    const layout = this.layout();
    // From here on, "dirty" means "written since this snapshot".
    if (this.tracking) for (const r of regions) vm.getDirtyPageIndices(r);
    const devices = new Map([...this.host.devices].map(([name, d]) => [name, copyState(d.saveState())]));
    const snap = new Snapshot(
      layout,
      vcpus.map((v) => v.captureState(this.support!)),
      devices,
      new Map(regions.map((r) => [r.name, r.ramBlock!.bytes(0n, r.ramBlock!.usedLength).slice()])),
    );
    this.base = this.tracking ? snap : null;
    return snap;
  }

  restore(snap: Snapshot, opts: RestoreOptions = {}): RestoreStats {
    if (!(snap instanceof Snapshot)) throw new TypeError('restore() expects a Snapshot from machine.snapshot() or Snapshot.read()');
    const level = opts.cpu ?? 'full';
    if (level !== 'full' && level !== 'registers') throw new RangeError(`cpu must be 'full' or 'registers', got ${String(level)}`);
    const { vm, vcpus, kvm, devices } = this.host;
    // Check everything before changing anything. A memory map that differs
    // only because of device state (the PAM registers after a system reset)
    // is checked again once the devices have their state back.
    const here = this.layout();
    const diff = layoutDifference(snap.layout, here);
    const mapByDevices = diff !== null && layoutDifference(snap.layout, { ...here, memoryMap: snap.layout.memoryMap }) === null;
    if (diff !== null && !mapByDevices) throw new SnapshotError('layout', `this snapshot is for another machine layout: ${diff}`);
    if (snap.vcpus.length !== vcpus.length) throw new SnapshotError('layout', `the snapshot has ${snap.vcpus.length} vCPUs, this machine ${vcpus.length}`);
    for (const name of devices.keys()) {
      if (!snap.devices.has(name)) throw new SnapshotError('layout', `the snapshot has no state for device "${name}"`);
    }
    this.support ??= probeSupport(kvm, vm, vcpus[0]!, this.host.hasLapic, this.host.msrs);
    for (const v of snap.vcpus) {
      if (!fitsSupport(v, this.support)) {
        throw new SnapshotError('layout', 'the snapshot was taken on a host with other vCPU state (FPU format or MSR list)');
      }
    }
    const regions = this.regions ?? this.ramRegions();
    const views = this.liveViews(regions);

    // Devices first: a device that refuses its state (a hand-edited file, say)
    // is rolled back with the others before guest state is touched.
    const loaded: [SnapshotDevice, ReturnType<SnapshotDevice['saveState']>][] = [];
    const rollBack = () => transaction(() => {
      for (const [d, previous] of loaded.reverse()) {
        try { d.loadState(previous); } catch { /* report the original error */ }
      }
    });
    try {
      transaction(() => {
        for (const [name, d] of devices) {
          const previous = d.saveState();
          d.loadState(copyState(snap.devices.get(name)!));
          loaded.push([d, previous]);
        }
      });
    } catch (err) {
      // Put back the devices that took their state; the one that refused changed nothing.
      rollBack();
      throw err;
    }
    if (mapByDevices) {
      const still = layoutDifference(snap.layout, this.layout());
      if (still !== null) {
        rollBack();
        throw new SnapshotError('layout', `this snapshot is for another machine layout: ${still}`);
      }
    }

    let pages = 0;
    const fullCopy = !this.tracking || this.base !== snap;
    for (let k = 0; k < regions.length; k++) {
      const r = regions[k]!;
      const saved = snap.ram.get(r.name)!;
      const live = views[k]!;
      if (fullCopy) {
        if (this.tracking) vm.getDirtyPageIndices(r); // start clean from this copy
        live.set(saved);
        pages += Math.ceil(saved.length / PAGE);
      } else {
        for (const p of vm.getDirtyPageIndices(r)) {
          const at = p * PAGE;
          live.set(saved.subarray(at, at + PAGE), at);
          pages++;
        }
      }
    }
    snap.vcpus.forEach((state, i) => vcpus[i]!.restoreState(state, this.support!, level));
    if (this.tracking) this.base = snap;
    return { pages, fullCopy };
  }
}
