import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, defaultBrokerSettings, startBroker } from '../../src/broker/broker.js';
import { partitionForGroup } from '../../src/coordinator/group/offsets-records.js';
import {
  TransactionState,
  transactionLogKey,
  transactionLogValue,
} from '../../src/coordinator/transaction/transaction-log-records.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { withTempDir } from '../storage/helpers.js';
import { consumeWithKcat, createTopics, PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);
const READ_COMMITTED = 1;
const READ_UNCOMMITTED = 0;

/** ListOffsets latest of partition 0 under an isolation level: the high watermark or the last stable offset. */
async function endOffset(topic: string, isolationLevel: number): Promise<bigint> {
  const c = await RawClient.connect(broker.port);
  try {
    const r = await c.request(apis.ListOffsets, 5, {
      replicaId: -1,
      isolationLevel,
      topics: [
        { name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] },
      ],
    });
    return r.topics[0]!.partitions[0]!.offset;
  } finally {
    c.close();
  }
}

let broker: Broker;
let kafka: Kafka;

before(async () => {
  broker = await startBroker({ transactions: { abortTimedOutIntervalMs: 100 } });
  kafka = new Kafka({
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
});

after(async () => {
  await broker.stop();
});

async function createTopic(topic: string, numPartitions = 1): Promise<void> {
  await createTopics(kafka, [{ topic, numPartitions }]);
}

function values(records: Array<{ value: string | null }>): Array<string | null> {
  return records.map((r) => r.value);
}

test('KafkaJS transactions: committed records are visible to read_committed, aborted ones never; read_uncommitted sees both', async () => {
  await createTopic('txn-kafkajs');
  const producer = kafka.producer({ transactionalId: 'tx-kafkajs', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const send = async (names: string[], commit: boolean) => {
    const txn = await producer.transaction();
    await txn.send({ topic: 'txn-kafkajs', messages: names.map((value) => ({ value, partition: 0 })) });
    if (commit) await txn.commit();
    else await txn.abort();
  };
  await send(['a1', 'a2', 'a3'], true);
  await send(['b1', 'b2'], false);
  await send(['c1'], true);
  await producer.disconnect();

  const committed = await consumeWithKcat(broker.bootstrap, 'txn-kafkajs', 0, 'read_committed');
  assert.deepEqual(values(committed), ['a1', 'a2', 'a3', 'c1']);
  const uncommitted = await consumeWithKcat(broker.bootstrap, 'txn-kafkajs', 0, 'read_uncommitted');
  assert.deepEqual(values(uncommitted), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);

  // KafkaJS's own consumer reads read_committed by default.
  const consumer = kafka.consumer({ groupId: 'txn-reader' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'txn-kafkajs', fromBeginning: true });
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
        if (seen.length === 4) resolve();
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual(seen, ['a1', 'a2', 'a3', 'c1']);
});

test('an open transaction holds read_committed back at its first offset until it ends', async () => {
  await createTopic('txn-lso');
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: 'txn-lso', messages: [{ value: 'before', partition: 0 }] });
  const producer = kafka.producer({ transactionalId: 'tx-lso', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'txn-lso', messages: [{ value: 'inside', partition: 0 }] });
  await plain.send({ topic: 'txn-lso', messages: [{ value: 'after', partition: 0 }] });
  assert.deepEqual(values(await consumeWithKcat(broker.bootstrap, 'txn-lso', 0, 'read_committed')), ['before']);
  assert.equal(await endOffset('txn-lso', READ_UNCOMMITTED), 3n);
  assert.equal(await endOffset('txn-lso', READ_COMMITTED), 1n, 'the last stable offset');
  await txn.commit();
  assert.deepEqual(values(await consumeWithKcat(broker.bootstrap, 'txn-lso', 0, 'read_committed')), [
    'before',
    'inside',
    'after',
  ]);
  await producer.disconnect();
  await plain.disconnect();
});

test('a second producer with the same transactional id fences the first, whose commit then fails', async () => {
  await createTopic('txn-fence');
  const first = kafka.producer({ transactionalId: 'tx-fence', idempotent: true, maxInFlightRequests: 1 });
  await first.connect();
  const txn = await first.transaction();
  await txn.send({ topic: 'txn-fence', messages: [{ value: 'zombie', partition: 0 }] });

  const second = kafka.producer({ transactionalId: 'tx-fence', idempotent: true, maxInFlightRequests: 1 });
  await second.connect();
  const txn2 = await second.transaction();
  await txn2.send({ topic: 'txn-fence', messages: [{ value: 'live', partition: 0 }] });
  await txn2.commit();

  await assert.rejects(txn.commit(), /epoch|fenced/i);
  assert.deepEqual(values(await consumeWithKcat(broker.bootstrap, 'txn-fence', 0, 'read_committed')), ['live']);
  await first.disconnect().catch(() => {});
  await second.disconnect();
});

test('a transaction left open past its timeout is aborted by the coordinator', async () => {
  await createTopic('txn-timeout');
  const producer = kafka.producer({
    transactionalId: 'tx-timeout',
    idempotent: true,
    maxInFlightRequests: 1,
    // Long enough that a stalled machine cannot abort it between its AddPartitionsToTxn and its produce (the send
    // would then be fenced); the test waits for the abort, not a set time.
    transactionTimeout: 5000,
  });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'txn-timeout', messages: [{ value: 'abandoned', partition: 0 }] });
  // The coordinator aborts it: the last stable offset moves past the record and its ABORT marker.
  while ((await endOffset('txn-timeout', READ_COMMITTED)) < 2n) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(values(await consumeWithKcat(broker.bootstrap, 'txn-timeout', 0, 'read_committed')), []);
  await assert.rejects(txn.commit());
  await producer.disconnect().catch(() => {});
});

test('DescribeTransactions, ListTransactions and DescribeProducers show an open transaction and its end', async () => {
  await createTopic('txn-admin');
  const producer = kafka.producer({ transactionalId: 'tx-admin', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'txn-admin', messages: [{ value: 'x', partition: 0 }] });
  const c = await RawClient.connect(broker.port);
  try {
    const described = await c.request(apis.DescribeTransactions, 0, { transactionalIds: ['tx-admin', 'nobody'] });
    const [open, missing] = described.transactionStates;
    assert.equal(open!.transactionState, 'Ongoing');
    assert.deepEqual(open!.topics, [{ topic: 'txn-admin', partitions: [0] }]);
    assert.equal(missing!.errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);

    const listed = await c.request(apis.ListTransactions, 1, {
      stateFilters: ['Ongoing', 'Bogus'],
      producerIdFilters: [],
      durationFilter: -1n,
    });
    assert.deepEqual(
      listed.transactionStates.map((t) => t.transactionalId),
      ['tx-admin'],
    );
    assert.deepEqual(listed.unknownStateFilters, ['Bogus']);

    const producers = await c.request(apis.DescribeProducers, 0, {
      topics: [{ name: 'txn-admin', partitionIndexes: [0] }],
    });
    const [state] = producers.topics[0]!.partitions[0]!.activeProducers;
    assert.equal(state!.producerId, open!.producerId);
    assert.equal(state!.currentTxnStartOffset, 0n);

    await txn.commit();
    const after = await c.request(apis.DescribeTransactions, 0, { transactionalIds: ['tx-admin'] });
    assert.equal(after.transactionStates[0]!.transactionState, 'CompleteCommit');
    const producersAfter = await c.request(apis.DescribeProducers, 0, {
      topics: [{ name: 'txn-admin', partitionIndexes: [0] }],
    });
    assert.equal(producersAfter.topics[0]!.partitions[0]!.activeProducers[0]!.currentTxnStartOffset, -1n);
  } finally {
    c.close();
    await producer.disconnect();
  }
});

test('transactional state survives a restart: ended transactions stay ended, an open one is aborted at its timeout', () =>
  withTempDir(async (dir) => {
    let b = await startBroker({ logDirs: [dir], transactions: { abortTimedOutIntervalMs: 100 } });
    let k = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    await createTopics(k, [{ topic: 'txn-restart', numPartitions: 1 }]);
    const done = k.producer({ transactionalId: 'tx-done', idempotent: true, maxInFlightRequests: 1 });
    await done.connect();
    const t1 = await done.transaction();
    await t1.send({ topic: 'txn-restart', messages: [{ value: 'kept', partition: 0 }] });
    await t1.commit();
    const open = k.producer({
      transactionalId: 'tx-open',
      idempotent: true,
      maxInFlightRequests: 1,
      // Longer than the stop, the restart and the first checks take on a loaded machine: the restarted broker must
      // find the transaction still Ongoing before it aborts it.
      transactionTimeout: 10_000,
    });
    await open.connect();
    const t2 = await open.transaction();
    await t2.send({ topic: 'txn-restart', messages: [{ value: 'dropped', partition: 0 }] });
    await b.stop();

    b = await startBroker({ logDirs: [dir], transactions: { abortTimedOutIntervalMs: 100 } });
    k = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const c = await RawClient.connect(b.port);
    try {
      const states = await c.request(apis.DescribeTransactions, 0, { transactionalIds: ['tx-done', 'tx-open'] });
      assert.deepEqual(
        states.transactionStates.map((s) => [s.errorCode, s.transactionState]),
        [
          [ErrorCode.NONE, 'CompleteCommit'],
          [ErrorCode.NONE, 'Ongoing'],
        ],
      );
      assert.deepEqual(values(await consumeWithKcat(b.bootstrap, 'txn-restart', 0, 'read_committed')), ['kept']);
      let state = '';
      while (state !== 'CompleteAbort') {
        await new Promise((r) => setTimeout(r, 100));
        const r = await c.request(apis.DescribeTransactions, 0, { transactionalIds: ['tx-open'] });
        state = r.transactionStates[0]!.transactionState;
      }
      assert.deepEqual(values(await consumeWithKcat(b.bootstrap, 'txn-restart', 0, 'read_committed')), ['kept']);
      assert.deepEqual(values(await consumeWithKcat(b.bootstrap, 'txn-restart', 0, 'read_uncommitted')), [
        'kept',
        'dropped',
      ]);
    } finally {
      c.close();
      await done.disconnect().catch(() => {});
      await open.disconnect().catch(() => {});
      await b.stop();
    }
  }));

test('confluent-kafka-python transactions: commit and abort as read_committed and read_uncommitted consumers see them', async () => {
  await createTopic('txn-confluent');
  const script = join(import.meta.dirname, 'python', 'transactional_producer.py');
  const { stdout } = await run(
    PYTHON,
    [script, broker.bootstrap, 'txn-confluent', 'tx-confluent', 'commit:a1,a2', 'abort:b1,b2,b3', 'commit:c1'],
    { timeout: 60_000 },
  );
  assert.equal(stdout.trim(), 'done');
  assert.deepEqual(values(await consumeWithKcat(broker.bootstrap, 'txn-confluent', 0, 'read_committed')), [
    'a1',
    'a2',
    'c1',
  ]);
  assert.deepEqual(values(await consumeWithKcat(broker.bootstrap, 'txn-confluent', 0, 'read_uncommitted')), [
    'a1',
    'a2',
    'b1',
    'b2',
    'b3',
    'c1',
  ]);
});

test('a transaction found prepared to commit at start-up (a crash between its records) is completed then', () =>
  withTempDir(async (dir) => {
    let b = await startBroker({ logDirs: [dir] });
    const k = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    await createTopics(k, [{ topic: 'txn-prepared', numPartitions: 1 }]);
    const producer = k.producer({ transactionalId: 'tx-prepared', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic: 'txn-prepared', messages: [{ value: 'decided', partition: 0 }] });
    const c = await RawClient.connect(b.port);
    const [open] = (await c.request(apis.DescribeTransactions, 0, { transactionalIds: ['tx-prepared'] }))
      .transactionStates;
    c.close();
    await producer.disconnect().catch(() => {});
    await b.stop();

    // What a broker stopping right after writing PrepareCommit leaves behind: append that record to the
    // transaction's partition of __transaction_state while the broker is down.
    const partition = partitionForGroup('tx-prepared', 50);
    const stateLog = await PartitionLog.open({
      dir: join(dir, `__transaction_state-${partition}`),
      topic: '__transaction_state',
      partition,
      config: defaultBrokerSettings().logDefaults,
      cleanShutdown: true,
    });
    const value = transactionLogValue({
      producerId: open!.producerId,
      producerEpoch: open!.producerEpoch,
      transactionTimeoutMs: open!.transactionTimeoutMs,
      transactionStatus: TransactionState.PrepareCommit,
      transactionPartitions: [{ topic: 'txn-prepared', partitionIds: [0] }],
      transactionLastUpdateTimestampMs: BigInt(Date.now()),
      transactionStartTimestampMs: open!.transactionStartTimeMs,
    });
    const batch = buildRecordBatch([{ key: transactionLogKey('tx-prepared'), value, timestamp: BigInt(Date.now()) }]);
    await stateLog.append(batch, { sync: true, recordCount: 1 });
    await stateLog.close();

    b = await startBroker({ logDirs: [dir] });
    try {
      assert.deepEqual(values(await consumeWithKcat(b.bootstrap, 'txn-prepared', 0, 'read_committed')), ['decided']);
      const r = await RawClient.connect(b.port);
      const [state] = (await r.request(apis.DescribeTransactions, 0, { transactionalIds: ['tx-prepared'] }))
        .transactionStates;
      r.close();
      assert.equal(state!.transactionState, 'CompleteCommit');
    } finally {
      await b.stop();
    }
  }));
