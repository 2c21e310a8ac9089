import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DelayedOperations } from '../../src/broker/delayed-operations.js';

test('completes at once when already satisfied, on notify when it becomes so, else at the timeout', async () => {
  const ops = new DelayedOperations();
  assert.equal(await ops.wait(['a'], 1000, () => true), true);

  let bytes = 0;
  const waiting = ops.wait(['a', 'b'], 10_000, () => bytes >= 10);
  ops.notify('a');
  assert.equal(ops.size, 1, 'still waiting: not enough yet');
  bytes = 12;
  ops.notify('c');
  assert.equal(ops.size, 1, 'a key it does not watch changes nothing');
  ops.notify('b');
  assert.equal(await waiting, true);
  assert.equal(ops.size, 0);

  const start = Date.now();
  assert.equal(await ops.wait(['a'], 30, () => false), false);
  assert.ok(Date.now() - start >= 25);
  assert.equal(ops.size, 0);
});

test('cancelAll releases every waiter', async () => {
  const ops = new DelayedOperations();
  const waits = [ops.wait(['x'], 60_000, () => false), ops.wait(['x', 'y'], 60_000, () => false)];
  ops.cancelAll();
  assert.deepEqual(await Promise.all(waits), [false, false]);
  assert.equal(ops.size, 0);
});

test('cancelAll ends a wait that watches no key, and a wait begun after it ends at once', async () => {
  const ops = new DelayedOperations();
  const waiting = ops.wait([], 600_000, () => false);
  assert.equal(ops.size, 1);
  ops.cancelAll();
  assert.equal(await waiting, false);
  assert.equal(ops.size, 0);
  assert.equal(await ops.wait(['x'], 600_000, () => false), false);
  assert.equal(ops.size, 0, 'no timer is left behind after the stop');
});
