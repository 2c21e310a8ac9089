import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseSeed } from '../chaos/harness.js';
import { runLeaderKillLoop } from '../chaos/leader-kill-loop.js';
import { etcdUnavailable } from './etcd.js';

/** A bounded slice for `npm test`; `npm run chaos -- --probe leader --cycles 20` for the long run. */
const CYCLES = 2;

test('leader kill -9 loop, replication factor 3: every acknowledged record is stored once, in order, on every replica', {
  skip: etcdUnavailable,
}, async () => {
  const seed = chooseSeed();
  const result = await runLeaderKillLoop({ cycles: CYCLES, seed, partitions: 3 });
  const replay = `(replay: CHAOS_SEED=${seed})`;
  assert.ok(result.acknowledged > 0, `the producer made progress ${replay}`);
  assert.equal(result.failoverMs.length, CYCLES, `a write acknowledged after each kill ${replay}`);
  assert.deepEqual(result.lost, [], `acknowledged records lost ${replay}`);
  assert.deepEqual(result.duplicated, [], `records stored twice ${replay}`);
  assert.deepEqual(result.outOfOrder, [], `records out of order ${replay}`);
  assert.deepEqual(result.holes, [], `holes in the offsets ${replay}`);
  assert.deepEqual(result.divergentReplicas, [], `replicas that differ from their leader ${replay}`);
  assert.deepEqual(result.producerErrors, [], `the producer's errors ${replay}`);
});
