import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { type Run, samsa } from './cli.js';
import { createTopics } from './clients.js';
import { RawClient } from './raw-client.js';

const { Kafka, logLevel } = kafkajs;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  await createTopics(kafka, [
    { topic: 'txn-tool', numPartitions: 1 },
    { topic: 'txn-hang', numPartitions: 1 },
  ]);
});

after(async () => {
  await broker.stop();
});

function tool(...args: string[]): Promise<Run> {
  return samsa(['transactions', '--bootstrap-server', broker.bootstrap, ...args]);
}

/**
 * Kafka's TransactionsCommand.prettyPrintTable: every column as wide as its widest cell, each cell followed by a
 * tab. Returns the rows as arrays of cells, after checking that the text is laid out exactly so.
 */
function table(text: string, headers: string[]): string[][] {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the table ends with a newline');
  const rows = lines.map((l) => {
    assert.ok(l.endsWith('\t'), `every cell ends with a tab: ${JSON.stringify(l)}`);
    return l.slice(0, -1).split('\t');
  });
  const widths = headers.map((_, i) => Math.max(...rows.map((r) => r[i]!.trimEnd().length)));
  for (const r of rows)
    for (const [i, cell] of r.entries()) assert.equal(cell.length, widths[i], `column ${headers[i]} is padded`);
  assert.deepEqual(
    rows[0]!.map((c) => c.trimEnd()),
    headers,
  );
  return rows.slice(1).map((r) => r.map((c) => c.trimEnd()));
}

const LIST = ['TransactionalId', 'Coordinator', 'ProducerId', 'TransactionState'];
const DESCRIBE = [
  'CoordinatorId',
  'TransactionalId',
  'ProducerId',
  'ProducerEpoch',
  'TransactionState',
  'TransactionTimeoutMs',
  'CurrentTransactionStartTimeMs',
  'TransactionDurationMs',
  'TopicPartitions',
];
const PRODUCERS = [
  'ProducerId',
  'ProducerEpoch',
  'LatestCoordinatorEpoch',
  'LastSequence',
  'LastTimestamp',
  'CurrentTransactionStartOffset',
];
const HANGING = [
  'Topic',
  'Partition',
  'ProducerId',
  'ProducerEpoch',
  'CoordinatorEpoch',
  'StartOffset',
  'LastTimestamp',
  'Duration(min)',
];

test('samsa transactions list, describe and describe-producers show an open transaction in Kafka tables', async () => {
  const producer = kafka.producer({ transactionalId: 'txn-tool-1', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'txn-tool', messages: [{ value: 'x', partition: 0 }] });
  try {
    const listed = await tool('list');
    assert.equal(listed.code, 0, listed.stderr);
    const [row, ...others] = table(listed.stdout, LIST);
    assert.equal(others.length, 0);
    assert.equal(row![0], 'txn-tool-1');
    assert.equal(row![1], '0', 'the coordinator is broker 0');
    assert.equal(row![3], 'Ongoing');
    const producerId = row![2]!;

    const described = await tool('describe', '--transactional-id', 'txn-tool-1');
    assert.equal(described.code, 0, described.stderr);
    const [d] = table(described.stdout, DESCRIBE);
    assert.deepEqual(
      [d![0], d![1], d![2], d![3], d![4], d![8]],
      ['0', 'txn-tool-1', producerId, '0', 'Ongoing', 'txn-tool-0'],
    );
    assert.match(d![6]!, /^\d{13}$/, 'the start time');
    assert.ok(Number(d![7]) >= 0, 'the duration');

    const producers = await tool('describe-producers', '--topic', 'txn-tool', '--partition', '0');
    assert.equal(producers.code, 0, producers.stderr);
    const [p] = table(producers.stdout, PRODUCERS);
    assert.equal(p![0], producerId);
    assert.equal(p![3], '0', 'the last sequence');
    assert.equal(p![5], '0', 'the open transaction starts at offset 0');

    // The coordinator will end it: not hanging, however old.
    const hanging = await tool('find-hanging', '--topic', 'txn-tool', '--max-transaction-timeout', '0');
    assert.equal(hanging.code, 0, hanging.stderr);
    assert.deepEqual(table(hanging.stdout, HANGING), []);
  } finally {
    await txn.commit();
    await producer.disconnect();
  }
  const ended = await tool('describe-producers', '--topic', 'txn-tool', '--partition', '0');
  assert.equal(table(ended.stdout, PRODUCERS)[0]![5], 'None');

  const missing = await tool('describe', '--transactional-id', 'nobody');
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    'Failed to describe transaction state of transactional-id `nobody`: The transactionalId could not be found. Enable debug logging for additional detail.\n',
  );
  const bad = await tool('bogus');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid choice: 'bogus'/);
  const noScope = await tool('find-hanging');
  assert.equal(noScope.code, 1);
  assert.equal(
    noScope.stderr,
    'The `find-hanging` command requires either --topic or --broker-id to limit the scope of the search\n',
  );
});

test('samsa transactions abort by producer id fences the coordinator; its transaction then hangs, find-hanging finds it and abort --start-offset ends it', async () => {
  // Samsa verifies every transactional write with the coordinator (KIP-890), so a transaction hangs only when
  // the coordinator's marker is refused. An operator's ABORT marker with a newer coordinator epoch does that:
  // the producer's next write in the same transaction opens the partition again, and the coordinator's COMMIT
  // marker, from an older epoch, is refused there.
  const producer = kafka.producer({ transactionalId: 'txn-hang-1', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  let producerId: string;
  try {
    await txn.send({ topic: 'txn-hang', messages: [{ value: 'first', partition: 0 }] });
    const [open] = table(
      (await tool('describe-producers', '--topic', 'txn-hang', '--partition', '0')).stdout,
      PRODUCERS,
    );
    producerId = open![0]!;
    const fenced = await tool(
      'abort',
      '--topic',
      'txn-hang',
      '--partition',
      '0',
      '--producer-id',
      producerId,
      '--producer-epoch',
      open![1]!,
      '--coordinator-epoch',
      '1000',
    );
    assert.equal(fenced.code, 0, fenced.stderr);
    assert.equal(fenced.stdout, '', 'Kafka prints nothing on success');
    const [ended] = table(
      (await tool('describe-producers', '--topic', 'txn-hang', '--partition', '0')).stdout,
      PRODUCERS,
    );
    assert.deepEqual([ended![2], ended![5]], ['1000', 'None']);
    await txn.send({ topic: 'txn-hang', messages: [{ value: 'second', partition: 0 }] });
  } finally {
    await txn.commit();
    await producer.disconnect();
  }

  const found = await tool('find-hanging', '--topic', 'txn-hang', '--max-transaction-timeout', '0');
  assert.equal(found.code, 0, found.stderr);
  const [row, ...others] = table(found.stdout, HANGING);
  assert.equal(others.length, 0);
  assert.deepEqual(
    [row![0], row![1], row![2], row![4], row![5], row![7]],
    ['txn-hang', '0', producerId, '1000', '2', '0'],
  );
  const byBroker = await tool('find-hanging', '--broker-id', '0', '--max-transaction-timeout', '0');
  assert.equal(byBroker.code, 0, byBroker.stderr);
  assert.deepEqual(
    table(byBroker.stdout, HANGING).map((r) => r[0]),
    ['txn-hang'],
  );
  const young = await tool('find-hanging', '--topic', 'txn-hang');
  assert.deepEqual(table(young.stdout, HANGING), [], 'younger than the 15 minute default: not yet hanging');

  const aborted = await tool('abort', '--topic', 'txn-hang', '--partition', '0', '--start-offset', '2');
  assert.equal(aborted.code, 0, aborted.stderr);
  assert.equal(aborted.stdout, '');
  const after = await tool('describe-producers', '--topic', 'txn-hang', '--partition', '0');
  assert.equal(table(after.stdout, PRODUCERS)[0]![5], 'None');
  const none = await tool('find-hanging', '--topic', 'txn-hang', '--max-transaction-timeout', '0');
  assert.deepEqual(table(none.stdout, HANGING), []);

  // The marker moved the last stable offset past the aborted record: read_committed readers are free again.
  const r = await RawClient.connect(broker.port);
  try {
    const listed = await r.request(apis.ListOffsets, 5, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [
        {
          name: 'txn-hang',
          partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
        },
      ],
    });
    assert.equal(listed.topics[0]!.partitions[0]!.offset, 4n, 'two records and two ABORT markers');
  } finally {
    r.close();
  }

  const again = await tool('abort', '--topic', 'txn-hang', '--partition', '0', '--start-offset', '2');
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'Could not find any open transactions starting at offset 2 on partition txn-hang-0\n');
  const unnamed = await tool('abort', '--topic', 'txn-hang', '--partition', '0');
  assert.equal(unnamed.code, 1);
  assert.match(unnamed.stderr, /^The transaction to abort must be identified either with --start-offset/);
});

test('WriteTxnMarkers refuses a marker from an older coordinator epoch, and answers per partition', async () => {
  // After the test above, txn-hang-0 has seen coordinator epoch 1000 from the producer.
  const [producer] = table(
    (await tool('describe-producers', '--topic', 'txn-hang', '--partition', '0')).stdout,
    PRODUCERS,
  );
  const c = await RawClient.connect(broker.port);
  try {
    const response = await c.request(apis.WriteTxnMarkers, 1, {
      markers: [
        {
          producerId: BigInt(producer![0]!),
          producerEpoch: Number(producer![1]),
          transactionResult: false,
          coordinatorEpoch: 5,
          topics: [
            { name: 'txn-hang', partitionIndexes: [0] },
            { name: 'no-such-topic', partitionIndexes: [0] },
          ],
        },
      ],
    });
    assert.deepEqual(
      response.markers[0]!.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
      [
        ['txn-hang', [[0, ErrorCode.TRANSACTION_COORDINATOR_FENCED]]],
        ['no-such-topic', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
      ],
    );
  } finally {
    c.close();
  }
  const after = await tool('describe-producers', '--topic', 'txn-hang', '--partition', '0');
  assert.deepEqual(table(after.stdout, PRODUCERS)[0], producer, 'nothing was written');
});
