// The floppy controller's command set as QEMU 7.2's fdc decodes it
// (hw/block/fdc.c, handlers[] and get_command): the first byte matched
// against each entry's (value & mask), in table order, and how many
// parameter bytes follow it. The handler names what the controller does once
// it has them (isa-fdc.ts); 'unimplemented' answers an invalid command.

export type FdcHandler =
  | 'transfer' | 'seek' | 'senseInterruptStatus' | 'recalibrate' | 'formatTrack' | 'restore' | 'save'
  | 'transferDeleted' | 'readId' | 'specify' | 'senseDriveStatus' | 'perpendicularMode' | 'configure'
  | 'powerdownMode' | 'option' | 'driveSpecification' | 'relativeSeekOut' | 'relativeSeekIn' | 'lock'
  | 'dumpreg' | 'version' | 'partId' | 'unimplemented';

export interface FdcCommand {
  readonly value: number;
  readonly mask: number;
  readonly name: string;
  readonly parameters: number;
  readonly handler: FdcHandler;
}

const c = (value: number, mask: number, name: string, parameters: number, handler: FdcHandler): FdcCommand => ({ value, mask, name, parameters, handler });

/** handlers[] in QEMU's order; the last entry matches any byte. */
export const FDC_COMMANDS: readonly FdcCommand[] = [
  c(0x06, 0x1f, 'READ', 8, 'transfer'),
  c(0x05, 0x3f, 'WRITE', 8, 'transfer'),
  c(0x0f, 0xff, 'SEEK', 2, 'seek'),
  c(0x08, 0xff, 'SENSE INTERRUPT STATUS', 0, 'senseInterruptStatus'),
  c(0x07, 0xff, 'RECALIBRATE', 1, 'recalibrate'),
  c(0x0d, 0xbf, 'FORMAT TRACK', 5, 'formatTrack'),
  c(0x02, 0xbf, 'READ TRACK', 8, 'transfer'),
  c(0x4e, 0xff, 'RESTORE', 17, 'restore'),
  c(0x2e, 0xff, 'SAVE', 0, 'save'),
  c(0x0c, 0x1f, 'READ DELETED DATA', 8, 'transferDeleted'),
  c(0x11, 0x1f, 'SCAN EQUAL', 8, 'transfer'),
  c(0x16, 0x1f, 'VERIFY', 8, 'transfer'),
  c(0x19, 0x1f, 'SCAN LOW OR EQUAL', 8, 'transfer'),
  c(0x1d, 0x1f, 'SCAN HIGH OR EQUAL', 8, 'transfer'),
  c(0x09, 0x3f, 'WRITE DELETED DATA', 8, 'transferDeleted'),
  c(0x0a, 0xbf, 'READ ID', 1, 'readId'),
  c(0x03, 0xff, 'SPECIFY', 2, 'specify'),
  c(0x04, 0xff, 'SENSE DRIVE STATUS', 1, 'senseDriveStatus'),
  c(0x12, 0xff, 'PERPENDICULAR MODE', 1, 'perpendicularMode'),
  c(0x13, 0xff, 'CONFIGURE', 3, 'configure'),
  c(0x17, 0xff, 'POWERDOWN MODE', 2, 'powerdownMode'),
  c(0x33, 0xff, 'OPTION', 1, 'option'),
  c(0x8e, 0xff, 'DRIVE SPECIFICATION COMMAND', 5, 'driveSpecification'),
  c(0x8f, 0xff, 'RELATIVE SEEK OUT', 2, 'relativeSeekOut'),
  c(0xcd, 0xff, 'FORMAT AND WRITE', 10, 'unimplemented'),
  c(0xcf, 0xff, 'RELATIVE SEEK IN', 2, 'relativeSeekIn'),
  c(0x14, 0x7f, 'LOCK', 0, 'lock'),
  c(0x0e, 0xff, 'DUMPREG', 0, 'dumpreg'),
  c(0x10, 0xff, 'VERSION', 0, 'version'),
  c(0x18, 0xff, 'PART ID', 0, 'partId'),
  c(0x01, 0x1f, 'WRITE (BeOS)', 8, 'transfer'), // not in the specification; BeOS 4.5 sends it
  c(0x00, 0x00, 'unknown', 0, 'unimplemented'),
];

/** get_command: the first entry whose masked value matches (QEMU builds a 256-entry lookup the same way). */
export function fdcCommand(byte: number): FdcCommand {
  for (const cmd of FDC_COMMANDS) if ((byte & cmd.mask) === cmd.value) return cmd;
  return FDC_COMMANDS[FDC_COMMANDS.length - 1];
}
