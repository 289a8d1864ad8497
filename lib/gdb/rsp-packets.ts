// GDB's remote serial protocol on the wire (gdb/doc "Overview" of the
// Remote Protocol): packets `$data#cc` with a two-hex-digit modulo-256 sum,
// acknowledged by '+' (or '-': send again); 0x03 alone is an interrupt;
// binary data (X packets, replies) escapes '#', '$', '}' and '*' as '}'
// followed by the byte XOR 0x20.

/** The most a packet may hold (what qSupported announces as PacketSize). */
export const MAX_PACKET = 0x4000;

export type RspEvent =
  | { kind: 'packet'; data: Buffer }
  | { kind: 'bad-checksum' }
  | { kind: 'too-long' }
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' };

export function checksum(data: Buffer | string): number {
  const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  let sum = 0;
  for (const x of b) sum = (sum + x) & 0xff;
  return sum;
}

/** `$data#cc` for a reply (binary-safe: the data is escaped here). */
export function frame(data: Buffer | string): Buffer {
  const body = escapeBinary(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  return Buffer.concat([Buffer.from('$'), body, Buffer.from(`#${checksum(body).toString(16).padStart(2, '0')}`)]);
}

function needsEscape(x: number): boolean {
  return x === 0x23 || x === 0x24 || x === 0x7d || x === 0x2a;
}

export function escapeBinary(data: Buffer): Buffer {
  if (!data.some(needsEscape)) return data;
  const out: number[] = [];
  for (const x of data) {
    if (needsEscape(x)) out.push(0x7d, x ^ 0x20);
    else out.push(x);
  }
  return Buffer.from(out);
}

/** The bytes of an X packet's escaped payload, or null when it ends in a lone '}'. */
export function unescapeBinary(data: Buffer): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0x7d) out.push(data[i]);
    else if (++i < data.length) out.push(data[i] ^ 0x20);
    else return null;
  }
  return Buffer.from(out);
}

/**
 * Splits the byte stream from gdb into events. A packet's data is
 * unescaped by whoever knows it is binary (only X); anything between packets
 * other than '+', '-' and 0x03 is line noise and dropped, as gdbserver does.
 */
export class RspReader {
  private buf: number[] = [];
  private state: 'idle' | 'data' | 'sum1' | 'sum2' = 'idle';
  private sum = '';
  private overflow = false;

  feed(chunk: Buffer, emit: (e: RspEvent) => void): void {
    for (const x of chunk) {
      switch (this.state) {
        case 'idle':
          if (x === 0x24) {
            this.state = 'data';
            this.buf = [];
            this.overflow = false;
          } else if (x === 0x03) emit({ kind: 'interrupt' });
          else if (x === 0x2b) emit({ kind: 'ack' });
          else if (x === 0x2d) emit({ kind: 'nack' });
          break;
        case 'data':
          if (x === 0x23) this.state = 'sum1';
          else if (this.buf.length < MAX_PACKET) this.buf.push(x);
          else this.overflow = true;
          break;
        case 'sum1':
          this.sum = String.fromCharCode(x);
          this.state = 'sum2';
          break;
        case 'sum2': {
          this.sum += String.fromCharCode(x);
          this.state = 'idle';
          const data = Buffer.from(this.buf);
          this.buf = [];
          if (this.overflow) emit({ kind: 'too-long' });
          else if (!/^[0-9a-fA-F]{2}$/.test(this.sum) || parseInt(this.sum, 16) !== checksum(data)) emit({ kind: 'bad-checksum' });
          else emit({ kind: 'packet', data });
          break;
        }
      }
    }
  }
}

/** Lower-case hex of bytes (gdb's memory and register encoding). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of an even-length hex string, or null when it is not one. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A hex number of at most 16 digits (an address or length in a packet), or null. */
export function parseHexNumber(text: string): bigint | null {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) return null;
  return BigInt(`0x${text}`);
}
