import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { createTopics, PYTHON } from './clients.js';
import { fetchRequest, RawClient } from './raw-client.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'leader-epochs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

async function produce(topic: string, count: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < count; i++) await producer.send({ topic, messages: [{ value: `record-${i}` }] });
  } finally {
    await producer.disconnect();
  }
}

function offsetForLeaderEpoch(client: RawClient, topic: string, currentLeaderEpoch: number, leaderEpoch: number) {
  return client.request(apis.OffsetForLeaderEpoch, 4, {
    replicaId: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch }] }],
  });
}

test('OffsetForLeaderEpoch is advertised and answers from the leader epochs of the log', async () => {
  const topic = 'epochs';
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  await produce(topic, 3);

  const client = await RawClient.connect(broker.port);
  try {
    const versions = await client.request(apis.ApiVersions, 3, {
      clientSoftwareName: 'test',
      clientSoftwareVersion: '1',
    });
    const advertised = versions.apiKeys.find((k) => k.apiKey === apis.OffsetForLeaderEpoch.key);
    assert.deepEqual([advertised?.minVersion, advertised?.maxVersion], [0, 4]);

    const current = (await offsetForLeaderEpoch(client, topic, -1, 0)).topics[0]!.partitions[0]!;
    assert.deepEqual(
      [current.errorCode, current.leaderEpoch, current.endOffset],
      [ErrorCode.NONE, 0, 3n],
      'the latest epoch ends at the log end offset',
    );
    const future = (await offsetForLeaderEpoch(client, topic, 0, 5)).topics[0]!.partitions[0]!;
    assert.deepEqual([future.errorCode, future.leaderEpoch, future.endOffset], [ErrorCode.NONE, -1, -1n]);
    const ahead = (await offsetForLeaderEpoch(client, topic, 1, 0)).topics[0]!.partitions[0]!;
    assert.equal(ahead.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH, 'a current epoch the broker does not know yet');
    const unknown = (await offsetForLeaderEpoch(client, 'no-such-topic', -1, 0)).topics[0]!.partitions[0]!;
    assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    // The batches a consumer fetches carry the epoch they were written under.
    const fetched = await client.request(apis.Fetch, 11, fetchRequest(topic, {}, { currentLeaderEpoch: 0 }));
    const records = fetched.responses[0]!.partitions[0]!.records!;
    assert.ok(records.length > 61);
    assert.equal(records.readInt32BE(12), 0, 'partition leader epoch of the first batch');
  } finally {
    client.close();
  }

  const checkpoint = await readFile(join(broker.settings.logDirs[0]!, `${topic}-0`, 'leader-epoch-checkpoint'), 'utf8');
  assert.equal(checkpoint, '0\n1\n0 0\n');
});

test('a confluent-kafka consumer resumes from offsets committed with their leader epoch', async () => {
  const topic = 'epochs-confluent';
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  await produce(topic, 10);
  const script = `
import json, sys
from confluent_kafka import Consumer
def consumer():
    return Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'g-epochs', 'auto.offset.reset': 'earliest',
                     'enable.auto.commit': False})
got = []
for stop in (5, 10):
    c = consumer()
    c.subscribe([sys.argv[2]])
    while len(got) < stop:
        m = c.poll(5)
        if m is None or m.error():
            continue
        got.append([m.offset(), m.value().decode()])
    c.commit(message=m, asynchronous=False)
    c.close()
print(json.dumps({'got': got}))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, topic], { timeout: 60_000 });
  const result = JSON.parse(stdout) as { got: Array<[number, string]> };
  assert.deepEqual(
    result.got,
    Array.from({ length: 10 }, (_, i) => [i, `record-${i}`]),
  );
});
