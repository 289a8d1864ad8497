// -machine's properties for QEMU 7.2's pc-i440fx-7.2, applied as QEMU
// applies them: softmmu/vl.c gathers -machine, -m, -smp, -kernel, ... into
// one QDict, then sets each entry as a property of the machine object in
// the QDict's iteration order (qobject/qdict.c: hash buckets), so of two bad
// properties the one QEMU reports is the first in that order, not on the
// command line.
import { QemuOptionError, type QemuWarning } from './qemu-error';
import { hexSuffixWarning, isHexWithSuffix, parseCInteger, parseQapiBool, qemuStrtosz, type OptPair } from './qemu-opts';
import { parseSmp, type QemuSmp, type SmpLimits } from './smp';
import type { QemuMachine, QemuMemory } from './command';
import { hex } from '../util/hex';

export const PC_MACHINE = 'pc-i440fx-7.2';

export const MICROVM_MACHINE = 'microvm';

/** Machine types node-kvm has, as QEMU names them: pc (the alias and the versioned type) and microvm. */
export const MACHINE_TYPES: Record<string, QemuMachine['type']> = { pc: PC_MACHINE, [PC_MACHINE]: PC_MACHINE, [MICROVM_MACHINE]: MICROVM_MACHINE };

/** hw/i386/pc_piix.c: max_cpus 255; x86 topologies have dies, not clusters. */
export const PC_SMP_LIMITS: SmpLimits = { machineName: PC_MACHINE, minCpus: 1, maxCpus: 255, diesSupported: true, clustersSupported: false };
/** hw/i386/microvm.c: max_cpus 288. */
const MICROVM_SMP_LIMITS: SmpLimits = { ...PC_SMP_LIMITS, machineName: MICROVM_MACHINE, maxCpus: 288 };

/** hw/i386/pc.c: default_ram_size. */
const DEFAULT_RAM_SIZE = 128n << 20n;
const GiB = 1n << 30n;

type PropType = 'bool' | 'OnOffAuto' | 'str' | 'size' | 'uint64' | 'int' | 'object' | 'array';

/** pc-i440fx-7.2's properties (`-machine pc,help` of this host's QEMU), by QAPI type. */
const PC_PROPS: Record<string, PropType> = {
  acpi: 'OnOffAuto', append: 'str', boot: 'object', 'bus-lock-ratelimit': 'uint64', 'confidential-guest-support': 'str',
  'default-bus-bypass-iommu': 'bool', 'dt-compatible': 'str', dtb: 'str', 'dump-guest-core': 'bool', dumpdtb: 'str',
  firmware: 'str', graphics: 'bool', hpet: 'bool', i8042: 'bool', initrd: 'str', kernel: 'str', 'max-fw-size': 'size',
  'max-ram-below-4g': 'size', 'mem-merge': 'bool', 'memory-backend': 'str', 'memory-encryption': 'str', memory: 'object',
  'phandle-start': 'int', pic: 'OnOffAuto', pit: 'OnOffAuto', sata: 'bool', 'sgx-epc': 'array',
  'smbios-entry-point-type': 'str', smbus: 'bool', smm: 'OnOffAuto', smp: 'object', 'suppress-vmdesc': 'bool', usb: 'bool',
  vmport: 'OnOffAuto', 'x-oem-id': 'str', 'x-oem-table-id': 'str',
};

/** microvm's properties (`-machine microvm,help` of this host's QEMU), by QAPI type. */
const MICROVM_PROPS: Record<string, PropType> = {
  acpi: 'OnOffAuto', append: 'str', 'auto-kernel-cmdline': 'bool', boot: 'object', 'bus-lock-ratelimit': 'uint64',
  'confidential-guest-support': 'str', 'dt-compatible': 'str', dtb: 'str', 'dump-guest-core': 'bool', dumpdtb: 'str',
  firmware: 'str', graphics: 'bool', initrd: 'str', ioapic2: 'OnOffAuto', 'isa-serial': 'bool', kernel: 'str',
  'mem-merge': 'bool', 'memory-backend': 'str', 'memory-encryption': 'str', memory: 'object', pcie: 'OnOffAuto',
  'phandle-start': 'int', pic: 'OnOffAuto', pit: 'OnOffAuto', rtc: 'OnOffAuto', 'sgx-epc': 'array', smm: 'OnOffAuto',
  smp: 'object', 'suppress-vmdesc': 'bool', usb: 'bool', 'x-oem-id': 'str', 'x-oem-table-id': 'str', 'x-option-roms': 'bool',
};

/** qdict.c's tdb_hash, modulo its 512 buckets: the order QEMU iterates a QDict in. */
function qdictBucket(key: string): number {
  let value = Math.imul(0x238f13af, key.length) >>> 0;
  for (let i = 0; i < key.length; i++) value = (value + ((key.charCodeAt(i) << ((i * 5) % 24)) >>> 0)) >>> 0;
  return ((Math.imul(1103515243, value) + 12345) >>> 0) % 512;
}

/** Keys in QDict iteration order: by bucket; within one, the latest inserted first (QLIST_INSERT_HEAD). */
export function qdictOrder(keys: string[]): string[] {
  return keys.map((key, i) => ({ key, i, bucket: qdictBucket(key) }))
    .sort((a, b) => a.bucket - b.bucket || b.i - a.i)
    .map((e) => e.key);
}

/** The machine's QDict: flat properties, and the members of the struct ones (smp.cpus, memory.size). */
export class MachineDict {
  readonly flat = new Map<string, string>();
  readonly structs = new Map<string, Map<string, string>>();

  /** Sets KEY or STRUCT.MEMBER, a later value winning (keyval_merge). */
  set(key: string, value: string): void {
    const dot = key.indexOf('.');
    if (dot < 0) {
      this.flat.set(key, value);
      return;
    }
    const name = key.slice(0, dot);
    if (!this.structs.has(name)) this.structs.set(name, new Map());
    this.structs.get(name)!.set(key.slice(dot + 1), value);
  }

  has(key: string): boolean {
    return this.flat.has(key) || this.structs.has(key);
  }
}

/** Checks and applies the machine's properties in QEMU's order. */
export function applyMachineProps(dict: MachineDict, warnings: QemuWarning[], type: QemuMachine['type'] = PC_MACHINE): { machine: QemuMachine; memory: QemuMemory; smp: QemuSmp } {
  const [table, limits] = type === MICROVM_MACHINE ? [MICROVM_PROPS, MICROVM_SMP_LIMITS] : [PC_PROPS, PC_SMP_LIMITS];
  let memory: QemuMemory = { size: DEFAULT_RAM_SIZE, maxSize: null, slots: 0 };
  let smp = parseSmp([], limits, warnings);
  const props: OptPair[] = [];
  // set_memory_options always merges a "memory" object in, which a plain memory=VALUE contradicts (keyval_merge).
  if (dict.flat.has('memory')) throw new QemuOptionError("Parameter 'memory' used inconsistently");
  for (const key of qdictOrder([...new Set([...dict.flat.keys(), ...dict.structs.keys()])])) {
    const propType = table[key];
    if (propType === undefined) throw new QemuOptionError(`Property '${type}-machine.${key}' not found`);
    const isAggregate = propType === 'object' || propType === 'array';
    if (isAggregate && dict.flat.has(key)) throw new QemuOptionError(`Invalid parameter type for '${key}', expected: ${propType}`);
    if (!isAggregate && dict.structs.has(key)) throw new QemuOptionError(`Parameters '${key}.*' are unexpected`);
    if (key === 'smp') smp = parseSmp([...dict.structs.get('smp')!], limits, warnings);
    else if (key === 'memory') memory = memoryOf(dict.structs.get('memory')!, warnings);
    else if (isAggregate) props.push(...[...dict.structs.get(key)!].map(([m, v]): OptPair => [`${key}.${m}`, v]));
    else {
      checkValue(key, propType, dict.flat.get(key)!);
      props.push([key, dict.flat.get(key)!]);
    }
  }
  const maxRamBelow4g = dict.flat.has('max-ram-below-4g') ? sizeOf('max-ram-below-4g', dict.flat.get('max-ram-below-4g')!) : null;
  if (maxRamBelow4g !== null && maxRamBelow4g > 4n * GiB) {
    throw new QemuOptionError(`Machine option 'max-ram-below-4g=${maxRamBelow4g}' expects size less than or equal to 4G`);
  }
  const hpet = type === PC_MACHINE && (dict.flat.has('hpet') ? parseQapiBool(dict.flat.get('hpet')!)! : true); // microvm: no HPET here
  return { machine: { type, hpet, maxRamBelow4g, props }, memory, smp };
}

function sizeOf(name: string, value: string): bigint {
  const r = qemuStrtosz(value);
  if (typeof r !== 'object') throw new QemuOptionError(`Parameter '${name}' expects size`);
  return r.value;
}

/** A value through QEMU's keyval input visitor for its QAPI type. */
function checkValue(name: string, type: PropType, value: string): void {
  if (type === 'bool' && parseQapiBool(value) === undefined) throw new QemuOptionError(`Parameter '${name}' expects 'on' or 'off'`);
  if (type === 'OnOffAuto' && !['on', 'off', 'auto'].includes(value)) throw new QemuOptionError(`Parameter '${name}' does not accept value '${value}'`);
  if (type === 'size') sizeOf(name, value);
  if ((type === 'uint64' || type === 'int') && parseCInteger(value, type === 'int') === undefined) {
    throw new QemuOptionError(`Parameter '${name}' expects integer`);
  }
}

/** hw/core/machine.c machine_set_mem: the members from -m (size already in MiB when written bare). */
function memoryOf(members: Map<string, string>, warnings: QemuWarning[]): QemuMemory {
  for (const key of members.keys()) {
    if (!['size', 'max-size', 'slots'].includes(key)) throw new QemuOptionError(`Parameter 'memory.${key}' is unexpected`);
  }
  const sizeText = members.get('size');
  if (sizeText !== undefined && isHexWithSuffix(sizeText)) {
    warnings.push(hexSuffixWarning(sizeText, null));
  }
  const rawSize = sizeText === undefined ? DEFAULT_RAM_SIZE : sizeOf('memory.size', sizeText);
  const size = (rawSize + 8191n) & ~8191n;
  const maxText = members.get('max-size');
  const maxSize = maxText === undefined ? null : sizeOf('memory.max-size', maxText);
  const slotsText = members.get('slots');
  const slots = slotsText === undefined ? undefined : parseCInteger(slotsText, false);
  if (slotsText !== undefined && slots === undefined) throw new QemuOptionError("Parameter 'memory.slots' expects integer");
  if (maxSize !== null) {
    if (maxSize < size) {
      throw new QemuOptionError(`invalid value of maxmem: maximum memory size (${hex(maxSize)}) must be at least the initial memory size (${hex(size)})`);
    }
    if (slots !== undefined && slots > 0n && maxSize === size) {
      throw new QemuOptionError(`invalid value of maxmem: memory slots were specified but maximum memory size (${hex(maxSize)}) is equal to the initial memory size (${hex(size)})`);
    }
  } else if (slots !== undefined) {
    throw new QemuOptionError('slots specified but no max-size');
  }
  return { size, maxSize, slots: Number(slots ?? 0n) };
}
