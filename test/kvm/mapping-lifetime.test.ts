// Guest memory views never outlive their mapping, whatever holds them: a
// pending fs.read or crypto.randomFill in the threadpool, a buffer moved away
// with ArrayBuffer.prototype.transfer(). close() releases the memory but keeps
// the address range reserved (fresh zero pages, no longer guest RAM) until the
// last holder is collected. The scenarios that crashed or corrupted another
// machine run in child processes (mapping-lifetime.child.ts).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { allocateHostMemory, Kvm } from '../../lib';
import { native } from '../../lib/binding';
import { describeKvm, mappingCount, openFdCount } from '../helpers/kvm';

const root = path.join(__dirname, '..', '..');

/** Runs a scenario in a fresh node; returns its exit status, signal and RESULT line. */
function runScenario(name: string): { status: number | null; signal: NodeJS.Signals | null; stderr: string; result: Record<string, unknown> | null } {
  const r = spawnSync(process.execPath, [
    '--expose-gc',
    // Node 20 has ArrayBuffer.prototype.transfer() only behind this V8 flag (on by default from Node 21).
    '--harmony-rab-gsab-transfer',
    'scripts/run-example.js', 'test/kvm/mapping-lifetime.child.ts', name,
  ], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return { status: r.status, signal: r.signal, stderr: r.stderr, result: line ? JSON.parse(line.slice('RESULT '.length)) : null };
}

/** The scenario exited normally (no SIGSEGV, no error) and its holders were all collected. */
function expectClean(run: ReturnType<typeof runScenario>): Record<string, unknown> {
  expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  expect(run.result).not.toBeNull();
  expect(run.result!.end).toEqual({ live: 0, retired: 0 });
  return run.result!;
}

/** The /proc/self/maps line that contains `address`, if any. */
function mapsLine(address: bigint): string | undefined {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').find((line) => {
    const [lo, hi] = line.split(' ')[0].split('-');
    return lo !== '' && address >= BigInt(`0x${lo}`) && address < BigInt(`0x${hi}`);
  });
}

describeKvm('guest memory views never outlive their mapping', () => {
  test('an fs.read into machine RAM pending at close() completes into retired memory, not the next machine', () => {
    const r = expectClean(runScenario('fs-read-machine'));
    expect(r).toMatchObject({ bytesRead: 4096, leaked: false, sameAddress: false });
  });

  test('the same through allocateHostMemory(): the range stays reserved while the read is pending', () => {
    const r = expectClean(runScenario('fs-read-host-memory'));
    expect(r).toMatchObject({ bytesRead: 4096, leaked: false, sameAddress: false, held: { live: 0, retired: 1 } });
  });

  test('crypto.randomFill over 256 MiB of guest RAM while the machine closes: no SIGSEGV', () => {
    const r = expectClean(runScenario('random-fill'));
    // RAM and the kvm_run page are retired; the fill really was still running.
    expect(r).toMatchObject({ closedWhileFilling: true, afterClose: { live: 0, retired: 2 } });
  });

  test('ArrayBuffer.prototype.transfer() of a RAM view: the moved buffer stays usable after close()', () => {
    const r = expectClean(runScenario('transfer'));
    expect(r).toMatchObject({ before: 0x42, zeroAfterClose: true, after: 0x5a * 2, length: 16 << 20 });
  });

  test('after its buffer was transferred away, bytes() is a fresh view of the same RAM', () => {
    const r = expectClean(runScenario('view-after-transfer'));
    // The moved buffer is not ours to detach: it keeps its length and sees zero pages after close().
    expect(r).toMatchObject({ shared: true, viewAfterClose: 0, movedAfterClose: 16 << 20 });
  });

  test("a transferred kvm_run page (vcpu.runPage) stays usable after the vCPU closes, without the vCPU's file", () => {
    const r = expectClean(runScenario('run-page-transfer'));
    expect(r).toMatchObject({ mappedBefore: true, closedBeforeClose: false, mappedAfterClose: false, after: 0x5a * 2 });
    expect(r.runError).toMatch(/^KvmError: .*kvm_run page was moved away .*transfer\(\).*: it cannot run; close it/);
  });

  test('structuredClone with a transfer list copies a RAM buffer in Node 20: the copy is independent', () => {
    const r = expectClean(runScenario('structured-clone'));
    expect(r).toMatchObject({ copiedByte: 0x42, originalAttached: true, length: 16 << 20, viewAfterClose: 0 });
  });

  test('once the last holder is collected the range is unmapped', () => {
    const r = expectClean(runScenario('unmapped-after-gc'));
    expect(r).toMatchObject({
      start: { live: 0, retired: 0 },
      closed: { live: 0, retired: 1 },
      held: { live: 0, retired: 1 },
      reservedWhileHeld: true,
      mappedAtEnd: false,
      ownerClosed: true,
    });
  });

  test('close() with a view still held: the memfd is closed, the range is zeroed anonymous memory', () => {
    const fds = openFdCount();
    const maps = mappingCount();
    const retired = native().retiredMappings();
    const memory = allocateHostMemory(1 << 20, { name: 'node-kvm-retire-test' });
    const view = memory.bytes();
    view.fill(7);
    expect(mapsLine(memory.hostAddress)).toContain('memfd:node-kvm-retire-test');
    memory.close();
    expect(view.byteLength).toBe(0);
    expect(openFdCount()).toBeLessThanOrEqual(fds);
    expect(mappingCount()).toBe(maps);
    expect(native().retiredMappings()).toBe(retired + 1); // `view` still reaches it
    expect(mapsLine(memory.hostAddress)).not.toContain('memfd:');
    expect(memory.closed).toBe(true);
    expect(() => memory.bytes()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  test('a retired range can never become a KVM slot', () => {
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    const memory = allocateHostMemory(1 << 20);
    memory.close();
    expect(() => vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memorySize: 1n << 20n, userspaceAddr: memory.hostAddress }))
      .toThrow(/not inside a live mapping/);
    vm.close();
    kvm.close();
  });
});
