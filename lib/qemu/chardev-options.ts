// Character backends: -chardev (chardev/char.c qemu_chr_new_from_opts) and
// the short forms of -serial and -monitor (qemu_chr_parse_compat), for the
// backends node-kvm has: stdio, file, null and the virtual console QEMU
// defaults to. Another backend name gets the message a QEMU built without
// it prints.
import { QemuOptionError } from './qemu-error';
import { parseQapiBool, type OptPair, type OptType } from './qemu-opts';
import type { QemuChardev, QemuChardevBackend, QemuSerialTarget } from './command';

/** qemu_chardev_opts' description, for the backends here (chardev/char.c). */
export const CHARDEV_DESC: Record<string, OptType> = {
  backend: 'string', path: 'string', mux: 'bool', signal: 'bool', append: 'bool', logfile: 'string', logappend: 'bool',
};

/** One -chardev, checked as qemu_chr_new_from_opts checks it. */
export function chardevOf(list: OptPair[], location: string): QemuChardev {
  const pairs = new Map(list);
  const id = pairs.get('id');
  if (id === undefined) throw new QemuOptionError('chardev: no id specified', location);
  const kind = pairs.get('backend') ?? '';
  const mux = parseQapiBool(pairs.get('mux') ?? 'off') ?? false;
  switch (kind) {
    case 'stdio': return { id, backend: { kind, mux } };
    case 'null': return { id, backend: { kind, mux } };
    case 'file': {
      const path = pairs.get('path');
      if (path === undefined) throw new QemuOptionError('chardev: file: no filename given', location);
      return { id, backend: { kind, path, mux } };
    }
    default: throw new QemuOptionError(`'${kind}' is not a valid char driver name`, location);
  }
}

/** A -serial/-monitor short form as a backend, or undefined when it is none node-kvm has. */
function compatBackend(text: string): QemuChardevBackend | undefined {
  if (text === 'stdio' || text === 'null') return { kind: text, mux: false };
  if (text === 'vc' || text.startsWith('vc:')) return { kind: 'vc', mux: false };
  if (text.startsWith('file:')) return { kind: 'file', path: text.slice(5), mux: false };
  return undefined;
}

/** The name qemu_chr_parse_compat reports for a short form it cannot build. */
function driverName(text: string): string {
  return text.split(':')[0];
}

/**
 * -serial DEV (softmmu/vl.c serial_parse): null for 'none'. Errors name the
 * option, and are followed by QEMU's second line about the serial device.
 */
export function serialOf(text: string, chardevs: QemuChardev[], location: string): QemuSerialTarget | null {
  if (text === 'none') return null;
  if (text === 'mon:stdio') return { kind: 'mon:stdio' };
  const followUp = new QemuOptionError(`could not connect serial device to character backend '${text}'`, location);
  if (text.startsWith('chardev:')) {
    const id = text.slice(8);
    if (!chardevs.some((c) => c.id === id)) throw followUp;
    return { kind: 'chardev', id };
  }
  const backend = compatBackend(text);
  if (backend?.kind === 'file' && backend.path === '') throw new QemuOptionError("Could not open '': No such file or directory", location, '', followUp);
  if (backend === undefined) throw new QemuOptionError(`'${driverName(text)}' is not a valid char driver`, location, '', followUp);
  return { kind: 'backend', backend };
}

/** The chardev short forms a monitor may name (qemu_chr_parse_compat); the monitor's owner opens them. */
const MONITOR_FORMS = /^(stdio|null|vc(:.*)?|pty|file:.+|unix:.+|tcp:.+|telnet:.+|chardev:.+|mon:.+)$/;

/** -monitor DEV / -qmp DEV: checked for QEMU's syntax; 'none' is no monitor. */
export function checkMonitor(text: string, location: string): void {
  if (text === 'none' || MONITOR_FORMS.test(text)) return;
  throw new QemuOptionError(`'${driverName(text)}' is not a valid char driver`, location, '', new QemuOptionError(`parse error: ${text}`, location));
}
