// A Machine whose serial output is collected, for guest tests.
import { PassThrough } from 'stream';
import { Machine, type MachineOptions } from '../../lib/machine';

export interface TestMachine {
  machine: Machine;
  /** Everything the guest sent to COM1 so far. */
  output(): string;
}

export async function testMachine(opts: MachineOptions = {}): Promise<TestMachine> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const machine = await Machine.create({ memory: '4M', ...opts, serial: { output: out, ...(opts.serial || {}) } });
  return {
    machine,
    output: () => {
      machine.serial?.flush();
      return Buffer.concat(chunks).toString('latin1');
    },
  };
}
