'use strict';
// SeaBIOS on the pc machine, node-kvm against QEMU on the same host, in one
// process tree: the time from process start to "No bootable device." on the
// isa-debugcon, and the KVM_SET_USER_MEMORY_REGION calls made until then.
// Both run the same command line (node-kvm through bin/node-kvm-qemu), in
// rounds that alternate which one goes first (so neither always meets the
// host's warm or cold moment); the medians and the ratio of the medians are
// printed, then a timeline: every debugcon line is time-stamped as it
// arrives, and the phases between lines both VMMs print show where the two
// differ (start-up up to SeaBIOS's first line, then each stretch of POST).
//   node bench/pc-post.js            (build first: npm run build:ts; needs qemu-system-x86 and seabios)
//   BENCH_ROUNDS=8                   (default 6)
// Targets: time ratio <= 1.0; slot ioctls <= QEMU's.
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 6);
const MARKER = 'No bootable device.';
const MARKER_SEEN = `"${MARKER}" seen`;
const QEMU = process.env.QEMU || 'qemu-system-x86_64';
const NODE_KVM_QEMU = [path.join(__dirname, '..', 'bin', 'node-kvm-qemu')]; // executed as a user runs it: the launcher, from the startup snapshot
/** A phase shorter than this on both sides is folded into the next one. */
const PHASE_MIN_MS = 8;

/** QEMU's reference command line (test/fixtures/qemu-pc/m128/post/cmdline.txt), debugcon on stdout. */
function args(trace) {
  return ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none',
    '-global', 'kvm-apic.vapic=false', '-display', 'none', '-serial', 'none', '-monitor', 'none', '-no-reboot',
    '-chardev', 'stdio,id=d', '-device', 'isa-debugcon,iobase=0x402,chardev=d',
    '-trace', `enable=kvm_set_user_memory,file=${trace}`];
}

/**
 * Milliseconds from spawn to the marker on stdout, the slot ioctls traced
 * until then, and each debugcon line with the time its last byte arrived.
 */
function once(cmd, dir, name) {
  const trace = path.join(dir, `${name}.trace`);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd[0], [...cmd.slice(1), ...args(trace)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let ms = null;
    let cpuMs = null;
    let firstMs = null;
    let partial = '';
    const lines = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (b) => {
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      const text = b.toString('latin1');
      if (firstMs === null) firstMs = t;
      out += text;
      partial += text;
      for (let i; (i = partial.indexOf('\n')) >= 0; partial = partial.slice(i + 1)) lines.push({ t, text: partial.slice(0, i) });
      if (ms === null && out.includes(MARKER)) {
        ms = t;
        cpuMs = cpuTimeMs(child.pid);
        lines.push({ t, text: MARKER_SEEN }); // the last landmark (SeaBIOS prints the marker's line more than once)
        // what was traced up to now (QEMU writes its trace file as events happen)
        setTimeout(() => child.kill('SIGTERM'), 200);
      }
    });
    child.stderr.on('data', (b) => { err += b; });
    child.on('exit', () => {
      clearTimeout(timer);
      if (ms === null) return reject(new Error(`${name}: no "${MARKER}"; stderr: ${err.slice(-2000)}`));
      const traced = fs.existsSync(trace) ? fs.readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('kvm_set_user_memory')) : [];
      resolve({ ms, cpuMs, firstMs, slots: traced.length, lines: lines.filter((l) => l.t <= ms) });
    });
  });
}

/**
 * CPU time (user + system, all threads) the process has used so far, from
 * /proc/PID/stat: on a loaded host it varies far less than wall time, which
 * also counts the time other processes had the CPUs.
 */
function cpuTimeMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3, "state"
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}
const CLK_TCK = 100; // USER_HZ, the unit of /proc/PID/stat's utime and stime on Linux

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f0 = (ms) => ms.toFixed(0);
const short = (text) => (text.length > 36 ? `${text.slice(0, 34).trimEnd()}..` : text);

/** Lines every run of both VMMs printed once, in their (common) order: the timeline's landmarks. */
function landmarks(runs) {
  const counts = (r) => r.lines.reduce((m, l) => m.set(l.text, (m.get(l.text) ?? 0) + 1), new Map());
  const all = runs.map(counts);
  const common = runs[0].lines.map((l) => l.text).filter((t) => all.every((c) => c.get(t) === 1));
  // Keep the longest run of them that every VMM prints in the same order.
  const orderOk = (texts) => runs.every((r) => {
    let at = -1;
    return texts.every((t) => { const i = r.lines.findIndex((l) => l.text === t); const ok = i > at; at = i; return ok; });
  });
  const kept = [];
  for (const t of common) if (orderOk([...kept, t])) kept.push(t);
  return kept;
}

/** Median arrival of each landmark per VMM, folded into phases of at least PHASE_MIN_MS on one side. */
function timeline(results, marks) {
  const at = (key) => [0, ...marks.map((t) => median(results[key].map((r) => r.lines.find((l) => l.text === t).t)))];
  const q = at('qemu');
  const n = at('nodeKvm');
  const rows = [];
  let from = 0;
  let fromLabel = 'process start';
  for (let i = 1; i < q.length; i++) {
    const last = i === q.length - 1;
    if (!last && q[i] - q[from] < PHASE_MIN_MS && n[i] - n[from] < PHASE_MIN_MS) continue;
    rows.push({ label: `${short(fromLabel)} -> ${short(marks[i - 1])}`, qemu: q[i] - q[from], nodeKvm: n[i] - n[from] });
    from = i;
    fromLabel = marks[i - 1];
  }
  return rows;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-kvm-bench-pc-'));
  const load0 = os.loadavg()[0];
  try {
    const results = { qemu: [], nodeKvm: [] };
    const vmms = [['qemu', [QEMU]], ['nodeKvm', NODE_KVM_QEMU]];
    for (let r = 0; r < ROUNDS; r++) {
      for (const [key, cmd] of r % 2 ? [...vmms].reverse() : vmms) results[key].push(await once(cmd, dir, `${key}-${r}`));
    }
    const med = (key, pick) => median(results[key].map(pick));
    const q = med('qemu', (r) => r.ms);
    const n = med('nodeKvm', (r) => r.ms);
    const range = (key, pick) => `${f0(Math.min(...results[key].map(pick)))}-${f0(Math.max(...results[key].map(pick)))}`;
    const ratios = results.qemu.map((r, i) => (results.nodeKvm[i].ms / r.ms).toFixed(2));
    console.log(`pc -m 128, start to "${MARKER}", median of ${ROUNDS} alternating rounds (load ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}):`);
    console.log(`  node-kvm ${f0(n)} ms (${range('nodeKvm', (r) => r.ms)}), QEMU ${f0(q)} ms (${range('qemu', (r) => r.ms)}), ratio ${(n / q).toFixed(2)} (target <= 1.0); per round ${ratios.join(' ')}`);
    const nFirst = med('nodeKvm', (r) => r.firstMs);
    const qFirst = med('qemu', (r) => r.firstMs);
    const nPost = med('nodeKvm', (r) => r.ms - r.firstMs);
    const qPost = med('qemu', (r) => r.ms - r.firstMs);
    console.log(`  start-up to the first debugcon byte: node-kvm ${f0(nFirst)} ms, QEMU ${f0(qFirst)} ms; from there to the marker: node-kvm ${f0(nPost)} ms, QEMU ${f0(qPost)} ms, ratio ${(nPost / qPost).toFixed(2)}`);
    const nCpu = med('nodeKvm', (r) => r.cpuMs);
    const qCpu = med('qemu', (r) => r.cpuMs);
    console.log(`  CPU time (user + system) until the marker: node-kvm ${f0(nCpu)} ms, QEMU ${f0(qCpu)} ms, ratio ${(nCpu / qCpu).toFixed(2)}`);
    const slots = (key) => results[key].map((r) => r.slots);
    console.log(`KVM_SET_USER_MEMORY_REGION until then: node-kvm ${Math.max(...slots('nodeKvm'))}, QEMU ${Math.max(...slots('qemu'))} (target <= QEMU)`);
    console.log(`timeline (median ms of each phase; lines only one of them prints fall into the phase they are in):`);
    console.log(`${'phase'.padEnd(82)} ${'node-kvm'.padStart(8)} ${'QEMU'.padStart(8)} ${'diff'.padStart(7)}`);
    for (const row of timeline(results, landmarks([...results.qemu, ...results.nodeKvm]))) {
      console.log(`${row.label.padEnd(82)} ${row.nodeKvm.toFixed(1).padStart(8)} ${row.qemu.toFixed(1).padStart(8)} ${(row.nodeKvm - row.qemu).toFixed(1).padStart(7)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
