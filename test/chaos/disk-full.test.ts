import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diskFullUnavailable, runDiskFull } from './disk-full.js';

const unavailable = diskFullUnavailable();

test('disk full: the broker keeps serving, acknowledges only what it wrote, and loses nothing once moved to a larger disk', {
  skip: unavailable ?? false,
}, async () => {
  const r = await runDiskFull();
  assert.ok(r.acknowledged > 0, 'writes were acknowledged before the disk filled');
  assert.ok(r.refused > 0, 'writes were refused once the disk was full');
  assert.deepEqual(r.unservedWhileFull, [], 'served while the disk was full');
  assert.deepEqual(r.lost, [], 'acknowledged records after the move');
});
