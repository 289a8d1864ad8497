// node-kvm-qemu's entry: parse a QEMU command line, print what QEMU prints
// for an information request or an error, and otherwise hand the command to
// `launch` (the part that builds and runs the machine), returning the exit
// status. QEMU's statuses: 0 after information, 1 for a bad command line.
import type { Writable } from 'stream';
import { parseQemuCommandLine } from './cmdline';
import { QemuOptionError, formatWarning } from './qemu-error';
import type { CpuModelListing } from './help';
import { formatDeviceHelp } from './device-options';
import type { QemuCommand, QemuInfoRequest } from './command';

export interface QemuMainOptions {
  /** The program name QEMU puts before its messages: the basename of argv[0]. */
  progName: string;
  stdout: Writable;
  stderr: Writable;
  /**
   * Builds and runs the machine; resolves to the process exit status. A
   * QemuOptionError it throws (a disk that cannot be opened: use the drive's
   * `location`) is printed as QEMU prints it, with status 1.
   */
  launch: (command: QemuCommand) => Promise<number>;
  /** The models `-cpu help` lists (default: help.ts CPU_MODELS). */
  cpuModels?: CpuModelListing[];
}

/** The text of an information request; its modules load only here, so a machine's start-up does not pay for them. */
async function infoText(request: QemuInfoRequest, options: QemuMainOptions): Promise<string> {
  const { accelHelpText, cpuHelpText, helpText, machineHelpText, versionText } = await import('./help');
  const { packageVersion } = await import('../package-version');
  switch (request.kind) {
    case 'help': return helpText(options.progName, packageVersion());
    case 'version': return versionText(packageVersion());
    case 'device-help': return formatDeviceHelp();
    case 'machine-help': return machineHelpText();
    case 'cpu-help': return cpuHelpText(options.cpuModels);
    case 'accel-help': return accelHelpText();
  }
}

/** Runs node-kvm-qemu with `argv` (without the program name); resolves to the exit status. */
export async function qemuMain(argv: string[], options: QemuMainOptions): Promise<number> {
  try {
    const parsed = parseQemuCommandLine(argv);
    if (parsed.kind !== 'run') {
      options.stdout.write(await infoText(parsed, options));
      return 0;
    }
    for (const w of parsed.warnings) options.stderr.write(formatWarning(options.progName, w));
    return await options.launch(parsed);
  } catch (err) {
    if (!(err instanceof QemuOptionError)) throw err;
    options.stderr.write(err.report(options.progName));
    return 1;
  }
}
