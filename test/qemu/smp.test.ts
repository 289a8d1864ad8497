// node-kvm-qemu's -smp: N vCPUs on the pc machine, as QEMU 7.2's.
import * as fs from 'fs';
import * as path from 'path';
import { describeKvm } from '../helpers/kvm';
import { PC_FIXTURES } from '../helpers/pc';
import { runQemuExe, startQemuExe } from '../helpers/qemu-exe';

const PC = ['-accel', 'kvm', '-M', 'pc,hpet=off', '-m', '128', '-nodefaults', '-vga', 'none', '-display', 'none', '-serial', 'none'];

describeKvm('node-kvm-qemu -smp', () => {
  jest.setTimeout(60_000);

  test('-smp 2 -S: `info registers -a` shows both CPUs at the reset vector, as QEMU does', async () => {
    const exe = startQemuExe([...PC, '-smp', '2', '-S', '-monitor', 'stdio']);
    try {
      await exe.waitFor('(qemu) ');
      exe.child.stdin.write('info registers -a\n');
      exe.child.stdin.write('info registers 1\n'); // (a second prompt ends the first answer)
      await exe.waitFor('(qemu) info registers 1');
      const answer = exe.stdout().replace(/\r\n/g, '\n').split('(qemu) ')[1];
      const ours = answer.slice(answer.indexOf('\n') + 1).trim().split('\n');
      const qemu = fs.readFileSync(path.join(PC_FIXTURES, 'smp/info-registers-a-smp2-S.txt'), 'utf8').trimEnd().split('\n');
      // (EDX at reset: QEMU puts the CPUID signature there, node-kvm KVM's reset value, for every vCPU alike)
      const noEdx = (lines: string[]) => lines.map((l) => l.replace(/ EDX=[0-9a-f]{8}$/, ' EDX=?'));
      expect(noEdx(ours)).toEqual(noEdx(qemu));
    } finally {
      exe.child.kill('SIGKILL');
    }
  });

  test.each([
    ['300', "node-kvm-qemu: Invalid SMP CPUs 300. The max CPUs supported by machine 'pc-i440fx-7.2' is 255\n"],
    ['2,maxcpus=1', 'node-kvm-qemu: Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * dies (1) * cores (1) * threads (1) == maxcpus (1) < smp_cpus (2)\n'],
    ['x', "node-kvm-qemu: Parameter 'smp.cpus' expects integer\n"],
    ['4,sockets=2', 'node-kvm-qemu: -smp: a topology of more than one socket, die or thread per core is not supported by node-kvm\n'],
  ])('-smp %s: QEMU\'s error (or node-kvm\'s for what it lacks), status 1', async (arg, err) => {
    const r = await runQemuExe([...PC, '-smp', arg, '-S', '-monitor', 'none']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: err });
  });
});
