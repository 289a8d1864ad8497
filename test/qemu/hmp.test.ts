// The HMP monitor's parser and stream handling over a fake target; the texts
// are QEMU 7.2.22's, as this host's QEMU printed them for the same lines
// (-monitor stdio; the formatters have their own tests against QEMU).
import { PassThrough } from 'stream';
import { HmpMonitor, type HmpTarget, type RunState } from '../../lib/qemu/hmp';

function fakeTarget() {
  const calls: string[] = [];
  let state: RunState = 'prelaunch';
  const target: HmpTarget = {
    mtree: (o) => { calls.push(`mtree ${o.flat} ${o.disabled}`); return 'MTREE\n'; },
    formatRamBlocks: () => 'RAMBLOCKS\n',
    infoPci: () => 'PCI\n',
    cpuCount: () => 2,
    infoRegisters: (i) => `REGS${i}\n`,
    runState: () => state,
    stop: () => { calls.push('stop'); if (state === 'running') state = 'paused'; },
    cont: async () => { calls.push('cont'); state = 'running'; },
    systemReset: () => { calls.push('reset'); throw new Error('no reset here'); },
    quit: () => { calls.push('quit'); },
  };
  return { target, calls };
}

async function session(lines: string, echo = false): Promise<{ out: string; calls: string[] }> {
  const { target, calls } = fakeTarget();
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new HmpMonitor(target, { input, output, echo }).run();
  input.end(lines);
  await done;
  return { out, calls };
}

const execute = (line: string) => new HmpMonitor(fakeTarget().target, { input: new PassThrough(), output: new PassThrough() }).execute(line);

test('banner, "(qemu) " prompts, "\\r\\n" line ends, echo; ends cleanly at the end of the input', async () => {
  const { out } = await session('info status\n', true);
  expect(out).toBe("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) info status\r\nVM status: paused (prelaunch)\r\n(qemu) ");
});

test('stop, cont, info status; quit stops reading the rest', async () => {
  const { out, calls } = await session('c\ninfo status\nstop\ninfo   status\nquit\ninfo pci\n');
  expect(calls).toEqual(['cont', 'stop', 'quit']);
  expect(out.split('\r\n').slice(1)).toEqual(['(qemu) (qemu) VM status: running', '(qemu) (qemu) VM status: paused', '(qemu) ']);
});

test('a command that fails prints its error and the monitor goes on', async () => {
  const { out, calls } = await session('system_reset\ninfo ramblock\n');
  expect(calls).toEqual(['reset']);
  expect(out).toContain('Error: no reset here\r\n(qemu) RAMBLOCKS\r\n');
});

test.each([
  ['info mtree', 'mtree false false'], ['info mtree -f', 'mtree true false'], ['info mtree -D', 'mtree false true'], ['info mtree -f -D', 'mtree true true'],
])('%s maps to mtree()', async (line, call) => {
  const { calls } = await session(`${line}\n`);
  expect(calls).toEqual([call]);
});

test.each([
  ['foo', "unknown command: 'foo'\n"],
  ['info foo', "unknown command: 'info foo'\n"],
  ['info mtree -x', 'mtree: unsupported option -x\nTry "help info mtree" for more information\n'],
  ['info mtree -D -f', 'mtree: extraneous characters at the end of line\nTry "help info mtree" for more information\n'],
  ['info mtree -fD', 'mtree: extraneous characters at the end of line\nTry "help info mtree" for more information\n'],
  ['info ramblock extra', 'ramblock: extraneous characters at the end of line\nTry "help info ramblock" for more information\n'],
  ['stop extra', 'stop|s: extraneous characters at the end of line\nTry "help stop" for more information\n'],
  ['info registers x', 'invalid char \'x\' in expression\nTry "help info registers" for more information\n'],
  ['info registers 5', 'CPU#5 not available\n'],
  ['info registers', '\nCPU#0\nREGS0\n'],
  ['info registers 1', '\nCPU#1\nREGS1\n'],
  ['info registers -a', '\nCPU#0\nREGS0\n\nCPU#1\nREGS1\n'],
  ['info pci', 'PCI\n'],
  ['   ', ''],
  ['help stop', 'stop|s  -- stop emulation\n'],
  ['help cont extra', 'cont|c  -- resume emulation\n'],
  ['help foo', "unknown command: 'foo'\n"],
  ['help info foo', "unknown command: 'info foo'\n"],
  ['help info registers', "info registers [-a|vcpu] -- show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to query; show the current CPU's registers if no argument is specified)\n"],
])('%j prints QEMU\'s answer', async (line, want) => {
  expect(await execute(line)).toBe(want);
});

test('help and info list the commands it has, in QEMU\'s format', async () => {
  expect(await execute('help')).toBe([
    'cont|c  -- resume emulation', 'help|? [cmd] -- show the help', 'info [subcommand] -- show various information about the system state',
    'quit|q  -- quit the emulator', 'stop|s  -- stop emulation', 'system_reset  -- reset the system', '',
  ].join('\n'));
  const info = (await execute('info')).split('\n');
  expect(info).toEqual((await execute('help info')).split('\n'));
  expect(info.map((l) => l.split(' -- ')[0])).toEqual(['info mtree [-f][-D]', 'info pci ', 'info ramblock ', 'info registers [-a|vcpu]', 'info status ', '']);
});

test('bad construction arguments are TypeErrors', () => {
  expect(() => new HmpMonitor(null as unknown as HmpTarget, { input: new PassThrough(), output: new PassThrough() })).toThrow(TypeError);
  expect(() => new HmpMonitor(fakeTarget().target, { input: {} as PassThrough, output: new PassThrough() })).toThrow(/Readable/);
});
