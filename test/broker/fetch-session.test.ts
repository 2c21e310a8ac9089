import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type FetchPartitionOutcome,
  type FetchPartitionRequest,
  FetchSessionCache,
} from '../../src/broker/fetch-session.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const ZERO = 'AAAAAAAAAAAAAAAAAAAAAA';
function req(partition: number, fetchOffset = 0n): FetchPartitionRequest {
  return {
    topic: 't',
    topicId: ZERO,
    partition,
    fetchOffset,
    logStartOffset: -1n,
    maxBytes: 1 << 20,
    currentLeaderEpoch: -1,
    lastFetchedEpoch: -1,
  };
}
function out(highWatermark: bigint, recordsBytes = 0, errorCode: number = ErrorCode.NONE): FetchPartitionOutcome {
  return { errorCode, highWatermark, logStartOffset: 0n, recordsBytes };
}

test('a full fetch opens a session; incremental fetches send only partitions with news', () => {
  const cache = new FetchSessionCache();
  const full = cache.newContext(12, 0, 0, [req(0), req(1), req(2)], []);
  assert.equal(full.kind, 'full');
  const { sessionId, send } = cache.complete(full, [out(5n, 100), out(0n), out(0n)]);
  assert.notEqual(sessionId, 0);
  assert.deepEqual(send, [0, 1, 2], 'a full response holds every partition');

  // Epoch 1: the client sends only the changed fetch offset of partition 0.
  const inc = cache.newContext(12, sessionId, 1, [req(0, 5n)], []);
  assert.equal(inc.kind, 'incremental');
  assert.deepEqual(
    inc.partitions.map((p) => [p.partition, p.fetchOffset]),
    [
      [0, 5n],
      [1, 0n],
      [2, 0n],
    ],
    'the session fetches all its partitions',
  );
  // Only partition 2 got data; partition 0's high watermark is unchanged.
  const r = cache.complete(inc, [out(5n), out(0n), out(7n, 200)]);
  assert.deepEqual(r.send, [2]);

  // Partition 2 moved to the end after returning data.
  const inc2 = cache.newContext(12, sessionId, 2, [], [{ topic: 't', topicId: ZERO, partition: 1 }]);
  assert.equal(inc2.kind, 'incremental');
  assert.deepEqual(
    inc2.partitions.map((p) => p.partition),
    [0, 2],
  );
});

test('session errors: unknown id, wrong epoch, topic-id mismatch; FINAL_EPOCH closes', () => {
  const cache = new FetchSessionCache();
  assert.deepEqual(cache.newContext(12, 42, 1, [], []), {
    kind: 'error',
    errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
  });
  const { sessionId } = cache.complete(cache.newContext(12, 0, 0, [req(0)], []), [out(0n)]);
  assert.deepEqual(cache.newContext(12, sessionId, 5, [], []), {
    kind: 'error',
    errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH,
  });
  assert.deepEqual(cache.newContext(13, sessionId, 1, [], []), {
    kind: 'error',
    errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR,
  });
  assert.equal(cache.newContext(12, sessionId, -1, [req(0)], []).kind, 'sessionless');
  assert.equal(cache.size, 0);
});

test('an error is always sent, and the partition is sent again when it recovers', () => {
  const cache = new FetchSessionCache();
  const { sessionId } = cache.complete(cache.newContext(12, 0, 0, [req(0)], []), [out(3n)]);
  const a = cache.newContext(12, sessionId, 1, [], []);
  assert.deepEqual(cache.complete(a, [out(3n, 0, ErrorCode.NOT_LEADER_OR_FOLLOWER)]).send, [0]);
  const b = cache.newContext(12, sessionId, 2, [], []);
  assert.deepEqual(cache.complete(b, [out(3n)]).send, [0]);
  const c = cache.newContext(12, sessionId, 3, [], []);
  assert.deepEqual(cache.complete(c, [out(3n)]).send, []);
});

test('when the cache is full, only an idle session is evicted', () => {
  let now = 0;
  const cache = new FetchSessionCache(1, () => now);
  const first = cache.complete(cache.newContext(12, 0, 0, [req(0)], []), [out(0n)]).sessionId;
  assert.notEqual(first, 0);
  assert.equal(cache.complete(cache.newContext(12, 0, 0, [req(0)], []), [out(0n)]).sessionId, 0, 'no room');
  now += 200_000;
  assert.notEqual(cache.complete(cache.newContext(12, 0, 0, [req(0)], []), [out(0n)]).sessionId, 0);
});
