// QEMU's multiplexed character device on stdio (chardev/char-mux.c) as
// `-nographic` and `-serial mon:stdio` set it up: one terminal shared by the
// guest's serial port and the monitor, with QEMU's Ctrl-A escapes. Bytes
// from the terminal go to whichever front end has the focus (the serial port
// first); Ctrl-A x quits, Ctrl-A c switches to the monitor and back, Ctrl-A h
// prints the help, Ctrl-A Ctrl-A sends one Ctrl-A.
import { PassThrough, type Readable, type Writable } from 'stream';

/** The escape character (QEMU's default, -echr 1). */
export const MUX_ESCAPE = 0x01;

/**
 * char-mux.c mux_print_help, for the escape Ctrl-A: QEMU ends its lines with
 * "\n\r" (the terminal keeps output processing, so "\n" becomes CR LF).
 */
export const MUX_HELP = '\n\r' + [
  'C-a h    print this help',
  'C-a x    exit emulator',
  'C-a s    save disk data back to file (if -snapshot)',
  'C-a t    toggle console timestamps',
  'C-a b    send break (magic sysrq)',
  'C-a c    switch between console and monitor',
  'C-a C-a  sends C-a',
].map((l) => `${l}\n\r`).join('');

/** What Ctrl-A x prints before QEMU exits with status 0. */
export const MUX_TERMINATED = 'QEMU: Terminated\n\r';

export type MuxFocus = 'serial' | 'monitor';

export interface MuxOptions {
  /** What the terminal types (process.stdin, in raw mode when it is a TTY). */
  input: Readable;
  /** Where help text goes (process.stdout). */
  output: Writable;
  /** Ctrl-A x: QEMU prints "QEMU: Terminated" and exits 0. */
  onExit(): void;
  /** The monitor front end exists (mon:stdio, -nographic): Ctrl-A c switches to it. */
  monitor: boolean;
  /** The focus changed (the monitor prints its prompt when it gets it). */
  onFocus?(focus: MuxFocus): void;
}

/** The two front ends' input streams, fed from the one terminal. */
export class CharMux {
  /** What the guest's serial port receives. */
  readonly serialInput = new PassThrough();
  /** What the monitor reads (lines). */
  readonly monitorInput = new PassThrough();
  private focus: MuxFocus = 'serial';
  private escaped = false;
  private readonly onData = (chunk: Buffer) => this.feed(chunk);

  constructor(private readonly opts: MuxOptions) {
    opts.input.on('data', this.onData);
  }

  /** Who gets typed bytes now. */
  get focused(): MuxFocus {
    return this.focus;
  }

  /** Gives the terminal to `focus` (the monitor's `c`, QEMU's mux_set_focus). */
  setFocus(focus: MuxFocus): void {
    if (focus === this.focus || (focus === 'monitor' && !this.opts.monitor)) return;
    this.focus = focus;
    this.opts.onFocus?.(focus);
  }

  /** mux_proc_byte for each byte. */
  feed(chunk: Uint8Array): void {
    let start = 0;
    const pass = (end: number) => {
      if (end > start) (this.focus === 'serial' ? this.serialInput : this.monitorInput).write(Buffer.from(chunk.subarray(start, end)));
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.escaped) {
        this.escaped = false;
        start = i + 1;
        if (b === MUX_ESCAPE) {
          (this.focus === 'serial' ? this.serialInput : this.monitorInput).write(Buffer.of(MUX_ESCAPE));
        } else if (b === 0x78 /* x */) {
          this.opts.output.write(MUX_TERMINATED);
          this.opts.onExit();
          return;
        } else if (b === 0x68 /* h */ || b === 0x3f /* ? */) {
          this.opts.output.write(MUX_HELP);
        } else if (b === 0x63 /* c */) {
          this.setFocus(this.focus === 'serial' ? 'monitor' : 'serial');
        }
        // s, t, b and anything else: swallowed (QEMU: s and b act, others are ignored)
      } else if (b === MUX_ESCAPE) {
        pass(i);
        this.escaped = true;
        start = i + 1;
      }
    }
    if (!this.escaped) pass(chunk.length);
  }

  /** Stops reading the terminal and ends both front ends' input. */
  close(): void {
    this.opts.input.off('data', this.onData);
    this.serialInput.end();
    this.monitorInput.end();
  }
}
