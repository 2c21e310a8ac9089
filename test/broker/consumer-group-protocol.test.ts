import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, test } from 'node:test';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis, type ConsumerGroupHeartbeatResponse } from '../../src/protocol/generated/index.js';
import type { RawClient } from '../integration/raw-client.js';
import { findCoordinator, rawClientPool, simpleCommit } from './raw-clients.js';

/**
 * KIP-848 consumer groups spoken byte for byte (ConsumerGroupHeartbeat v0, ConsumerGroupDescribe v0): joins,
 * epochs, the revocation of a partition before anyone else gets it, fencing, leaving, session expiry,
 * restarts, and Kafka's error codes.
 */

const HEARTBEAT_INTERVAL_MS = 250;
const PARTITIONS = 4;
let broker: Broker;
const pool = rawClientPool(() => broker.port);
const connect = pool.connect;
let topicId = '';

before(async () => {
  broker = await startBroker({
    groups: { offsetsTopicNumPartitions: 3, consumerHeartbeatIntervalMs: HEARTBEAT_INTERVAL_MS },
  });
  const c = await connect();
  topicId = await createTopic(c, 'cg-events', PARTITIONS);
});

after(async () => {
  pool.closeAll();
  await broker.stop();
});

async function createTopic(c: RawClient, name: string, numPartitions: number): Promise<string> {
  const created = await c.request(apis.CreateTopics, 7, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  return created.topics[0]!.topicId;
}

interface Heartbeat {
  memberId?: string;
  memberEpoch?: number;
  instanceId?: string | null;
  rebalanceTimeoutMs?: number;
  topics?: string[] | null;
  assignor?: string | null;
  /** The partitions of `cg-events` (or of the topic given) the member holds; null: not sent. */
  owned?: number[] | null;
  ownedTopicId?: string;
}

function heartbeat(c: RawClient, group: string, h: Heartbeat = {}): Promise<ConsumerGroupHeartbeatResponse> {
  const owned = h.owned === undefined ? [] : h.owned;
  return c.request(apis.ConsumerGroupHeartbeat, 0, {
    groupId: group,
    memberId: h.memberId ?? '',
    memberEpoch: h.memberEpoch ?? 0,
    instanceId: h.instanceId ?? null,
    rackId: null,
    rebalanceTimeoutMs: h.rebalanceTimeoutMs ?? 30_000,
    subscribedTopicNames: h.topics === undefined ? ['cg-events'] : h.topics,
    serverAssignor: h.assignor ?? null,
    topicPartitions:
      owned === null ? null : owned.length === 0 ? [] : [{ topicId: h.ownedTopicId ?? topicId, partitions: owned }],
  });
}

/** The partitions of a heartbeat answer's assignment (of `cg-events` unless told), sorted; null if none sent. */
function assigned(r: ConsumerGroupHeartbeatResponse, id = topicId): number[] | null {
  if (!r.assignment) return null;
  return (r.assignment.topicPartitions.find((t) => t.topicId === id)?.partitions ?? []).slice().sort((a, b) => a - b);
}

/** A member as a real consumer runs it: it reports what it holds, and holds what it was last given. */
class Member {
  memberId = '';
  epoch = 0;
  owned: number[] = [];
  last: ConsumerGroupHeartbeatResponse | null = null;

  constructor(
    readonly c: RawClient,
    readonly group: string,
    readonly options: Heartbeat = {},
  ) {}

  async beat(): Promise<ConsumerGroupHeartbeatResponse> {
    const r = await heartbeat(this.c, this.group, {
      ...this.options,
      memberId: this.memberId,
      memberEpoch: this.epoch,
      owned: this.owned,
    });
    assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? undefined);
    this.memberId = r.memberId ?? this.memberId;
    this.epoch = r.memberEpoch;
    const a = assigned(r);
    if (a !== null) this.owned = a;
    this.last = r;
    return r;
  }
}

/** Heartbeats every member in turn until `done` holds; each round is a real exchange, so this ends or fails. */
async function beatUntil(members: Member[], done: () => boolean, rounds = 50): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) for (const m of members) await m.beat();
  assert.ok(done(), `not reached: ${JSON.stringify(members.map((m) => [m.epoch, m.owned]))}`);
}

/** A classic JoinGroup v9 for the same group id, to check how the two kinds of group share it. */
function joinClassic(c: RawClient, group: string, memberId = '') {
  return c.request(apis.JoinGroup, 9, {
    groupId: group,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 5000,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    reason: null,
  });
}

function describe(c: RawClient, group: string) {
  return c.request(apis.ConsumerGroupDescribe, 0, { groupIds: [group], includeAuthorizedOperations: false });
}

test('a first member joins: member id, epoch 1, every partition, the heartbeat interval', async () => {
  const c = await connect();
  await findCoordinator(c, 'cg-join');
  const r = await heartbeat(c, 'cg-join');
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.ok(r.memberId && r.memberId.length > 0);
  assert.equal(r.memberEpoch, 1);
  assert.equal(r.heartbeatIntervalMs, HEARTBEAT_INTERVAL_MS);
  assert.deepEqual(assigned(r), [0, 1, 2, 3]);
  const d = (await describe(c, 'cg-join')).groups[0]!;
  assert.equal(d.errorCode, ErrorCode.NONE);
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.groupEpoch, 1);
  assert.equal(d.assignmentEpoch, 1);
  assert.equal(d.assignorName, 'uniform');
  assert.equal(d.members[0]!.memberId, r.memberId);
  assert.deepEqual(d.members[0]!.assignment.topicPartitions[0]!.partitions, [0, 1, 2, 3]);
  assert.equal(d.members[0]!.assignment.topicPartitions[0]!.topicName, 'cg-events');
  assert.deepEqual(d.members[0]!.subscribedTopicNames, ['cg-events']);
});

test('a second member: epoch bump, and a partition goes to it only after the first member revoked it', async () => {
  const group = 'cg-revoke';
  const [ca, cb] = [await connect(), await connect()];
  await findCoordinator(ca, group);
  const a = new Member(ca, group);
  await a.beat();
  assert.deepEqual(a.owned, [0, 1, 2, 3]);
  assert.equal(a.epoch, 1);

  const b = new Member(cb, group);
  await b.beat();
  // B is at the new group epoch but gets nothing yet: A still holds every partition.
  assert.equal(b.epoch, 2);
  assert.deepEqual(b.owned, []);
  const d1 = (await describe(ca, group)).groups[0]!;
  assert.equal(d1.groupEpoch, 2);
  assert.equal(d1.groupState, 'Reconciling');
  const targetOfB = d1.members.find((m) => m.memberId === b.memberId)!.targetAssignment.topicPartitions[0]!.partitions;
  assert.equal(targetOfB.length, 2);

  // A learns what to give up; it stays at epoch 1 until it confirms.
  await a.beat();
  assert.equal(a.epoch, 1);
  assert.equal(a.owned.length, 2);
  assert.ok(a.owned.every((p) => !targetOfB.includes(p)));
  // A heartbeat that still reports the revoked partitions changes nothing, and B still waits.
  const stillHolding = await heartbeat(ca, group, { memberId: a.memberId, memberEpoch: 1, owned: [0, 1, 2, 3] });
  assert.equal(stillHolding.memberEpoch, 1);
  await b.beat();
  assert.deepEqual(b.owned, []);

  // A confirms the revocation: it moves to epoch 2, and then B gets its partitions.
  await a.beat();
  assert.equal(a.epoch, 2);
  await b.beat();
  assert.deepEqual(b.owned, targetOfB);
  assert.deepEqual([...a.owned, ...b.owned].sort(), [0, 1, 2, 3]);
  const d2 = (await describe(ca, group)).groups[0]!;
  assert.equal(d2.groupState, 'Stable');
  assert.deepEqual(
    d2.members.map((m) => m.memberEpoch),
    [2, 2],
  );
});

test('fencing: an epoch ahead of the coordinator, or a stale one, is FENCED_MEMBER_EPOCH', async () => {
  const group = 'cg-fence';
  const [ca, cb] = [await connect(), await connect()];
  await findCoordinator(ca, group);
  const a = new Member(ca, group);
  await a.beat();
  const b = new Member(cb, group);
  await beatUntil([a, b], () => a.epoch === 2 && b.epoch === 2 && b.owned.length === 2);
  const ahead = await heartbeat(ca, group, { memberId: a.memberId, memberEpoch: 5, owned: a.owned });
  assert.equal(ahead.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  // The previous epoch is forgiven only while the member holds nothing beyond its assignment.
  const previous = await heartbeat(ca, group, { memberId: a.memberId, memberEpoch: 1, owned: [0, 1, 2, 3] });
  assert.equal(previous.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  const lostAnswer = await heartbeat(ca, group, { memberId: a.memberId, memberEpoch: 1, owned: a.owned });
  assert.equal(lostAnswer.errorCode, ErrorCode.NONE);
  assert.equal(lostAnswer.memberEpoch, 2);
});

test('leaving (epoch -1): the member is gone and the others take over its partitions', async () => {
  const group = 'cg-leave';
  const [ca, cb] = [await connect(), await connect()];
  await findCoordinator(ca, group);
  const a = new Member(ca, group);
  const b = new Member(cb, group);
  await a.beat();
  await beatUntil([a, b], () => a.owned.length === 2 && b.owned.length === 2);
  const left = await heartbeat(cb, group, { memberId: b.memberId, memberEpoch: -1, owned: null });
  assert.equal(left.errorCode, ErrorCode.NONE);
  assert.equal(left.memberEpoch, -1);
  await beatUntil([a], () => a.owned.length === PARTITIONS);
  const d = (await describe(ca, group)).groups[0]!;
  assert.deepEqual(
    d.members.map((m) => m.memberId),
    [a.memberId],
  );
  assert.equal(d.groupState, 'Stable');
  // A member that left is unknown afterwards.
  const again = await heartbeat(cb, group, { memberId: b.memberId, memberEpoch: b.epoch, owned: [] });
  assert.equal(again.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('range assignor: asked for by the members, consecutive partitions each; an unknown one is refused', async () => {
  const group = 'cg-range';
  const [ca, cb] = [await connect(), await connect()];
  await findCoordinator(ca, group);
  const unknown = await heartbeat(ca, group, { assignor: 'sticky-ish' });
  assert.equal(unknown.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
  const a = new Member(ca, group, { assignor: 'range' });
  const b = new Member(cb, group, { assignor: 'range' });
  await a.beat();
  await beatUntil([a, b], () => a.owned.length === 2 && b.owned.length === 2);
  const [first, second] = a.memberId < b.memberId ? [a, b] : [b, a];
  assert.deepEqual(first.owned, [0, 1]);
  assert.deepEqual(second.owned, [2, 3]);
  assert.equal((await describe(ca, group)).groups[0]!.assignorName, 'range');
});

test('static members: -2 keeps the partitions for a successor, which takes them; an unreleased id is refused', async () => {
  const group = 'cg-static';
  const [ca, cb, cc] = [await connect(), await connect(), await connect()];
  await findCoordinator(ca, group);
  const a = new Member(ca, group, { instanceId: 'instance-a' });
  const b = new Member(cb, group, { instanceId: 'instance-b' });
  await a.beat();
  await beatUntil([a, b], () => a.owned.length === 2 && b.owned.length === 2);
  const taken = await heartbeat(cc, group, { instanceId: 'instance-a' });
  assert.equal(taken.errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);

  const away = await heartbeat(ca, group, {
    memberId: a.memberId,
    memberEpoch: -2,
    instanceId: 'instance-a',
    owned: null,
  });
  assert.equal(away.errorCode, ErrorCode.NONE);
  assert.equal(away.memberEpoch, -2);
  // B keeps its two partitions: A's stay reserved for instance-a.
  await b.beat();
  await b.beat();
  assert.equal(b.owned.length, 2);

  const successor = new Member(cc, group, { instanceId: 'instance-a' });
  await successor.beat();
  assert.notEqual(successor.memberId, a.memberId);
  assert.deepEqual(successor.owned, a.owned, 'the successor gets the partitions of instance-a back');
  // The old member id is fenced by its successor.
  const old = await heartbeat(ca, group, {
    memberId: a.memberId,
    memberEpoch: a.epoch,
    instanceId: 'instance-a',
    owned: a.owned,
  });
  assert.equal(old.errorCode, ErrorCode.FENCED_INSTANCE_ID);
});

test('metadata changes: more partitions, or a subscribed topic created later, rebalance the group', async () => {
  const group = 'cg-metadata';
  const c = await connect();
  await findCoordinator(c, group);
  const growingId = await createTopic(c, 'cg-growing', 2);
  const a = new Member(c, group, { topics: ['cg-growing', 'cg-later'] });
  const held = () => a.last?.assignment?.topicPartitions ?? [];
  a.beat = async function beat() {
    const r = await heartbeat(c, group, {
      ...a.options,
      memberId: a.memberId,
      memberEpoch: a.epoch,
      owned: a.epoch === 0 ? [] : null,
    });
    assert.equal(r.errorCode, ErrorCode.NONE);
    a.memberId = r.memberId ?? a.memberId;
    a.epoch = r.memberEpoch;
    if (r.assignment) a.last = r;
    return r;
  };
  await a.beat();
  assert.deepEqual(held(), [{ topicId: growingId, partitions: [0, 1] }]);
  const epochBefore = a.epoch;
  const grown = await c.request(apis.CreatePartitions, 3, {
    topics: [{ name: 'cg-growing', count: 3, assignments: null }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(grown.results[0]!.errorCode, ErrorCode.NONE);
  await a.beat();
  assert.ok(a.epoch > epochBefore);
  assert.deepEqual(held(), [{ topicId: growingId, partitions: [0, 1, 2] }]);
  const laterId = await createTopic(c, 'cg-later', 1);
  await a.beat();
  assert.deepEqual(
    held().find((t) => t.topicId === laterId),
    { topicId: laterId, partitions: [0] },
  );
});

test('offsets: commits carry the member epoch (OffsetCommit v9); stale or unknown members are refused', async () => {
  const group = 'cg-offsets';
  const c = await connect();
  await findCoordinator(c, group);
  const a = new Member(c, group);
  await a.beat();
  const commit = (version: number, memberId: string, epoch: number) =>
    c.request(apis.OffsetCommit, version, {
      groupId: group,
      generationIdOrMemberEpoch: epoch,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: 'cg-events',
          partitions: [
            {
              partitionIndex: 1,
              committedOffset: 42n,
              committedLeaderEpoch: -1,
              commitTimestamp: -1n,
              committedMetadata: '',
            },
          ],
        },
      ],
    });
  const code = (r: Awaited<ReturnType<typeof commit>>) => r.topics[0]!.partitions[0]!.errorCode;
  assert.equal(code(await commit(9, a.memberId, a.epoch)), ErrorCode.NONE);
  assert.equal(code(await commit(9, a.memberId, a.epoch + 1)), ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(code(await commit(9, 'someone-else', a.epoch)), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(code(await commit(8, a.memberId, a.epoch)), ErrorCode.UNSUPPORTED_VERSION);
  assert.equal(code(await commit(9, '', -1)), ErrorCode.UNKNOWN_MEMBER_ID, 'no simple commits while it has members');

  const fetch = (memberId: string | null, memberEpoch: number) =>
    c.request(apis.OffsetFetch, 9, {
      groupId: '',
      topics: [],
      groups: [{ groupId: group, memberId, memberEpoch, topics: [{ name: 'cg-events', partitionIndexes: [1] }] }],
      requireStable: false,
    });
  const fetched = (await fetch(a.memberId, a.epoch)).groups[0]!;
  assert.equal(fetched.errorCode, ErrorCode.NONE);
  assert.equal(fetched.topics[0]!.partitions[0]!.committedOffset, 42n);
  assert.equal((await fetch(a.memberId, a.epoch - 1)).groups[0]!.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal((await fetch(null, -1)).groups[0]!.topics[0]!.partitions[0]!.committedOffset, 42n, 'admin fetch');
});

test('the admin APIs: ListGroups types, DescribeGroups, DeleteGroups, and a classic JoinGroup', async () => {
  const group = 'cg-admin';
  const c = await connect();
  await findCoordinator(c, group);
  const a = new Member(c, group);
  await a.beat();

  const listed = await c.request(apis.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] });
  const mine = listed.groups.find((g) => g.groupId === group);
  assert.deepEqual(mine && [mine.groupType, mine.protocolType, mine.groupState], ['consumer', 'consumer', 'Stable']);
  const classicOnly = await c.request(apis.ListGroups, 5, { statesFilter: [], typesFilter: ['classic'] });
  assert.ok(!classicOnly.groups.some((g) => g.groupId === group));

  // DescribeGroups (up to v5) describes only classic groups; Kafka answers Dead for a consumer group.
  const described = await c.request(apis.DescribeGroups, 5, { groups: [group], includeAuthorizedOperations: false });
  assert.equal(described.groups[0]!.groupState, 'Dead');

  const join = await joinClassic(c, group);
  assert.equal(join.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

  const notEmpty = await c.request(apis.DeleteGroups, 2, { groupsNames: [group] });
  assert.equal(notEmpty.results[0]!.errorCode, ErrorCode.NON_EMPTY_GROUP);
  await heartbeat(c, group, { memberId: a.memberId, memberEpoch: -1, owned: null });
  assert.equal((await describe(c, group)).groups[0]!.groupState, 'Empty');
  const deleted = await c.request(apis.DeleteGroups, 2, { groupsNames: [group] });
  assert.equal(deleted.results[0]!.errorCode, ErrorCode.NONE);
  assert.equal((await describe(c, group)).groups[0]!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('a classic group is not a consumer group: heartbeats get GROUP_ID_NOT_FOUND, describe too', async () => {
  const group = 'cg-classic';
  const c = await connect();
  await findCoordinator(c, group);
  const first = await joinClassic(c, group);
  assert.equal((await joinClassic(c, group, first.memberId)).errorCode, ErrorCode.NONE);
  assert.equal((await heartbeat(c, group)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal((await describe(c, group)).groups[0]!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('invalid heartbeats: INVALID_REQUEST for missing fields, UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND', async () => {
  const group = 'cg-invalid';
  const c = await connect();
  await findCoordinator(c, group);
  const invalid = [
    await heartbeat(c, group, { topics: null }),
    await heartbeat(c, group, { topics: [] }),
    await heartbeat(c, group, { rebalanceTimeoutMs: -1 }),
    await heartbeat(c, group, { owned: null }),
    await heartbeat(c, group, { owned: [1] }),
    await heartbeat(c, group, { memberEpoch: 3 }),
    await heartbeat(c, group, { memberEpoch: -7, memberId: 'x' }),
    await heartbeat(c, group, { memberEpoch: -2, memberId: 'x' }),
  ];
  for (const r of invalid) assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST, r.errorMessage ?? '');
  assert.equal((await heartbeat(c, group, { memberEpoch: 3, memberId: 'x' })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  const a = new Member(c, group);
  await a.beat();
  assert.equal(
    (await heartbeat(c, group, { memberEpoch: 1, memberId: 'not-a-member' })).errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
});

test('session timeout, group size limit', async () => {
  const b = await startBroker({
    groups: {
      offsetsTopicNumPartitions: 1,
      consumerHeartbeatIntervalMs: 100,
      // Far above the heartbeats' 100 ms, so that only the silent member expires: a stalled machine must not
      // also expire `a` between two of its beats, nor the silent member before the group is seen full.
      consumerSessionTimeoutMs: 5000,
      consumerMaxSize: 2,
    },
  });
  try {
    const c = await connect(b.port);
    await createTopic(c, 'cg-events', PARTITIONS);
    const meta = await c.request(apis.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'cg-events' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const id = meta.topics[0]!.topicId;
    await findCoordinator(c, 'cg-expiry');
    const beat = async (m: { memberId: string; epoch: number; owned: number[] }) => {
      const r = await heartbeat(c, 'cg-expiry', {
        memberId: m.memberId,
        memberEpoch: m.epoch,
        owned: m.owned,
        ownedTopicId: id,
      });
      assert.equal(r.errorCode, ErrorCode.NONE);
      m.memberId = r.memberId ?? m.memberId;
      m.epoch = r.memberEpoch;
      m.owned = assigned(r, id) ?? m.owned;
    };
    const a = { memberId: '', epoch: 0, owned: [] as number[] };
    const silent = { memberId: '', epoch: 0, owned: [] as number[] };
    await beat(a);
    await beat(silent);
    await beat(a);
    assert.equal(a.owned.length, 2, 'a gave up half of its partitions for the silent member');
    const third = await heartbeat(c, 'cg-expiry', {});
    assert.equal(third.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    // Only `a` keeps heartbeating: once the silent member's session ends, `a` gets every partition.
    while (a.owned.length < PARTITIONS) {
      await new Promise((r) => setTimeout(r, 100));
      await beat(a);
    }
    const d = (await describe(c, 'cg-expiry')).groups[0]!;
    assert.deepEqual(
      d.members.map((m) => m.memberId),
      [a.memberId],
    );
  } finally {
    await b.stop();
  }
});

test('broker restart: the group comes back with its epochs and assignments, and members carry on', async () => {
  const dir = await mkdtemp(joinPath(tmpdir(), 'samsa-cg-'));
  const options = { logDirs: [dir], groups: { offsetsTopicNumPartitions: 2, consumerHeartbeatIntervalMs: 100 } };
  try {
    let b = await startBroker(options);
    let [ca, cb] = [await connect(b.port), await connect(b.port)];
    const id = await createTopic(ca, 'cg-events', PARTITIONS);
    await findCoordinator(ca, 'cg-restart');
    const a = new Member(ca, 'cg-restart', { ownedTopicId: id });
    const m2 = new Member(cb, 'cg-restart', { ownedTopicId: id });
    const beatAs = (m: Member, c: RawClient) => async () => {
      const r = await heartbeat(c, 'cg-restart', {
        memberId: m.memberId,
        memberEpoch: m.epoch,
        owned: m.owned,
        ownedTopicId: id,
      });
      assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
      m.memberId = r.memberId ?? m.memberId;
      m.epoch = r.memberEpoch;
      m.owned = assigned(r, id) ?? m.owned;
      return r;
    };
    a.beat = beatAs(a, ca);
    m2.beat = beatAs(m2, cb);
    await a.beat();
    await beatUntil([a, m2], () => a.owned.length === 2 && m2.owned.length === 2 && a.epoch === m2.epoch);
    const before = (await describe(ca, 'cg-restart')).groups[0]!;
    await b.stop();

    b = await startBroker(options);
    [ca, cb] = [await connect(b.port), await connect(b.port)];
    await findCoordinator(ca, 'cg-restart');
    const after = (await describe(ca, 'cg-restart')).groups[0]!;
    assert.equal(after.groupEpoch, before.groupEpoch);
    assert.equal(after.assignmentEpoch, before.assignmentEpoch);
    assert.equal(after.groupState, 'Stable');
    const view = (g: typeof before) =>
      g.members
        .map((m) => [m.memberId, m.memberEpoch, m.assignment.topicPartitions[0]?.partitions])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    assert.deepEqual(view(after), view(before));
    // The members heartbeat on with their epochs, without being fenced, and keep their partitions.
    const heldBefore = [a.owned, m2.owned];
    a.beat = beatAs(a, ca);
    m2.beat = beatAs(m2, cb);
    const ra = await a.beat();
    await m2.beat();
    assert.equal(ra.memberEpoch, before.groupEpoch);
    assert.deepEqual([a.owned, m2.owned], heldBefore);
    await b.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an empty group of one kind gives way to the other, and its committed offsets stay', async () => {
  const group = 'cg-convert';
  const c = await connect();
  await findCoordinator(c, group);
  const commitSimple = (offset: bigint) => simpleCommit(c, group, 'cg-events', 0, offset);
  const committed = async () => {
    const r = await c.request(apis.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [
        { groupId: group, memberId: null, memberEpoch: -1, topics: [{ name: 'cg-events', partitionIndexes: [0] }] },
      ],
      requireStable: false,
    });
    return r.groups[0]!.topics[0]!.partitions[0]!.committedOffset;
  };
  // A simple commit makes an empty classic group.
  assert.equal((await commitSimple(7n)).topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  const listType = async () =>
    (await c.request(apis.ListGroups, 5, { statesFilter: [], typesFilter: [] })).groups.find((g) => g.groupId === group)
      ?.groupType;
  assert.equal(await listType(), 'classic');

  const a = new Member(c, group);
  await a.beat();
  assert.deepEqual(a.owned, [0, 1, 2, 3]);
  assert.equal(await listType(), 'consumer');
  assert.equal(await committed(), 7n);

  await heartbeat(c, group, { memberId: a.memberId, memberEpoch: -1, owned: null });
  const joined = await joinClassic(c, group);
  assert.equal(joined.errorCode, ErrorCode.MEMBER_ID_REQUIRED, 'a classic join is taken again');
  assert.equal(await listType(), 'classic');
  assert.equal(await committed(), 7n);
});
