import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransactionState } from '../../../src/coordinator/transaction/transaction-log-records.js';
import {
  MAX_PRODUCER_EPOCH,
  type TransactionLogRecord,
  TransactionShard,
  transactionLogSerde,
} from '../../../src/coordinator/transaction/transaction-shard.js';
import { ErrorCode } from '../../../src/protocol/errors.js';

const NO_PRODUCER = { producerId: -1n, producerEpoch: -1 };

/** Applies an operation's records, as the runtime does once they are committed; returns the response. */
function apply<T>(shard: TransactionShard, result: { records: TransactionLogRecord[]; response: T }): T {
  for (const r of result.records) shard.replay(r);
  return result.response;
}

/** A shard loaded from the bytes of the records `shard` was built from. */
function reload(records: TransactionLogRecord[]): TransactionShard {
  const shard = new TransactionShard();
  for (const r of records) {
    const { key, value } = transactionLogSerde.serialize(r);
    const read = transactionLogSerde.deserialize(key, value);
    if (read) shard.replay(read);
  }
  return shard;
}

test('past the epoch limit a bump takes a new producer id, and a retry naming the old one gets the same answer', () => {
  const shard = new TransactionShard();
  const written: TransactionLogRecord[] = [];
  const run = <T>(result: { records: TransactionLogRecord[]; response: T }): T => {
    written.push(...result.records);
    return apply(shard, result);
  };
  run(shard.initProducerId('tx', 1000, NO_PRODUCER, 1, 7n));
  // Jump to the limit through a record, as a long-lived id would have got there.
  const atLimit: TransactionLogRecord = {
    transactionalId: 'tx',
    value: {
      producerId: 7n,
      producerEpoch: MAX_PRODUCER_EPOCH,
      transactionTimeoutMs: 1000,
      transactionStatus: TransactionState.Empty,
      transactionPartitions: [],
      transactionLastUpdateTimestampMs: 2n,
      transactionStartTimestampMs: -1n,
    },
  };
  run({ records: [atLimit], response: null });
  assert.equal(shard.needsNewProducerId('tx'), true);
  const bumped = run(shard.initProducerId('tx', 1000, { producerId: 7n, producerEpoch: MAX_PRODUCER_EPOCH }, 3, 8n));
  assert.deepEqual(bumped, { errorCode: ErrorCode.NONE, producerId: 8n, producerEpoch: 0, completeFirst: false });
  assert.equal(shard.get('tx')?.lastProducerId, 7n);
  // The answer was lost: the producer asks again with what it had; after a reload too.
  for (const s of [shard, reload(written)]) {
    const retry = s.initProducerId('tx', 1000, { producerId: 7n, producerEpoch: MAX_PRODUCER_EPOCH }, 4, null);
    assert.deepEqual(retry.records, []);
    assert.deepEqual(retry.response, {
      errorCode: ErrorCode.NONE,
      producerId: 8n,
      producerEpoch: 0,
      completeFirst: false,
    });
  }
});

test('InitProducerId on an open transaction prepares its abort under a new epoch; the old producer is fenced', () => {
  const shard = new TransactionShard();
  const { producerId } = apply(shard, shard.initProducerId('tx', 1000, NO_PRODUCER, 1, 5n));
  apply(shard, shard.addPartitions('tx', producerId, 0, [{ topic: 't', partition: 0 }], 2));
  const result = apply(shard, shard.initProducerId('tx', 1000, NO_PRODUCER, 3, null));
  assert.deepEqual(result, {
    errorCode: ErrorCode.CONCURRENT_TRANSACTIONS,
    producerId: -1n,
    producerEpoch: -1,
    completeFirst: true,
  });
  const md = shard.get('tx');
  assert.equal(md?.state, TransactionState.PrepareAbort);
  assert.equal(md?.producerEpoch, 1);
  assert.equal(apply(shard, shard.addPartitions('tx', producerId, 0, [], 4)), ErrorCode.PRODUCER_FENCED);
  assert.ok(md && shard.prepared('tx', producerId, 1));
  apply(shard, { records: [shard.complete(md, 5)], response: null });
  assert.equal(shard.get('tx')?.state, TransactionState.CompleteAbort);
  assert.equal(shard.get('tx')?.partitions.size, 0);
});
