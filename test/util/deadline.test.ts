// remaining(): what a machine hands its run loop after a reboot inside run().
// A deadline that passed while the guest rebooted must still be a valid
// timeoutMs (the run then ends at once as 'timeout'), never 0, which the run
// loop's option check refuses as bad input.
import { checkRunOptions } from '../../lib/kvm/run-options';
import { deadlineAfter, remaining } from '../../lib/util/deadline';

test('a passed deadline leaves a positive time that the run options accept, already past', () => {
  const left = remaining(performance.now() - 1000)!;
  expect(left).toBeGreaterThan(0);
  const limits = checkRunOptions({ timeoutMs: left });
  expect(limits.deadline).toBeLessThanOrEqual(performance.now());
});

test('a deadline ahead, and none', () => {
  expect(remaining(performance.now() + 60_000)).toBeGreaterThan(59_000);
  expect(remaining(undefined)).toBeUndefined();
});

test('deadlineAfter: 0 is "no time", a negative, NaN or non-number timeout is a RangeError', () => {
  expect(deadlineAfter(undefined)).toBeUndefined();
  expect(deadlineAfter(0)).toBeLessThanOrEqual(performance.now());
  for (const bad of [-1, NaN, '5', null]) expect(() => deadlineAfter(bad)).toThrow(/timeoutMs must be a positive number/);
});
