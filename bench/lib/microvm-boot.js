'use strict';
// What a user's runner does with the library: boot a kernel on the microvm
// machine with COM1 on stdout, until the kernel exits through isa-debug-exit
// at 0xf4. Used by bench/direct-boot.js: node bench/lib/microvm-boot.js KERNEL
const t0 = performance.now();
const { Writable } = require('stream');
const { Machine } = require('../../dist');
const tLoaded = performance.now();
// COM1 goes to stdout; the time of its first line is noted on the way
let tFirstLine = null;
const output = new Writable({
  write(chunk, _enc, done) {
    if (tFirstLine === null && chunk.includes(10)) tFirstLine = performance.now();
    process.stdout.write(chunk, done);
  },
});
const machine = Machine.createSync({ machine: 'microvm', kernel: process.argv[2], debugExit: { port: 0xf4 }, serial: { output } });
const tCreated = performance.now();
machine.run({ timeoutMs: 10_000 }).then((r) => {
  machine.close();
  // the phases inside this process, after Node's own start-up (stderr: stdout is the guest's)
  process.stderr.write(`ms since Node started: ${t0.toFixed(1)}; phases require=${(tLoaded - t0).toFixed(1)} create=${(tCreated - tLoaded).toFixed(1)} first-line=${(tFirstLine - tCreated).toFixed(1)} (after create) run=${(performance.now() - tCreated).toFixed(1)} reason=${r.reason}\n`);
});
