// -gdb DEV (and -s, which is -gdb tcp::1234): where the GDB stub listens.
// QEMU takes any chardev there (gdbstub/system.c gdbserver_start adds
// ",server=on,wait=off" to a tcp: one); node-kvm listens on TCP only.
import { QemuOptionError } from './qemu-error';

export interface GdbListen {
  /** '' (QEMU's tcp::PORT): every address */
  host: string;
  port: number;
}

/** The TCP address of `-gdb DEV`, or null for `-gdb none`. */
export function parseGdbDevice(dev: string): GdbListen | null {
  if (dev === 'none') return null;
  const m = /^tcp:([^:,]*):([0-9]+)((?:,[^,]*)*)$/.exec(dev);
  const port = m ? Number(m[2]) : NaN;
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new QemuOptionError(`gdbstub: node-kvm listens on tcp:[HOST]:PORT only (got '${dev}')`, '-gdb');
  }
  // server/nowait and their =on/off forms are what QEMU itself adds; anything else would change the meaning.
  const bad = m[3].split(',').slice(1).find((o) => !/^(server|nowait|server=on|wait=off|ipv4(=on)?|ipv6(=on)?)$/.test(o));
  if (bad !== undefined) throw new QemuOptionError(`gdbstub: the chardev option '${bad}' is not supported by node-kvm`, '-gdb');
  return { host: m[1], port };
}
