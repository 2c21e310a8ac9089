import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { createTopics, PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const { CompressionTypes, Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

/** ListOffsets' special timestamp for the record with the largest timestamp (KIP-734). */
const MAX_TIMESTAMP = -3n;

/** The timestamps of the records of the one batch each test topic gets, out of order as producers may send them. */
const TIMESTAMPS = [1000, 3000, 2000, 4000];

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'offsets-by-time', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

/** A topic of one partition holding one batch (KafkaJS sends one send's messages to a partition as one). */
async function topicWithOneBatch(topic: string, compression: kafkajs.CompressionTypes): Promise<void> {
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      compression,
      messages: TIMESTAMPS.map((t, i) => ({ value: `record-${i}`, timestamp: String(t) })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** kafka-python's offsets_for_times for each of `timestamps`: [offset, timestamp] or null. */
async function offsetsForTimesWithKafkaPython(topic: string, timestamps: number[]): Promise<unknown[]> {
  const script = `
import json, sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1])
tp = TopicPartition(sys.argv[2], 0)
out = []
for t in json.loads(sys.argv[3]):
    found = c.offsets_for_times({tp: t})[tp]
    out.append(None if found is None else [found.offset, found.timestamp])
c.close()
print(json.dumps(out))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, topic, JSON.stringify(timestamps)], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as unknown[];
}

for (const [name, compression] of [
  ['uncompressed', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
] as const) {
  test(`offsets by time look inside a batch of records with different timestamps (${name})`, async () => {
    const topic = `by-time-${name}`;
    await topicWithOneBatch(topic, compression);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const at = async (t: number) => (await admin.fetchTopicOffsetsByTimestamp(topic, t))[0]!.offset;
      assert.equal(await at(999), '0');
      assert.equal(await at(1001), '1', 'the second record (3000) is the first at or after 1001');
      assert.equal(await at(2500), '1', 'the third record (2000) is earlier than asked, though later in the batch');
      assert.equal(await at(3500), '3');
    } finally {
      await admin.disconnect();
    }

    assert.deepEqual(await offsetsForTimesWithKafkaPython(topic, [1000, 1001, 2500, 3001, 4001]), [
      [0, 1000],
      [1, 3000],
      [1, 3000],
      [3, 4000],
      null,
    ]);

    // MAX_TIMESTAMP (ListOffsets v7+): the record that holds the largest timestamp, not the batch's last offset.
    const client = await RawClient.connect(broker.port);
    try {
      const response = await client.request(apis.ListOffsets, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: topic,
            partitions: [
              { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: MAX_TIMESTAMP, maxNumOffsets: 1 },
              { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 2500n, maxNumOffsets: 1 },
              { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 4001n, maxNumOffsets: 1 },
            ],
          },
        ],
      });
      const [max, byTime, none] = response.topics[0]!.partitions;
      assert.deepEqual([max!.errorCode, max!.offset, max!.timestamp, max!.leaderEpoch], [ErrorCode.NONE, 3n, 4000n, 0]);
      assert.deepEqual([byTime!.offset, byTime!.timestamp, byTime!.leaderEpoch], [1n, 3000n, 0]);
      assert.deepEqual(
        [none!.errorCode, none!.offset, none!.timestamp, none!.leaderEpoch],
        [ErrorCode.NONE, -1n, -1n, -1],
      );
    } finally {
      client.close();
    }
  });
}

test('offsets by time: a record of an open transaction is no answer under read_committed, as in Kafka', async () => {
  const topic = 'by-time-open-transaction';
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  const plain = kafka.producer();
  await plain.connect();
  const producer = kafka.producer({ transactionalId: 'by-time', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const client = await RawClient.connect(broker.port);
  try {
    await plain.send({ topic, messages: [{ value: 'committed', timestamp: '1000' }] });
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: 'open', timestamp: '2000' }] });
    const byTime = async (isolationLevel: number, timestamp: bigint) => {
      const response = await client.request(apis.ListOffsets, 5, {
        replicaId: -1,
        isolationLevel,
        topics: [
          { name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] },
        ],
      });
      const p = response.topics[0]!.partitions[0]!;
      return [p.errorCode, p.offset, p.timestamp];
    };
    assert.deepEqual(await byTime(0, 1500n), [ErrorCode.NONE, 1n, 2000n], 'read_uncommitted sees the open record');
    assert.deepEqual(await byTime(1, 1500n), [ErrorCode.NONE, -1n, -1n], 'past the last stable offset: no answer');
    assert.deepEqual(await byTime(1, 500n), [ErrorCode.NONE, 0n, 1000n]);
    await txn.commit();
    assert.deepEqual(await byTime(1, 1500n), [ErrorCode.NONE, 1n, 2000n], 'committed, it is the answer');
  } finally {
    client.close();
    await producer.disconnect();
    await plain.disconnect();
  }
});
