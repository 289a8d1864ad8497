// The real gdb against machine.gdbServer() with a 64-bit ELF that has
// symbols (test/guests/gdb-long.S): breakpoints on functions (on this host
// `break` falls back from int3 to a debug register: int3-probe.ts), stepi,
// next, register and memory writes, watch and rwatch (memory hooks),
// Ctrl-C of a spinning guest, detach (the guest runs on), kill.
import type { RunResult } from '../../lib/kvm/run-loop';
import { runGdb, useLongModeGdb } from '../helpers/gdb';
import { describeKvm } from '../helpers/kvm';

describeKvm('gdb against a long-mode guest (machine.gdbServer)', () => {
  jest.setTimeout(120_000);
  const gdb = useLongModeGdb();
  const { elf, symbols } = gdb;
  const target = () => `target remote 127.0.0.1:${gdb.server.port}`;
  const sym = (name: string) => symbols.get(name)!;

  test('break and hbreak on functions, stepi, next, x/ and p, continue to the guest\'s exit', async () => {
    const r = await runGdb([
      target(), 'p/x $pc', 'break bump', 'hbreak main', 'continue', 'p/x $pc', 'stepi', 'p/x $pc', 'x/i $pc',
      'continue', 'p/x $pc', 'next', 'p/x $pc', 'p *(int*)&counter', 'info registers rip', 'delete', 'continue',
    ], { file: elf });
    const out = r.output;
    expect(out).toContain(`$1 = 0x${sym('_start').toString(16)}`);
    expect(out).toMatch(/Breakpoint 1 at 0x20002f/);
    expect(out).toMatch(/Hardware assisted breakpoint 2 at 0x20000d/);
    expect(out).toMatch(/Breakpoint 2, 0x0*20000d in main \(\)/);
    expect(out).toContain(`$3 = 0x${(sym('main') + 4n).toString(16)}`); // cmp $1, %r15 is 4 bytes
    expect(out).toMatch(/=> 0x200011 <main\+4>:\s+je/);
    expect(out).toMatch(/Breakpoint 1, 0x0*20002f in bump \(\)/);
    expect(out).toContain('$4 = 0x20002f');
    // next out of bump (no line info: gdb steps to the return address) lands back in main after the first call
    expect(out).toContain('$5 = 0x200018');
    expect(out).toContain('$6 = 1');
    expect(out).toMatch(/rip\s+0x200018\s+0x200018 <main\+11>/);
    expect(out).toContain('[Inferior 1 (Remote target) exited with code 07]');
    expect(r.status).toBe(0);
  });

  test('Ctrl-C interrupts a spinning guest; set var writes its memory; after detach it runs on', async () => {
    // gdb's own output is buffered on a pipe: the guest counting shows that it runs
    const spins = () => new DataView(gdb.machine.readGuest(sym('spins'), 8).buffer).getBigUint64(0, true);
    let poll: NodeJS.Timeout | undefined;
    const r = await runGdb([
      target(), 'set $r15 = 1', 'continue', 'p/x $pc', 'p *(long*)&spins > 0', 'set var *(long*)&spins = 0', 'p *(long*)&spins', 'detach',
    ], {
      file: elf,
      onOutput: (_text, gdb) => {
        poll ??= setInterval(() => {
          if (spins() > 1000n) {
            clearInterval(poll);
            gdb.kill('SIGINT');
          }
        }, 50);
      },
    });
    clearInterval(poll);
    expect(r.output).toContain('Program received signal SIGINT, Interrupt.');
    const pc = BigInt(/\$1 = (0x[0-9a-f]+)/.exec(r.output)![1]);
    expect(pc >= sym('spin') && pc < sym('spin') + 16n).toBe(true);
    expect(r.output).toContain('$2 = 1');
    expect(r.output).toContain('$3 = 0');
    expect(r.output).toContain('[Inferior 1 (Remote target) detached]');
    // detached: the guest spins on (counting from the 0 gdb wrote) until the machine is stopped
    const ran = new Promise<RunResult>((resolve) => gdb.server.once('run', resolve));
    await new Promise((res) => setTimeout(res, 300));
    gdb.machine.stop('test');
    expect((await ran).reason).toBe('stopped');
    expect(spins()).toBeGreaterThan(0n);
  });

  test('watch stops after the store with the old and new values, rwatch after the read, through memory hooks; deleted, the guest runs to its exit', async () => {
    const r = await runGdb([
      target(), 'watch *(int*)&counter', 'continue', 'p/x $pc', 'continue', 'delete',
      'rwatch *(int*)&counter', 'continue', 'p/x $pc', 'delete', 'continue',
    ], { file: elf });
    const out = r.output.replace(/\n\n/g, '\n');
    expect(out).toContain('Hardware watchpoint 1: *(int*)&counter\nOld value = 0\nNew value = 1\n0x000000000020003f in bump ()');
    expect(out).toContain('$1 = 0x20003f'); // after `mov %eax, counter`
    expect(out).toContain('Old value = 1\nNew value = 2');
    expect(out).toContain('Hardware read watchpoint 2: *(int*)&counter\nValue = 2\n0x0000000000200036 in bump ()'); // after `mov counter, %eax`
    expect(out).toContain('[Inferior 1 (Remote target) exited with code 07]');
  });

  test('kill: the server reports it, and a gdb can attach again', async () => {
    const killed = new Promise<void>((resolve) => gdb.server.once('kill', resolve));
    const r = await runGdb([target(), 'kill'], { file: elf });
    await killed;
    expect(r.output).toContain('[Inferior 1 (Remote target) killed]');
    const again = await runGdb([target(), 'p/x $pc'], { file: elf });
    expect(again.output).toContain(`$1 = 0x${sym('_start').toString(16)}`);
  });
});
