import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseSeed } from './harness.js';
import { runKillLoop } from './kill-loop.js';

/** Enough kills for a bounded slice of `npm test`; `npm run chaos -- --probe kill --cycles 100` for the long run. */
const CYCLES = 3;

test('kill -9 loop: every acknowledged record of an idempotent acks=all producer is stored once, in order', async () => {
  const seed = chooseSeed();
  const result = await runKillLoop({ cycles: CYCLES, seed });
  const replay = `(replay: CHAOS_SEED=${seed})`;
  assert.ok(result.acknowledged > 0, `the producer made progress ${replay}`);
  assert.deepEqual(result.lost, [], `acknowledged records lost ${replay}`);
  assert.deepEqual(result.duplicated, [], `records stored twice ${replay}`);
  assert.deepEqual(result.outOfOrder, [], `records out of order ${replay}`);
  assert.deepEqual(result.holes, [], `holes in the offsets ${replay}`);
  assert.deepEqual(result.producerErrors, [], `the producer's errors ${replay}`);
});
