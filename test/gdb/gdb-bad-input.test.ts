// A GDB stub fed what a broken or hostile client sends, on a raw socket:
// malformed packets, wrong checksums, huge lengths, unmapped addresses, a
// second client, a client that disconnects mid-step. Every case gets an
// E.. reply or a refusal, and the guest and the stub go on working.
import * as net from 'net';
import type { RunResult } from '../../lib/kvm/run-loop';
import { checksum } from '../../lib/gdb/rsp-packets';
import { G_PACKET_BYTES } from '../../lib/gdb/target-description';
import { runGdb, useLongModeGdb } from '../helpers/gdb';
import { describeKvm } from '../helpers/kvm';

/** A raw RSP client: send packets, read replies (acks stripped). */
class RawClient {
  readonly socket: net.Socket;
  private data = '';
  private waiters: (() => void)[] = [];
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (b) => {
      this.data += b.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
  }
  send(raw: string): void {
    this.socket.write(raw);
  }
  packet(body: string): void {
    this.send(`$${body}#${checksum(body).toString(16).padStart(2, '0')}`);
  }
  /** The next reply packet's body (acks before it are dropped). */
  async reply(ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.data = this.data.replace(/^\++/, '');
      const m = /^\$([^#]*)#[0-9a-f]{2}/.exec(this.data);
      if (m) {
        this.data = this.data.slice(m[0].length);
        return m[1];
      }
      if (Date.now() > deadline) throw new Error(`no reply; have ${JSON.stringify(this.data)}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }
  /** Raw bytes received so far (acks included), consumed. */
  take(): string {
    const d = this.data;
    this.data = '';
    return d;
  }
  async ask(body: string): Promise<string> {
    this.packet(body);
    return this.reply();
  }
}

describeKvm('the GDB stub refuses bad input and keeps working', () => {
  jest.setTimeout(60_000);
  const gdb = useLongModeGdb();
  const { elf, symbols } = gdb;

  test('malformed packets, wrong checksums, huge lengths, unmapped addresses: E.., -, or the empty reply; registers and memory still work', async () => {
    const c = new RawClient(gdb.server.port);
    try {
      expect(await c.ask('g')).toHaveLength(2 * G_PACKET_BYTES);
      c.send('$g#00'); // wrong checksum: a nack, no reply
      await new Promise((r) => setTimeout(r, 200));
      expect(c.take()).toBe('-');
      expect(await c.ask('mzz,4')).toBe('E16');
      expect(await c.ask('m200000')).toBe('E16');
      expect(await c.ask('m200000,ffffffffffffffff')).toBe('E16');
      expect(await c.ask('m200000,100000000000000000')).toBe('E16'); // more than 16 hex digits
      expect(await c.ask('m0000800000000000,4')).toBe('E0e'); // not mapped by the page tables
      expect(await c.ask('m40000000,4')).toBe('E0e'); // mapped, but no RAM there
      expect(await c.ask('M200000,2:41')).toBe('E16'); // length and data disagree
      expect(await c.ask('X200000,1:}')).toBe('E16'); // a lone escape
      expect(await c.ask('G00')).toBe('E16');
      expect(await c.ask('p999')).toBe('E16');
      expect(await c.ask('P10=12')).toBe('E16'); // rip takes 8 bytes
      expect(await c.ask('Z1,zz,1')).toBe('E16');
      expect(await c.ask('Hg99')).toBe('E01');
      expect(await c.ask('vCont;x')).toBe('E16');
      expect(await c.ask('qXfer:features:read:other.xml:0,100')).toBe('E00');
      expect(await c.ask('Z2,0000800000000000,4')).toBe('E0e'); // a watchpoint on an unmapped address
      expect(await c.ask('Z2,300000,0')).toBe('E16');
      expect(await c.ask('Z3,300000,1000000')).toBe('E16'); // longer than a watchpoint may be
      expect(await c.ask('unknown-packet')).toBe('');
      c.send(`$${'m'.repeat(0x5000)}#00`);
      expect(await c.reply()).toBe('E16'); // longer than PacketSize
      // DR0-DR3 full: a fifth hardware breakpoint is refused
      for (let i = 0; i < 4; i++) expect(await c.ask(`Z1,${(0x200000 + i).toString(16)},1`)).toBe('OK');
      expect(await c.ask('Z1,200010,1')).toBe('E1c');
      for (let i = 0; i < 4; i++) expect(await c.ask(`z1,${(0x200000 + i).toString(16)},1`)).toBe('OK');
      // still working
      expect(await c.ask(`m${symbols.get('main')!.toString(16)},4`)).toBe('4983ff01');
      expect(await c.ask('M300000,4:05000000')).toBe('OK');
      expect(await c.ask('m300000,4')).toBe('05000000');
      expect(await c.ask('qfThreadInfo')).toBe('m1');
      expect(await c.ask('qsThreadInfo')).toBe('l');
      expect(await c.ask('qAttached')).toBe('1');
      expect(Buffer.from(await c.ask(`qRcmd,${Buffer.from('info status').toString('hex')}`), 'hex').toString()).toBe('VM status: paused (debug)\n');
    } finally {
      c.socket.destroy();
    }
  });

  test('a second client is refused while the first keeps its session', async () => {
    const first = new RawClient(gdb.server.port);
    try {
      expect(await first.ask('qAttached')).toBe('1');
      const second = net.connect(gdb.server.port, '127.0.0.1');
      await new Promise<void>((resolve) => second.on('close', () => resolve()));
      expect(await first.ask('qAttached')).toBe('1');
    } finally {
      first.socket.destroy();
    }
  });

  test('a client that disconnects mid-step or mid-continue: the guest runs on to its exit, and gdb can attach afterwards', async () => {
    const c = new RawClient(gdb.server.port);
    expect(await c.ask('?')).toMatch(/^T05/);
    const ran = new Promise<RunResult>((resolve) => gdb.server.once('run', resolve));
    c.packet('s');
    c.socket.destroy();
    const r = await ran;
    expect(r.reason).toBe('debugExit');
    expect(r.exitCode).toBe(7);
    const again = await runGdb([`target remote 127.0.0.1:${gdb.server.port}`, 'p/x $pc'], { file: elf });
    expect(again.output).toMatch(/\$1 = 0x[0-9a-f]+/);
  });
});
