import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, test } from 'node:test';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import {
  apis,
  encodeConsumerProtocolSubscription,
  type JoinGroupResponse,
} from '../../src/protocol/generated/index.js';
import { Writer } from '../../src/protocol/primitives/index.js';
import { RawClient } from '../integration/raw-client.js';
import { findCoordinator, rawClientPool, simpleCommit } from './raw-clients.js';

/**
 * The classic group protocol spoken byte for byte, to check the coordinator's answers where real clients
 * would hide them: static membership, fencing, and Kafka's error codes.
 */

const SESSION_TIMEOUT_MS = 10_000;
let broker: Broker;
const pool = rawClientPool(() => broker.port);
const connect = pool.connect;

before(async () => {
  broker = await startBroker({ groups: { offsetsTopicNumPartitions: 3 } });
  const c = await connect();
  const created = await c.request(apis.CreateTopics, 7, {
    topics: [{ name: 'events', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
});

after(async () => {
  pool.closeAll();
  await broker.stop();
});

function join(
  c: RawClient,
  group: string,
  memberId: string,
  options: { instance?: string | null; protocol?: string; protocolType?: string; metadata?: string | Buffer } = {},
): Promise<JoinGroupResponse> {
  return c.request(apis.JoinGroup, 9, {
    groupId: group,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    rebalanceTimeoutMs: 5000,
    memberId,
    groupInstanceId: options.instance ?? null,
    protocolType: options.protocolType ?? 'consumer',
    protocols: [
      {
        name: options.protocol ?? 'range',
        metadata:
          typeof options.metadata === 'string' || options.metadata === undefined
            ? Buffer.from(options.metadata ?? 'm')
            : options.metadata,
      },
    ],
    reason: null,
  });
}

function sync(
  c: RawClient,
  group: string,
  generationId: number,
  memberId: string,
  assignments: Record<string, string> = {},
  instance: string | null = null,
) {
  return c.request(apis.SyncGroup, 5, {
    groupId: group,
    generationId,
    memberId,
    groupInstanceId: instance,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: Object.entries(assignments).map(([id, a]) => ({ memberId: id, assignment: Buffer.from(a) })),
  });
}

function heartbeat(
  c: RawClient,
  group: string,
  generationId: number,
  memberId: string,
  instance: string | null = null,
) {
  return c.request(apis.Heartbeat, 4, { groupId: group, generationId, memberId, groupInstanceId: instance });
}

function commit(
  c: RawClient,
  group: string,
  generation: number,
  memberId: string,
  offset: bigint,
  instance: string | null = null,
) {
  return c.request(apis.OffsetCommit, 8, {
    groupId: group,
    generationIdOrMemberEpoch: generation,
    memberId,
    groupInstanceId: instance,
    retentionTimeMs: -1n,
    topics: [
      {
        name: 'events',
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: 'meta',
          },
        ],
      },
    ],
  });
}

/** A dynamic member's first join: KIP-394 hands out the member id first. */
async function joinNew(c: RawClient, group: string, options: Parameters<typeof join>[3] = {}): Promise<string> {
  const first = await join(c, group, '', options);
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.notEqual(first.memberId, '');
  return first.memberId;
}

test('two dynamic members: the leader gets the metadata, assigns, and each member gets its share', async () => {
  const group = 'g-two';
  const [a, b] = [await connect(), await connect()];
  await findCoordinator(a, group);
  const idA = await joinNew(a, group, { metadata: 'meta-a' });
  const idB = await joinNew(b, group, { metadata: 'meta-b' });
  const [ja, jb] = await Promise.all([
    join(a, group, idA, { metadata: 'meta-a' }),
    join(b, group, idB, { metadata: 'meta-b' }),
  ]);
  assert.equal(ja.errorCode, ErrorCode.NONE);
  assert.equal(jb.errorCode, ErrorCode.NONE);
  assert.equal(ja.generationId, jb.generationId);
  assert.equal(ja.leader, jb.leader);
  const [leader, follower] = ja.leader === idA ? [ja, jb] : [jb, ja];
  assert.deepEqual(
    leader.members.map((m) => [m.memberId, m.metadata.toString()]).sort(),
    [
      [idA, 'meta-a'],
      [idB, 'meta-b'],
    ].sort(),
  );
  assert.deepEqual(follower.members, [], 'only the leader sees the members');
  const leaderClient = leader === ja ? a : b;
  const followerClient = leader === ja ? b : a;
  const [sf, sl] = await Promise.all([
    sync(followerClient, group, follower.generationId, follower.memberId),
    sync(leaderClient, group, leader.generationId, leader.memberId, {
      [leader.memberId]: 'for-leader',
      [follower.memberId]: 'for-follower',
    }),
  ]);
  assert.equal(sf.assignment.toString(), 'for-follower');
  assert.equal(sl.assignment.toString(), 'for-leader');
  assert.equal((await heartbeat(a, group, ja.generationId, idA)).errorCode, ErrorCode.NONE);
});

test("Kafka's errors: unknown member, illegal generation, inconsistent protocol, rebalance in progress", async () => {
  const group = 'g-errors';
  const [a, b] = [await connect(), await connect()];
  await findCoordinator(a, group);
  const idA = await joinNew(a, group);
  const ja = await join(a, group, idA);
  assert.equal(ja.errorCode, ErrorCode.NONE);
  assert.equal((await sync(a, group, ja.generationId, idA, { [idA]: 'x' })).errorCode, ErrorCode.NONE);

  assert.equal((await heartbeat(a, group, ja.generationId, 'nobody')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await heartbeat(a, group, ja.generationId + 7, idA)).errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal((await join(b, group, 'nobody')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const other = await join(b, group, '', { protocol: 'something-else' });
  assert.equal(other.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const otherType = await join(b, group, '', { protocolType: 'connect' });
  assert.equal(otherType.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const badSession = await b.request(apis.JoinGroup, 9, {
    groupId: group,
    sessionTimeoutMs: 1,
    rebalanceTimeoutMs: 5000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    reason: null,
  });
  assert.equal(badSession.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);

  assert.equal(
    (await commit(a, group, ja.generationId + 1, idA, 5n)).topics[0]!.partitions[0]!.errorCode,
    ErrorCode.ILLEGAL_GENERATION,
  );
  assert.equal(
    (await commit(a, group, ja.generationId, 'nobody', 5n)).topics[0]!.partitions[0]!.errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
  assert.equal(
    (await commit(a, group, -1, '', 5n)).topics[0]!.partitions[0]!.errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
    'no simple commits into a live group',
  );

  // A second member joining starts a rebalance: the first learns it from its heartbeat.
  const idB = await joinNew(b, group);
  const joiningB = join(b, group, idB);
  assert.equal((await heartbeat(a, group, ja.generationId, idA)).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal((await sync(a, group, ja.generationId, idA)).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const [ja2, jb2] = await Promise.all([join(a, group, idA), joiningB]);
  assert.equal(ja2.generationId, ja.generationId + 1);
  assert.equal(jb2.generationId, ja2.generationId);
  // Members of a finished generation are told so.
  assert.equal(
    (await commit(a, group, ja.generationId, idA, 5n)).topics[0]!.partitions[0]!.errorCode,
    ErrorCode.ILLEGAL_GENERATION,
  );
  const leave = await a.request(apis.LeaveGroup, 5, {
    groupId: group,
    memberId: '',
    members: [
      { memberId: idA, groupInstanceId: null, reason: null },
      { memberId: 'nobody', groupInstanceId: null, reason: null },
    ],
  });
  assert.deepEqual(
    leave.members.map((m) => m.errorCode),
    [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID],
  );
});

test('static membership: a restarted member gets its assignment back without a rebalance; the old id is fenced', async () => {
  const group = 'g-static';
  const [a, b] = [await connect(), await connect()];
  await findCoordinator(a, group);
  // instance-a forms the group alone; instance-b's arrival makes it rejoin, and both share the next generation.
  const alone = await join(a, group, '', { instance: 'instance-a' });
  assert.equal(alone.errorCode, ErrorCode.NONE, 'static members need no member id round trip');
  await sync(a, group, alone.generationId, alone.memberId, { [alone.memberId]: 'all' }, 'instance-a');
  const joiningB = join(b, group, '', { instance: 'instance-b' });
  const ja = await join(a, group, alone.memberId, { instance: 'instance-a' });
  const jb = await joiningB;
  assert.equal(ja.generationId, jb.generationId);
  const generation = ja.generationId;
  const leader = ja.leader === ja.memberId ? { c: a, j: ja, i: 'instance-a' } : { c: b, j: jb, i: 'instance-b' };
  const follower = leader.j === ja ? { c: b, j: jb, i: 'instance-b' } : { c: a, j: ja, i: 'instance-a' };
  await Promise.all([
    sync(follower.c, group, generation, follower.j.memberId, {}, follower.i),
    sync(
      leader.c,
      group,
      generation,
      leader.j.memberId,
      { [ja.memberId]: 'share-a', [jb.memberId]: 'share-b' },
      leader.i,
    ),
  ]);

  // instance-a restarts: a new connection, no member id.
  const a2 = await connect();
  const rejoin = await join(a2, group, '', { instance: 'instance-a' });
  assert.equal(rejoin.errorCode, ErrorCode.NONE);
  assert.equal(rejoin.generationId, generation, 'no new generation: the others are not disturbed');
  assert.notEqual(rejoin.memberId, ja.memberId);
  const back = await sync(a2, group, generation, rejoin.memberId, {}, 'instance-a');
  assert.equal(back.assignment.toString(), 'share-a');
  assert.equal((await heartbeat(b, group, generation, jb.memberId, 'instance-b')).errorCode, ErrorCode.NONE);
  // The old incarnation is a zombie now.
  assert.equal(
    (await heartbeat(a, group, generation, ja.memberId, 'instance-a')).errorCode,
    ErrorCode.FENCED_INSTANCE_ID,
  );
  assert.equal(
    (await commit(a, group, generation, ja.memberId, 3n, 'instance-a')).topics[0]!.partitions[0]!.errorCode,
    ErrorCode.FENCED_INSTANCE_ID,
  );
  assert.equal(
    (await commit(a2, group, generation, rejoin.memberId, 3n, 'instance-a')).topics[0]!.partitions[0]!.errorCode,
    ErrorCode.NONE,
  );
});

test('broker restart: groups and committed offsets come back from __consumer_offsets', async () => {
  const dir = await mkdtemp(joinPath(tmpdir(), 'samsa-groups-'));
  try {
    let b = await startBroker({ logDirs: [dir], groups: { offsetsTopicNumPartitions: 3 } });
    let c = await RawClient.connect(b.port);
    await c.request(apis.CreateTopics, 7, {
      topics: [{ name: 'events', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    await findCoordinator(c, 'g-durable');
    const id = await joinNew(c, 'g-durable');
    const j = await join(c, 'g-durable', id);
    await sync(c, 'g-durable', j.generationId, id, { [id]: 'mine' });
    assert.equal(
      (await commit(c, 'g-durable', j.generationId, id, 42n)).topics[0]!.partitions[0]!.errorCode,
      ErrorCode.NONE,
    );
    c.close();
    await b.stop();

    b = await startBroker({ logDirs: [dir], groups: { offsetsTopicNumPartitions: 3 } });
    c = await RawClient.connect(b.port);
    try {
      const fetched = await c.request(apis.OffsetFetch, 8, {
        groupId: '',
        topics: [],
        groups: [
          {
            groupId: 'g-durable',
            memberId: null,
            memberEpoch: -1,
            topics: [{ name: 'events', partitionIndexes: [0, 1] }],
          },
        ],
        requireStable: true,
      });
      const partitions = fetched.groups[0]!.topics[0]!.partitions;
      assert.deepEqual(
        partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata]),
        [
          [0, 42n, 'meta'],
          [1, -1n, ''],
        ],
      );
      const described = await c.request(apis.DescribeGroups, 5, {
        groups: ['g-durable'],
        includeAuthorizedOperations: false,
      });
      const g = described.groups[0]!;
      assert.equal(g.groupState, 'Stable');
      assert.equal(g.members[0]!.memberId, id);
      assert.equal(g.members[0]!.memberAssignment.toString(), 'mine');
      // The member comes back with its generation, as after a coordinator move in Kafka.
      assert.equal((await heartbeat(c, 'g-durable', j.generationId, id)).errorCode, ErrorCode.NONE);
    } finally {
      c.close();
      await b.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('offsets retention: a group without members loses its offsets, then itself, after offsets.retention.minutes', async () => {
  const b = await startBroker({
    // A retention well above a machine stall: each check right after a commit must find its offsets still there.
    groups: { offsetsTopicNumPartitions: 1, offsetsRetentionMs: 2000, offsetsRetentionCheckIntervalMs: 50 },
  });
  const c = await RawClient.connect(b.port);
  try {
    await c.request(apis.CreateTopics, 7, {
      topics: [{ name: 'events', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    await findCoordinator(c, 'g-expiring');
    assert.equal((await commit(c, 'g-expiring', -1, '', 9n)).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const offset = async () =>
      (
        await c.request(apis.OffsetFetch, 7, {
          groupId: 'g-expiring',
          topics: [{ name: 'events', partitionIndexes: [0] }],
          groups: [],
          requireStable: false,
        })
      ).topics[0]!.partitions[0]!.committedOffset;
    assert.equal(await offset(), 9n);
    // A standalone group ages by commit time: committing more often than the retention, for longer than it (3 s),
    // keeps its offsets.
    for (let i = 10n; i < 25n; i++) {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await commit(c, 'g-expiring', -1, '', i)).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    }
    assert.equal(await offset(), 24n, 'offsets committed within the retention stay');
    const deadline = Date.now() + 60_000;
    while ((await offset()) !== -1n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await offset(), -1n, 'the offsets expired');
    const listed = await c.request(apis.ListGroups, 5, { statesFilter: [], typesFilter: [] });
    assert.ok(!listed.groups.some((g) => g.groupId === 'g-expiring'), 'the group went with them');
  } finally {
    c.close();
    await b.stop();
  }
});

test('OffsetDelete removes the offsets of topics the group does not consume, and only those', async () => {
  const c = await connect();
  const group = 'g-offset-delete';
  await findCoordinator(c, group);
  const deleteOffsets = (groupId: string, partitions: number[]) =>
    c.request(apis.OffsetDelete, 0, {
      groupId,
      topics: [{ name: 'events', partitions: partitions.map((partitionIndex) => ({ partitionIndex })) }],
    });
  await findCoordinator(c, 'g-never-seen');
  assert.equal((await deleteOffsets('g-never-seen', [0])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  // A simple commit (no member) of both partitions, then one of them deleted.
  for (const partitionIndex of [0, 1]) {
    const committed = await simpleCommit(c, group, 'events', partitionIndex, 7n);
    assert.equal(committed.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  }
  const deleted = await deleteOffsets(group, [0]);
  assert.equal(deleted.errorCode, ErrorCode.NONE);
  assert.equal(deleted.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  const fetched = await c.request(apis.OffsetFetch, 8, {
    groupId: '',
    topics: [],
    groups: [
      { groupId: group, memberId: null, memberEpoch: -1, topics: [{ name: 'events', partitionIndexes: [0, 1] }] },
    ],
    requireStable: false,
  });
  assert.deepEqual(
    fetched.groups[0]!.topics[0]!.partitions.map((p) => p.committedOffset),
    [-1n, 7n],
  );

  // A member subscribed to the topic keeps its offsets: GROUP_SUBSCRIBED_TO_TOPIC.
  const w = new Writer();
  w.writeInt16(0);
  encodeConsumerProtocolSubscription(w, 0, {
    topics: ['events'],
    userData: null,
    ownedPartitions: [],
    generationId: -1,
    rackId: null,
  });
  const memberId = await joinNew(c, group, { metadata: w.toBuffer() });
  const joined = await join(c, group, memberId, { metadata: w.toBuffer() });
  assert.equal(joined.errorCode, ErrorCode.NONE);
  assert.equal((await sync(c, group, joined.generationId, memberId, { [memberId]: '' })).errorCode, ErrorCode.NONE);
  const refused = await deleteOffsets(group, [1]);
  assert.equal(refused.errorCode, ErrorCode.NONE);
  assert.equal(refused.topics[0]!.partitions[0]!.errorCode, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
  await c.request(apis.LeaveGroup, 5, {
    groupId: group,
    memberId: '',
    members: [{ memberId, groupInstanceId: null, reason: null }],
  });
});
