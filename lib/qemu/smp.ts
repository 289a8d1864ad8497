// -smp: QEMU 7.2's SMPConfiguration and the topology it derives from it
// (hw/core/machine-smp.c machine_parse_smp_config), with its arithmetic:
// the members are int64 in QAPI but held in C `unsigned`, so a negative
// count wraps, and the messages print some of them with %d.
import { QemuOptionError, type QemuWarning } from './qemu-error';
import { parseCInteger, type OptPair } from './qemu-opts';

/** The CPU topology QEMU derives from -smp (all counts ≥ 1 once valid). */
export interface QemuSmp {
  /** CPUs present at start (ms->smp.cpus). */
  cpus: number;
  sockets: number;
  dies: number;
  clusters: number;
  cores: number;
  threads: number;
  /** CPUs the machine can have, hot-plugged ones included (ms->smp.max_cpus). */
  maxCpus: number;
}

/** What the machine type allows (MachineClass: max_cpus, min_cpus, smp_props). */
export interface SmpLimits {
  machineName: string;
  minCpus: number;
  maxCpus: number;
  diesSupported: boolean;
  clustersSupported: boolean;
}

/** SMPConfiguration's members in QAPI order: the visitor reports the first bad one. */
const MEMBERS = ['cpus', 'sockets', 'dies', 'clusters', 'cores', 'threads', 'maxcpus'] as const;
type Member = typeof MEMBERS[number];

const u32 = (v: number) => v >>> 0;
const mul = (...v: number[]) => v.reduce((a, b) => u32(Math.imul(a, b)), 1);
const div = (a: number, b: number) => (b === 0 ? 0 : u32(Math.floor(a / b)));

/**
 * The topology for the machine's "smp" properties (`pairs`: from -smp and
 * -machine smp.KEY=, later ones winning). Throws QEMU's messages; pushes its
 * deprecation warning for an explicit 0.
 */
export function parseSmp(pairs: OptPair[], limits: SmpLimits, warnings: QemuWarning[]): QemuSmp {
  const given = new Map(pairs);
  const v: Partial<Record<Member, number>> = {};
  for (const m of MEMBERS) {
    const text = given.get(m);
    if (text === undefined) continue;
    const n = parseCInteger(text, true);
    if (n === undefined) throw new QemuOptionError(`Parameter 'smp.${m}' expects integer`);
    v[m] = Number(BigInt.asUintN(32, n));
  }
  for (const key of given.keys()) {
    if (!(MEMBERS as readonly string[]).includes(key)) throw new QemuOptionError(`Parameter 'smp.${key}' is unexpected`);
  }
  if (MEMBERS.some((m) => v[m] === 0)) {
    warnings.push({ location: null, text: 'Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero', hint: '' });
  }
  let cpus = v.cpus ?? 0;
  let sockets = v.sockets ?? 0;
  let cores = v.cores ?? 0;
  let threads = v.threads ?? 0;
  let maxCpus = v.maxcpus ?? 0;
  if (!limits.diesSupported && (v.dies ?? 0) > 1) throw new QemuOptionError("dies not supported by this machine's CPU topology");
  if (!limits.clustersSupported && (v.clusters ?? 0) > 1) throw new QemuOptionError("clusters not supported by this machine's CPU topology");
  const dies = v.dies || 1;
  const clusters = v.clusters || 1;
  if (cpus === 0 && maxCpus === 0) {
    sockets ||= 1;
    cores ||= 1;
    threads ||= 1;
  } else {
    maxCpus ||= cpus;
    // Since machine version 6.2 QEMU prefers cores over sockets.
    if (cores === 0) {
      sockets ||= 1;
      threads ||= 1;
      cores = div(maxCpus, mul(sockets, dies, clusters, threads));
    } else if (sockets === 0) {
      threads ||= 1;
      sockets = div(maxCpus, mul(dies, clusters, cores, threads));
    }
    if (threads === 0) threads = div(maxCpus, mul(sockets, dies, clusters, cores));
  }
  maxCpus ||= mul(sockets, dies, clusters, cores, threads);
  cpus ||= maxCpus;
  const smp: QemuSmp = { cpus, sockets, dies, clusters, cores, threads, maxCpus };
  const hierarchy = `sockets (${sockets})${limits.diesSupported ? ` * dies (${dies})` : ''}`
    + `${limits.clustersSupported ? ` * clusters (${clusters})` : ''} * cores (${cores}) * threads (${threads})`;
  if (mul(sockets, dies, clusters, cores, threads) !== maxCpus) {
    throw new QemuOptionError(`Invalid CPU topology: product of the hierarchy must match maxcpus: ${hierarchy} != maxcpus (${maxCpus})`);
  }
  if (maxCpus < cpus) {
    throw new QemuOptionError(`Invalid CPU topology: maxcpus must be equal to or greater than smp: ${hierarchy} == maxcpus (${maxCpus}) < smp_cpus (${cpus})`);
  }
  // QEMU prints these two with %d.
  if (cpus < limits.minCpus) throw new QemuOptionError(`Invalid SMP CPUs ${cpus | 0}. The min CPUs supported by machine '${limits.machineName}' is ${limits.minCpus}`);
  if (maxCpus > limits.maxCpus) throw new QemuOptionError(`Invalid SMP CPUs ${maxCpus | 0}. The max CPUs supported by machine '${limits.machineName}' is ${limits.maxCpus}`);
  return smp;
}
