import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRODUCER_ID_BLOCK_SIZE } from '../../src/cluster/producer-ids.js';
import { ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { RawClient } from '../integration/raw-client.js';
import { withTempDir } from '../storage/helpers.js';

async function initProducerId(c: RawClient, transactionalId: string | null = null) {
  return c.request(apis.InitProducerId, 4, {
    transactionalId,
    transactionTimeoutMs: 60_000,
    producerId: -1n,
    producerEpoch: -1,
  });
}

function idempotentBatch(producerId: bigint, producerEpoch: number, baseSequence: number, values: string[]): Buffer {
  return buildRecordBatch(
    values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: BigInt(Date.now()) })),
    { producerId, producerEpoch, baseSequence },
  );
}

async function produce(c: RawClient, topic: string, records: Buffer) {
  const r = await c.request(apis.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return r.responses[0]!.partitionResponses[0]!;
}

test('InitProducerId: new ids at epoch 0, never reused across a restart', () =>
  withTempDir(async (dir) => {
    let broker = await startBroker({ logDirs: [dir] });
    let c = await RawClient.connect(broker.port);
    const a = await initProducerId(c);
    const b = await initProducerId(c);
    assert.equal(a.errorCode, ErrorCode.NONE);
    assert.equal(a.producerEpoch, 0);
    assert.notEqual(a.producerId, b.producerId);
    assert.equal((await initProducerId(c, '')).errorCode, ErrorCode.INVALID_REQUEST);
    c.close();
    await broker.stop();

    broker = await startBroker({ logDirs: [dir] });
    c = await RawClient.connect(broker.port);
    const after = await initProducerId(c);
    assert.ok(after.producerId > b.producerId, 'ids keep growing after a restart');
    assert.ok(after.producerId >= BigInt(PRODUCER_ID_BLOCK_SIZE), 'the unused rest of the old block is skipped');
    c.close();
    await broker.stop();
  }));

test('Produce answers a retry with its first offsets, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch with INVALID_PRODUCER_EPOCH', async () => {
  const broker = await startBroker();
  const c = await RawClient.connect(broker.port);
  try {
    await c.request(apis.CreateTopics, 5, {
      topics: [{ name: 'idem', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const { producerId } = await initProducerId(c);
    await produce(c, 'idem', buildRecordBatch([{ key: null, value: Buffer.from('plain'), timestamp: 1n }]));
    const first = idempotentBatch(producerId, 0, 0, ['a', 'b']);
    const r1 = await produce(c, 'idem', Buffer.from(first));
    assert.deepEqual([r1.errorCode, r1.baseOffset], [ErrorCode.NONE, 1n]);
    const r2 = await produce(c, 'idem', idempotentBatch(producerId, 0, 2, ['c']));
    assert.deepEqual([r2.errorCode, r2.baseOffset], [ErrorCode.NONE, 3n]);
    const retry = await produce(c, 'idem', Buffer.from(first));
    assert.deepEqual([retry.errorCode, retry.baseOffset], [ErrorCode.NONE, 1n], 'the retry is answered, not written');
    const gap = await produce(c, 'idem', idempotentBatch(producerId, 0, 5, ['x']));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const bumped = await produce(c, 'idem', idempotentBatch(producerId, 1, 0, ['d']));
    assert.deepEqual([bumped.errorCode, bumped.baseOffset], [ErrorCode.NONE, 4n]);
    const fenced = await produce(c, 'idem', idempotentBatch(producerId, 0, 3, ['y']));
    assert.equal(fenced.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    const twoBatches = Buffer.concat([
      idempotentBatch(producerId, 1, 1, ['e']),
      idempotentBatch(producerId, 1, 2, ['f']),
    ]);
    assert.equal((await produce(c, 'idem', twoBatches)).errorCode, ErrorCode.INVALID_RECORD);
    const list = await c.request(apis.ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: 'idem', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] },
      ],
    });
    assert.equal(list.topics[0]!.partitions[0]!.offset, 5n, 'only the five accepted records were written');
  } finally {
    c.close();
    await broker.stop();
  }
});
