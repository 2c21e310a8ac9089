import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseSeed } from './harness.js';
import { runProtocolFuzzer } from './protocol-fuzzer.js';

/** A bounded slice for `npm test`; `npm run chaos -- --probe fuzz --seconds 600` for a long run. */
const SECONDS = 10;
const CONNECTIONS = 16;

test('protocol fuzzer: mutated requests of every API never crash or hang the broker, nor disturb a good client', async () => {
  const seed = chooseSeed();
  const r = await runProtocolFuzzer({ seed, seconds: SECONDS, connections: CONNECTIONS });
  assert.ok(r.framesSent > 0);
  assert.ok(r.goodAcknowledged > 0, 'the good producer made progress');
  assert.deepEqual(r.problems, [], `replay: CHAOS_SEED=${seed}`);
  // Not asserted yet: a fuzzed Fetch long poll (maxWaitMs up to 2^31-1) keeps its timer, and with it the broker
  // process, alive after a clean stop. Enable once delayed operations no longer hold the process open:
  // assert.equal(r.stopHung, null, `replay: CHAOS_SEED=${seed}`);
});
