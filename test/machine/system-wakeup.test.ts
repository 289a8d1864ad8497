// QEMU's suspend/wake-up state (softmmu/runstate.c) as SystemWakeup keeps it:
// only a suspended machine wakes, only for an enabled reason, and a wake-up
// that comes before anyone waits is kept.
import type { WakeupReason } from '../../lib/devices/acpi-pm-regs';
import { SystemWakeup } from '../../lib/machines/system-wakeup';

describe('SystemWakeup', () => {
  const enabled = new Set<WakeupReason>(['other']);
  let w: SystemWakeup;
  beforeEach(() => {
    enabled.clear();
    enabled.add('other');
    w = new SystemWakeup((r) => enabled.has(r));
  });
  afterEach(() => w.close());

  test('a request wakes only a suspended machine, only for an enabled reason; an early wake-up is kept', async () => {
    w.request('other'); // running: ignored (qemu_system_wakeup_request checks RUN_STATE_SUSPENDED)
    w.suspend();
    w.request('rtc'); // RTC_EN clear: ignored
    enabled.add('rtc');
    w.request('rtc');
    w.request('other'); // awake already: ignored
    await expect(w.wait(undefined)).resolves.toBe('rtc');
  });

  test('a wait ends with the reason when the wake-up comes, with null on timeout or abort', async () => {
    w.suspend();
    const woken = w.wait(undefined);
    setTimeout(() => w.request('other'), 10);
    await expect(woken).resolves.toBe('other');
    w.suspend();
    await expect(w.wait(20)).resolves.toBeNull();
    const ac = new AbortController();
    const aborted = w.wait(undefined, ac.signal);
    ac.abort();
    await expect(aborted).resolves.toBeNull();
    w.request('other'); // still suspended: this one wakes it
    await expect(w.wait(undefined)).resolves.toBe('other');
  });

  test('close() ends a wait in progress', async () => {
    w.suspend();
    const p = w.wait(undefined);
    w.close();
    await expect(p).resolves.toBeNull();
  });
});
