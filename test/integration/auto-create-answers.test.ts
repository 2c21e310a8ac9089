import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ZERO_UUID } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);

const PARTITIONS = 3;

let broker: Broker;
let client: RawClient;

before(async () => {
  broker = await startBroker({ numPartitions: PARTITIONS });
  client = await RawClient.connect(broker.port);
});

after(async () => {
  client.close();
  await broker.stop();
});

async function metadata(version: number, name: string) {
  const r = await client.request(apis.Metadata, version, {
    topics: [{ name, topicId: ZERO_UUID }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const t = r.topics[0]!;
  return { errorCode: t.errorCode, name: t.name, partitions: t.partitions.map((p) => [p.partitionIndex, p.errorCode]) };
}

test('the Metadata request that creates a topic gets LEADER_NOT_AVAILABLE without partitions, the next one the topic', async () => {
  for (const version of [0, 4, 12]) {
    const name = `auto-v${version}`;
    assert.deepEqual(
      await metadata(version, name),
      { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, name, partitions: [] },
      `v${version}`,
    );
    assert.deepEqual(
      await metadata(version, name),
      {
        errorCode: ErrorCode.NONE,
        name,
        partitions: Array.from({ length: PARTITIONS }, (_, p) => [p, ErrorCode.NONE]),
      },
      `v${version}`,
    );
  }
});

test('FindCoordinator that finds __consumer_offsets missing gets COORDINATOR_NOT_AVAILABLE, the next one the coordinator', async () => {
  const find = async (version: number) => {
    const r = await client.request(
      apis.FindCoordinator,
      version,
      version >= 4 ? { key: '', keyType: 0, coordinatorKeys: ['g'] } : { key: 'g', keyType: 0, coordinatorKeys: [] },
    );
    return version >= 4 ? [r.coordinators[0]!.errorCode, r.coordinators[0]!.nodeId] : [r.errorCode, r.nodeId];
  };
  assert.deepEqual(await find(3), [ErrorCode.COORDINATOR_NOT_AVAILABLE, -1]);
  assert.deepEqual(await find(3), [ErrorCode.NONE, broker.settings.nodeId]);
  assert.deepEqual(await find(4), [ErrorCode.NONE, broker.settings.nodeId]);
});

test('a deleted topic asked for again with Metadata v1 is created again: LEADER_NOT_AVAILABLE and no partitions first', async () => {
  assert.equal((await metadata(1, 'recreated')).errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
  const deleted = await client.request(apis.DeleteTopics, 1, {
    topicNames: ['recreated'],
    topics: [],
    timeoutMs: 30_000,
  });
  assert.equal(deleted.responses[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual(await metadata(1, 'recreated'), {
    errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
    name: 'recreated',
    partitions: [],
  });
  assert.equal((await metadata(1, 'recreated')).partitions.length, PARTITIONS);
});

test('kafka-python: describing a group on a new broker fails with GroupCoordinatorNotAvailableError, as against Kafka; the retry succeeds', async () => {
  const fresh = await startBroker();
  try {
    const script = `
import sys, json
from kafka.admin import KafkaAdminClient
from kafka.errors import GroupCoordinatorNotAvailableError
a = KafkaAdminClient(bootstrap_servers=sys.argv[1])
out = []
for attempt in range(2):
    try:
        out.append([g.group for g in a.describe_consumer_groups(['test'])])
    except GroupCoordinatorNotAvailableError:
        out.append('GroupCoordinatorNotAvailableError')
a.close()
print(json.dumps(out))
`;
    const { stdout } = await run(PYTHON, ['-c', script, fresh.bootstrap], { timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout), ['GroupCoordinatorNotAvailableError', ['test']]);
  } finally {
    await fresh.stop();
  }
});
