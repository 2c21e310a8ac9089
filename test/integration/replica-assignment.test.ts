import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { ZERO_UUID } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

/** Not 0, so that an assignment naming broker 0 (a common default) is an unknown broker here. */
const NODE_ID = 3;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker({ nodeId: NODE_ID });
  kafka = new Kafka({ clientId: 'assignment-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

async function withRaw<T>(fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(broker.port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** CreateTopics v5 of one topic with an explicit assignment (partitions and replication factor -1 unless given). */
function createAssigned(
  c: RawClient,
  name: string,
  assignments: number[][] | Array<{ partitionIndex: number; brokerIds: number[] }>,
  options: { numPartitions?: number; replicationFactor?: number; validateOnly?: boolean } = {},
) {
  return c.request(apis.CreateTopics, 5, {
    topics: [
      {
        name,
        numPartitions: options.numPartitions ?? -1,
        replicationFactor: options.replicationFactor ?? -1,
        assignments: assignments.map((a, partitionIndex) => (Array.isArray(a) ? { partitionIndex, brokerIds: a } : a)),
        configs: [],
      },
    ],
    timeoutMs: 30_000,
    validateOnly: options.validateOnly ?? false,
  });
}

async function topicExists(c: RawClient, name: string): Promise<boolean> {
  const md = await c.request(apis.Metadata, 4, {
    topics: [{ name, topicId: ZERO_UUID }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  return md.topics[0]!.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
}

async function describedReplicas(c: RawClient, topic: string): Promise<Array<[number, number, number[], number[]]>> {
  const r = await c.request(apis.DescribeTopicPartitions, 0, {
    topics: [{ name: topic }],
    responsePartitionLimit: 100,
    cursor: null,
  });
  assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
  return r.topics[0]!.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes, p.isrNodes]);
}

test('KafkaJS: a topic created with a replica assignment on this broker, grown with assignments; Metadata reports the replicas', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      topics: [
        {
          topic: 'assigned',
          replicaAssignment: [
            { partition: 1, replicas: [NODE_ID] },
            { partition: 0, replicas: [NODE_ID] },
          ],
        },
      ],
    });
    assert.equal(created, true);
    await admin.createPartitions({
      topicPartitions: [{ topic: 'assigned', count: 4, assignments: [[NODE_ID], [NODE_ID]] }],
    });
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic: 'assigned', count: 5, assignments: [[0]] }] }),
      { type: 'INVALID_REPLICA_ASSIGNMENT' },
    );
    const { topics } = await admin.fetchTopicMetadata({ topics: ['assigned'] });
    assert.deepEqual(
      topics[0]!.partitions
        .map((p) => [p.partitionId, p.leader, p.replicas, p.isr])
        .sort((a, b) => (a[0] as number) - (b[0] as number)),
      [0, 1, 2, 3].map((p) => [p, NODE_ID, [NODE_ID], [NODE_ID]]),
    );
  } finally {
    await admin.disconnect();
  }
  await withRaw(async (c) => {
    assert.deepEqual(
      await describedReplicas(c, 'assigned'),
      [0, 1, 2, 3].map((p) => [p, NODE_ID, [NODE_ID], [NODE_ID]]),
    );
  });
});

test('CreateTopics refuses a bad assignment with Kafka errors and messages, and creates nothing', async () => {
  await withRaw(async (c) => {
    const refused = async (
      name: string,
      assignments: Parameters<typeof createAssigned>[2],
      options: Parameters<typeof createAssigned>[3],
      errorCode: number,
      errorMessage: string,
    ) => {
      const r = await createAssigned(c, name, assignments, options);
      assert.deepEqual([r.topics[0]!.errorCode, r.topics[0]!.errorMessage], [errorCode, errorMessage], name);
      assert.equal(await topicExists(c, name), false, name);
    };
    await refused(
      'gap',
      [
        { partitionIndex: 0, brokerIds: [NODE_ID] },
        { partitionIndex: 2, brokerIds: [NODE_ID] },
      ],
      {},
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'partitions should be a consecutive 0-based integer sequence',
    );
    await refused(
      'twice',
      [
        { partitionIndex: 0, brokerIds: [NODE_ID] },
        { partitionIndex: 0, brokerIds: [NODE_ID] },
      ],
      {},
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'Found multiple manual partition assignments for partition 0',
    );
    await refused(
      'same-broker-twice',
      [[NODE_ID, NODE_ID]],
      {},
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `The manual partition assignment includes the broker ${NODE_ID} more than once.`,
    );
    await refused(
      'unknown-broker',
      [[NODE_ID], [0]],
      {},
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes broker 0, but no such broker is registered.',
    );
    await refused(
      'no-replicas',
      [[]],
      {},
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes an empty replica list.',
    );
    await refused(
      'with-replication-factor',
      [[NODE_ID]],
      { replicationFactor: 1 },
      ErrorCode.INVALID_REQUEST,
      'A manual partition assignment was specified, but replication factor was not set to -1.',
    );
    await refused(
      'with-partitions',
      [[NODE_ID]],
      { numPartitions: 1 },
      ErrorCode.INVALID_REQUEST,
      'A manual partition assignment was specified, but numPartitions was not set to -1.',
    );
    // validate_only checks a good assignment and says what would be created, without creating it.
    const validated = (await createAssigned(c, 'validate-only', [[NODE_ID], [NODE_ID]], { validateOnly: true }))
      .topics[0]!;
    assert.deepEqual(
      [validated.errorCode, validated.numPartitions, validated.replicationFactor],
      [ErrorCode.NONE, 2, 1],
    );
    assert.equal(await topicExists(c, 'validate-only'), false);
  });
});

test('CreatePartitions refuses assignments of the wrong count, unknown brokers or another replica count', async () => {
  await withRaw(async (c) => {
    assert.equal((await createAssigned(c, 'growing', [[NODE_ID]])).topics[0]!.errorCode, ErrorCode.NONE);
    const grow = async (count: number, assignments: number[][] | null, validateOnly = false) => {
      const r = await c.request(apis.CreatePartitions, 1, {
        topics: [{ name: 'growing', count, assignments: assignments?.map((brokerIds) => ({ brokerIds })) ?? null }],
        timeoutMs: 30_000,
        validateOnly,
      });
      return [r.results[0]!.errorCode, r.results[0]!.errorMessage];
    };
    assert.deepEqual(await grow(3, [[NODE_ID]]), [
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
    ]);
    assert.deepEqual(await grow(2, [[7]]), [
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes broker 7, but no such broker is registered.',
    ]);
    assert.deepEqual(await grow(2, [[NODE_ID, NODE_ID]]), [
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      `The manual partition assignment includes the broker ${NODE_ID} more than once.`,
    ]);
    assert.deepEqual(await grow(2, [[]]), [
      ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes an empty replica list.',
    ]);
    assert.deepEqual(await grow(3, [[NODE_ID], [NODE_ID]], true), [ErrorCode.NONE, null]);
    assert.equal((await describedReplicas(c, 'growing')).length, 1, 'validate_only added nothing');
    assert.deepEqual(await grow(3, [[NODE_ID], [NODE_ID]]), [ErrorCode.NONE, null]);
    assert.deepEqual(
      await describedReplicas(c, 'growing'),
      [0, 1, 2].map((p) => [p, NODE_ID, [NODE_ID], [NODE_ID]]),
    );
  });
});

test('confluent-kafka (librdkafka): NewTopic and NewPartitions with replica_assignment', async () => {
  const script = `
import sys, json
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions
bootstrap, node = sys.argv[1], int(sys.argv[2])
a = AdminClient({'bootstrap.servers': bootstrap})
out = {}
for t, f in a.create_topics([NewTopic('ck-assigned', 2, replica_assignment=[[node], [node]])]).items():
    f.result(timeout=10)
for t, f in a.create_partitions([NewPartitions('ck-assigned', 3, replica_assignment=[[node]])]).items():
    f.result(timeout=10)
try:
    for t, f in a.create_topics([NewTopic('ck-unknown', 1, replica_assignment=[[node + 1]])]).items():
        f.result(timeout=10)
    out['unknown'] = 'created'
except Exception as e:
    out['unknown'] = e.args[0].name()
md = a.list_topics(timeout=10)
out['partitions'] = sorted([p.id, p.leader, p.replicas] for p in md.topics['ck-assigned'].partitions.values())
print(json.dumps(out))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, String(NODE_ID)], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout), {
    unknown: 'INVALID_REPLICA_ASSIGNMENT',
    partitions: [0, 1, 2].map((p) => [p, NODE_ID, [NODE_ID]]),
  });
});
