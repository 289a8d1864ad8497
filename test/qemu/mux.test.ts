// The stdio multiplexer of -nographic / mon:stdio: bytes reach the focused
// front end; QEMU's Ctrl-A escapes (checked against qemu-system-x86_64 in a
// pty: Ctrl-A h prints this help, Ctrl-A x "QEMU: Terminated" and exit 0).
import { PassThrough } from 'stream';
import { CharMux, MUX_HELP, MUX_TERMINATED } from '../../lib/qemu/mux';

function rig(monitor = true) {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (b: Buffer) => { printed += b.toString('latin1'); });
  const events: string[] = [];
  const mux = new CharMux({ input, output, monitor, onExit: () => events.push('exit'), onFocus: (f) => events.push(`focus ${f}`) });
  const serial: number[] = [];
  const mon: number[] = [];
  mux.serialInput.on('data', (b: Buffer) => serial.push(...b));
  mux.monitorInput.on('data', (b: Buffer) => mon.push(...b));
  return { mux, input, events, serial, mon, printed: () => printed };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('CharMux (QEMU chardev/char-mux.c)', () => {
  test('typed bytes go to the serial port; Ctrl-A c switches to the monitor and back; Ctrl-A Ctrl-A sends one Ctrl-A', async () => {
    const r = rig();
    r.input.write(Buffer.from('ab\x01\x01c'));
    r.input.write(Buffer.from('\x01cinfo\n\x01'));
    r.input.write(Buffer.from('cz'));
    await tick();
    expect(Buffer.from(r.serial).toString('latin1')).toBe('ab\x01cz');
    expect(Buffer.from(r.mon).toString('latin1')).toBe('info\n');
    expect(r.events).toEqual(['focus monitor', 'focus serial']);
  });

  test('Ctrl-A h prints QEMU\'s help, Ctrl-A x prints "QEMU: Terminated" and exits; other escapes are swallowed', async () => {
    const r = rig();
    r.input.write(Buffer.from('\x01h\x01tq\x01x'));
    await tick();
    expect(r.printed()).toBe(MUX_HELP + MUX_TERMINATED);
    // the bytes QEMU 7.2 wrote in a pty (which turns "\n" into "\r\n"), with that translation undone
    expect(MUX_HELP).toBe('\n\rC-a h    print this help\n\rC-a x    exit emulator\n\rC-a s    save disk data back to file (if -snapshot)\n\r' +
      'C-a t    toggle console timestamps\n\rC-a b    send break (magic sysrq)\n\rC-a c    switch between console and monitor\n\rC-a C-a  sends C-a\n\r');
    expect(MUX_TERMINATED).toBe('QEMU: Terminated\n\r');
    expect(r.events).toEqual(['exit']);
    expect(Buffer.from(r.serial).toString('latin1')).toBe('q');
  });

  test('without a monitor Ctrl-A c does nothing', async () => {
    const r = rig(false);
    r.input.write(Buffer.from('\x01cx'));
    await tick();
    expect(Buffer.from(r.serial).toString('latin1')).toBe('x');
    expect(r.events).toEqual([]);
    r.mux.close();
  });
});
