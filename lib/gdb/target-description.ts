// The target description gdb reads with qXfer:features:read:target.xml: an
// i386:x86-64 CPU with gdb's core, SSE and segments features (the feature
// and register names gdb's i386_validate_tdesc_p and amd64_init_abi look
// for, gdb/features/i386/64bit-*.xml), so gdb needs no `set architecture`.
// The order of the registers is their number in g/G/p/P packets.

export interface GdbRegister {
  name: string;
  bits: number;
  type: string;
  group?: string;
}

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const SEGMENTS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const X87_CONTROL = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];

const CORE: GdbRegister[] = [
  ...GPRS.map((name) => ({ name, bits: 64, type: name === 'rbp' || name === 'rsp' ? 'data_ptr' : 'int64' })),
  { name: 'rip', bits: 64, type: 'code_ptr' },
  { name: 'eflags', bits: 32, type: 'i386_eflags' },
  ...SEGMENTS.map((name) => ({ name, bits: 32, type: 'int32' })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bits: 80, type: 'i387_ext' })),
  ...X87_CONTROL.map((name) => ({ name, bits: 32, type: 'int', group: 'float' })),
];
const SSE: GdbRegister[] = [
  ...Array.from({ length: 16 }, (_, i) => ({ name: `xmm${i}`, bits: 128, type: 'vec128' })),
  { name: 'mxcsr', bits: 32, type: 'i386_mxcsr', group: 'vector' },
];
const SEGMENT_BASES: GdbRegister[] = [
  { name: 'fs_base', bits: 64, type: 'int' },
  { name: 'gs_base', bits: 64, type: 'int' },
];

/** Every register, in packet order. */
export const GDB_REGISTERS: readonly GdbRegister[] = [...CORE, ...SSE, ...SEGMENT_BASES];

/** Bytes of a `g` reply (and of a `G` packet's data). */
export const G_PACKET_BYTES = GDB_REGISTERS.reduce((n, r) => n + r.bits / 8, 0);

export const REGISTER_OFFSETS: readonly number[] = GDB_REGISTERS.reduce<number[]>((offs, r, i) => {
  offs.push(i === 0 ? 0 : offs[i - 1] + GDB_REGISTERS[i - 1].bits / 8);
  return offs;
}, []);

const EFLAGS_FIELDS = [
  [0, 'CF'], [1, ''], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'],
  [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID'],
] as const;
const MXCSR_FIELDS = ['IE', 'DE', 'ZE', 'OE', 'UE', 'PE', 'DAZ', 'IM', 'DM', 'ZM', 'OM', 'UM', 'PM', 'FZ'];

function registerXml(r: GdbRegister): string {
  return `  <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}"${r.group ? ` group="${r.group}"` : ''}/>`;
}

function feature(name: string, types: string[], regs: GdbRegister[]): string {
  return [`<feature name="${name}">`, ...types, ...regs.map(registerXml), '</feature>'].join('\n');
}

const EFLAGS_TYPE = [
  '  <flags id="i386_eflags" size="4">',
  ...EFLAGS_FIELDS.map(([bit, name]) => `    <field name="${name}" start="${bit}" end="${bit}"/>`),
  '  </flags>',
];
const VEC128_TYPE = [
  '  <vector id="v8bf16" type="bfloat16" count="8"/>', '  <vector id="v4f" type="ieee_single" count="4"/>',
  '  <vector id="v2d" type="ieee_double" count="2"/>', '  <vector id="v16i8" type="int8" count="16"/>',
  '  <vector id="v8i16" type="int16" count="8"/>', '  <vector id="v4i32" type="int32" count="4"/>',
  '  <vector id="v2i64" type="int64" count="2"/>',
  '  <union id="vec128">',
  ...[['v8_bfloat16', 'v8bf16'], ['v4_float', 'v4f'], ['v2_double', 'v2d'], ['v16_int8', 'v16i8'], ['v8_int16', 'v8i16'],
    ['v4_int32', 'v4i32'], ['v2_int64', 'v2i64'], ['uint128', 'uint128']].map(([n, t]) => `    <field name="${n}" type="${t}"/>`),
  '  </union>',
  '  <flags id="i386_mxcsr" size="4">',
  ...MXCSR_FIELDS.map((name, bit) => `    <field name="${name}" start="${bit}" end="${bit}"/>`),
  '  </flags>',
];

/** target.xml */
export const TARGET_XML = [
  '<?xml version="1.0"?>',
  '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
  '<target version="1.0">',
  '<architecture>i386:x86-64</architecture>',
  feature('org.gnu.gdb.i386.core', EFLAGS_TYPE, CORE),
  feature('org.gnu.gdb.i386.sse', VEC128_TYPE, SSE),
  feature('org.gnu.gdb.i386.segments', [], SEGMENT_BASES),
  '</target>',
  '',
].join('\n');
