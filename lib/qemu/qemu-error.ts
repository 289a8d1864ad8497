// The errors of node-kvm-qemu's command line, worded as qemu-system-x86_64
// 7.2 words them: its error_report() prints "PROG: [LOCATION: ]TEXT", where
// LOCATION is the option being processed ("-m 12Q") when QEMU knows it, and
// an error_append_hint() text on the following lines (util/error-report.c).

/** A command-line error with QEMU's exact text. */
export class QemuOptionError extends Error {
  /** The option QEMU names before the text (`-m 12Q`), or null when QEMU names none. */
  readonly location: string | null;
  /** QEMU's own text, without the location. */
  readonly text: string;
  /** Lines QEMU prints after the error (error_append_hint / error_printf), each ending in '\n'; '' for none. */
  readonly hint: string;

  /** A second error QEMU reports right after this one (`-serial foo` gets two), or null. */
  readonly followUp: QemuOptionError | null;

  constructor(text: string, location: string | null = null, hint = '', followUp: QemuOptionError | null = null) {
    super(location === null ? text : `${location}: ${text}`);
    this.name = 'QemuOptionError';
    this.location = location;
    this.text = text;
    this.hint = hint;
    this.followUp = followUp;
  }

  /** Warnings QEMU printed before it met this error (set by the parser). */
  warningsBefore: QemuWarning[] = [];

  /** What QEMU writes to stderr for this error, program name first, after the warnings before it. */
  report(progName: string): string {
    const before = this.warningsBefore.map((w) => formatWarning(progName, w)).join('');
    return `${before}${progName}: ${this.message}\n${this.hint}${this.followUp?.report(progName) ?? ''}`;
  }
}

/** A message QEMU prints and carries on after: warn_report, or an error_report it recovers from. */
export interface QemuWarning {
  /** 'warning' adds QEMU's "warning: " (warn_report); 'error' has none ("invalid accelerator tcg", then a fallback). */
  severity?: 'warning' | 'error';
  location: string | null;
  text: string;
  /** Lines after the warning, each ending in '\n'. */
  hint: string;
}

/** What QEMU writes to stderr for a warning: "PROG: [LOCATION: ]warning: TEXT". */
export function formatWarning(progName: string, w: QemuWarning): string {
  const severity = w.severity === 'error' ? '' : 'warning: ';
  return `${progName}: ${w.location === null ? '' : `${w.location}: `}${severity}${w.text}\n${w.hint}`;
}
