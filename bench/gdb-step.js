'use strict';
// Single-step rate of the GDB stub: node-kvm-qemu against QEMU's own gdbstub
// on the same host, same command line (SeaBIOS under -S, stepped from the
// reset vector). A raw remote-protocol client sends `s` and waits for each
// stop reply, so the figure is the stub's round trip per instruction (gdb's
// own overhead is left out, as it is the same for both).
//   node bench/gdb-step.js           (build first: npm run build:ts; needs qemu-system-x86 and seabios)
// Prints steps/s for both and node-kvm's rate as a ratio of QEMU's.
const { spawn } = require('child_process');
const net = require('net');
const path = require('path');

const STEPS = Number(process.env.BENCH_STEPS || 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const QEMU = process.env.QEMU || 'qemu-system-x86_64';
const NODE_KVM_QEMU = [process.execPath, path.join(__dirname, '..', 'bin', 'node-kvm-qemu')];
const ARGS = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none', '-global', 'kvm-apic.vapic=false',
  '-display', 'none', '-serial', 'none', '-monitor', 'none', '-no-reboot', '-S'];

const sum = (s) => [...Buffer.from(s)].reduce((a, b) => (a + b) & 0xff, 0).toString(16).padStart(2, '0');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function connect(port) {
  for (let i = 0; i < 200; i++) {
    const s = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(null));
    });
    if (s) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Steps per second over STEPS single-steps. */
async function rate(cmd) {
  const port = await freePort();
  const child = spawn(cmd[0], [...cmd.slice(1), ...ARGS, '-gdb', `tcp:127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const sock = await connect(port);
    sock.setNoDelay(true);
    let buf = '';
    let waiting = null;
    sock.on('data', (b) => {
      buf += b.toString('latin1');
      const m = /\$([^#]*)#[0-9a-f]{2}/.exec(buf);
      if (m && waiting) {
        buf = buf.slice(m.index + m[0].length);
        const w = waiting;
        waiting = null;
        w(m[1]);
      }
    });
    const ask = (p) => new Promise((resolve) => { waiting = resolve; sock.write(`$${p}#${sum(p)}`); });
    await ask('qSupported:swbreak+;hwbreak+');
    await ask('?');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < STEPS; i++) {
      const r = await ask('s');
      if (!/^[TS]05/.test(r)) throw new Error(`step ${i}: ${r}`);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    sock.write(`$k#${sum('k')}`);
    sock.destroy();
    return STEPS / s;
  } finally {
    child.kill('SIGKILL');
  }
}

(async () => {
  let ours = 0;
  let qemu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    qemu = Math.max(qemu, await rate([QEMU]));
    ours = Math.max(ours, await rate(NODE_KVM_QEMU));
  }
  console.log(`single-steps from SeaBIOS's reset vector, ${STEPS} per round, best of ${ROUNDS}:`);
  console.log(`  QEMU ${QEMU} gdbstub: ${qemu.toFixed(0)} steps/s`);
  console.log(`  node-kvm-qemu:        ${ours.toFixed(0)} steps/s`);
  console.log(`  ratio (node-kvm / QEMU): ${(ours / qemu).toFixed(2)}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
