/**
 * The group coordinator on the coordinator runtime, driven by random sequences of offset commits (simple and
 * by members), transactional commits and their markers, classic group joins, heartbeats and leaves, deletions,
 * expiry and restarts on a mock clock and in-memory logs with injected faults: the state held always equals
 * the state rebuilt by replaying the records written (offsets, pending transactional offsets, stored group
 * images), a stable group is what its stored image says, a failed append is answered with a retriable error
 * and reloads the partition, and a commit answered NONE is what OffsetFetch then returns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultGroupSettings, GroupCoordinator } from '../../../src/coordinator/group/group-coordinator.js';
import { GroupShard, groupRecordsSerde } from '../../../src/coordinator/group/group-shard.js';
import { ErrorCode, KafkaError } from '../../../src/protocol/errors.js';
import { type AppendFault, InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

const OFFSETS_PARTITIONS = 2;
const GROUPS = ['g-a', 'g-b', 'g-c', 'g-d'];
const TOPIC_PARTITIONS = [
  { topic: 'orders', partition: 0 },
  { topic: 'orders', partition: 1 },
  { topic: 'payments', partition: 0 },
];
const PRODUCERS = [7n, 8n];
const RETENTION_MS = 500;
const SESSION_TIMEOUT_MS = 30_000;
const RETENTION_CHECK_INTERVAL_MS = 100;
/** Answers a client retries: the coordinator moved or is loading. */
const RETRIABLE = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);
const PLAIN_BATCH = { producerId: -1n, isTransactional: false, isControl: false };

type Action =
  | { kind: 'commit'; group: number; partitions: number[]; offset: number }
  | { kind: 'txnCommit'; group: number; producer: number; partitions: number[]; offset: number }
  | { kind: 'marker'; partition: number; producer: number; committed: boolean }
  | { kind: 'deleteOffsets'; group: number; partition: number }
  | { kind: 'deleteGroup'; group: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'failAppend'; group: number; fault: AppendFault }
  | { kind: 'fence'; group: number }
  | { kind: 'join'; group: number }
  | { kind: 'heartbeat'; group: number }
  | { kind: 'leave'; group: number }
  | { kind: 'memberCommit'; group: number; partitions: number[]; offset: number }
  | { kind: 'restart' };

const group = fc.nat(GROUPS.length - 1);
const partitions = fc.uniqueArray(fc.nat(TOPIC_PARTITIONS.length - 1), { minLength: 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('commit' as const), group, partitions, offset: fc.nat(1000) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('txnCommit' as const),
      group,
      producer: fc.nat(PRODUCERS.length - 1),
      partitions,
      offset: fc.nat(1000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('marker' as const),
      partition: fc.nat(OFFSETS_PARTITIONS - 1),
      producer: fc.nat(PRODUCERS.length - 1),
      committed: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('deleteOffsets' as const),
      group,
      partition: fc.nat(TOPIC_PARTITIONS.length - 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteGroup' as const), group }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
  // Past the members' session timeout: the coordinator's timers expire them, in the partition's queue.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constant(SESSION_TIMEOUT_MS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('failAppend' as const),
      group,
      fault: fc.constantFrom('before-write' as const, 'after-write' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fence' as const), group }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('join' as const), group }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), group }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), group }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('memberCommit' as const), group, partitions, offset: fc.nat(1000) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** The offsets store a fresh load builds from what a log holds. */
function replayed(log: InMemoryCoordinatorLog): GroupShard {
  const shard = new GroupShard();
  for (const r of log.records) {
    const record = groupRecordsSerde.deserialize(r.key, r.value, r.batch ?? PLAIN_BATCH);
    if (record) shard.replay(record);
  }
  return shard;
}

const SUBSCRIPTION = Buffer.from('subscription');
const ASSIGNMENT = Buffer.from('assignment');
/** Errors a member gets once the coordinator forgot it (a reload from a log that did not store it yet). */
const MEMBER_GONE = new Set<number>([
  ErrorCode.UNKNOWN_MEMBER_ID,
  // Its group expired with its offsets once empty for offsets.retention.minutes.
  ErrorCode.GROUP_ID_NOT_FOUND,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ...RETRIABLE,
]);

class World {
  readonly clock = new MockClock();
  readonly logs = Array.from({ length: OFFSETS_PARTITIONS }, () => new InMemoryCoordinatorLog());
  coordinator = this.newCoordinator();
  /** The one member each classic group has in a run, as its client knows it. */
  readonly members = new Map<string, { memberId: string; generationId: number }>();

  newCoordinator(): GroupCoordinator {
    return new GroupCoordinator({
      settings: {
        ...defaultGroupSettings(),
        // One member per group: its join completes at once, without timers.
        initialRebalanceDelayMs: 0,
        offsetsTopicNumPartitions: OFFSETS_PARTITIONS,
        offsetsRetentionMs: RETENTION_MS,
        offsetsRetentionCheckIntervalMs: RETENTION_CHECK_INTERVAL_MS,
      },
      offsetsLog: (p) => this.logs[p] ?? { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
      offsetsPartitionCount: () => OFFSETS_PARTITIONS,
      createOffsetsTopic: async () => ErrorCode.NONE,
      partitionExists: (topic, partition) =>
        TOPIC_PARTITIONS.some((p) => p.topic === topic && p.partition === partition),
      topics: { byName: () => undefined, byId: () => undefined, names: () => [] },
      logger: quietLogger(),
      clock: this.clock,
    });
  }

  async checkReplay(): Promise<void> {
    for (let p = 0; p < OFFSETS_PARTITIONS; p++)
      assert.deepEqual(this.coordinator.offsetsSnapshot(p), replayed(this.logs[p]!).snapshot(), `partition ${p}`);
    // A stable group is what its last stored image says: its members and their assignments.
    for (const groupId of GROUPS) {
      const held = await this.coordinator.describeGroup(groupId);
      if (held.state !== 'Stable') continue;
      const image = replayed(this.logs[this.coordinator.partitionFor(groupId)]!).classicGroups.get(groupId);
      assert.ok(image, `${groupId} is stable without a stored image`);
      assert.deepEqual(
        held.members.map((m) => [m.memberId, m.assignment]),
        image.members.map((m) => [m.memberId, m.assignment]),
      );
    }
  }

  async join(groupId: string): Promise<number> {
    if (this.members.has(groupId)) return ErrorCode.NONE;
    // Only a group without members is joined: a join into a group with members waits for them to rejoin.
    const state = (await this.coordinator.describeGroup(groupId)).state;
    if (state !== 'Empty' && state !== 'Dead') return ErrorCode.NONE;
    const joined = await this.coordinator.joinGroup({
      groupId,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      rebalanceTimeoutMs: SESSION_TIMEOUT_MS,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: SUBSCRIPTION }],
      clientId: 'client',
      clientHost: '/127.0.0.1',
      requireKnownMemberId: false,
      supportsSkipAssignment: false,
    });
    if (joined.errorCode !== ErrorCode.NONE) return joined.errorCode;
    assert.equal(joined.leader, joined.memberId);
    const synced = await this.coordinator.syncGroup({
      groupId,
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: joined.memberId, assignment: ASSIGNMENT }],
    });
    if (synced.errorCode === ErrorCode.NONE) {
      assert.deepEqual(synced.assignment, ASSIGNMENT);
      assert.equal((await this.coordinator.describeGroup(groupId)).state, 'Stable');
      this.members.set(groupId, { memberId: joined.memberId, generationId: joined.generationId });
    } else {
      // The member is left behind in the group; it leaves, as a client giving up would.
      await this.coordinator.leaveGroup(groupId, [{ memberId: joined.memberId, groupInstanceId: null }]);
    }
    return synced.errorCode;
  }

  fetched(groupId: string, topic: string, partition: number): bigint | undefined {
    const result = this.coordinator.fetchOffsets(groupId, [{ name: topic, partitions: [partition] }]);
    assert.equal(result.errorCode, ErrorCode.NONE);
    return result.topics[0]?.partitions[0]?.offset?.offset;
  }

  async run(a: Action): Promise<void> {
    const groupId = 'group' in a ? GROUPS[a.group]! : '';
    const log = groupId === '' ? undefined : this.logs[this.coordinator.partitionFor(groupId)];
    const armed = log?.nextFault !== null && log?.nextFault !== undefined;
    const armedLogs = this.logs.filter((l) => l.nextFault !== null);
    let answer: number = ErrorCode.NONE;
    switch (a.kind) {
      case 'commit': {
        const committed = a.partitions.map((i) => ({ ...TOPIC_PARTITIONS[i]!, offset: BigInt(a.offset) }));
        const result = await this.coordinator.commitOffsets(
          groupId,
          -1,
          '',
          null,
          committed.map((p) => ({ ...p, leaderEpoch: -1, metadata: null })),
          9,
        );
        answer = 'errorCode' in result ? result.errorCode : (result.partitionErrors.find((c) => c !== 0) ?? 0);
        if (answer === ErrorCode.NONE)
          for (const p of committed) assert.equal(this.fetched(groupId, p.topic, p.partition), p.offset);
        break;
      }
      case 'txnCommit': {
        const result = await this.coordinator.commitTransactionalOffsets(
          groupId,
          PRODUCERS[a.producer]!,
          0,
          { generationId: -1, memberId: '', groupInstanceId: null },
          a.partitions.map((i) => ({
            ...TOPIC_PARTITIONS[i]!,
            offset: BigInt(a.offset),
            leaderEpoch: -1,
            metadata: '',
          })),
        );
        answer = 'errorCode' in result ? result.errorCode : (result.partitionErrors.find((c) => c !== 0) ?? 0);
        if (answer === ErrorCode.NONE)
          for (const i of a.partitions) {
            const p = TOPIC_PARTITIONS[i]!;
            assert.ok(this.coordinator.hasPendingTransactionalOffset(groupId, p.topic, p.partition));
          }
        break;
      }
      case 'marker': {
        // The transaction coordinator writes the marker to the partition's log, then tells the group coordinator.
        const producerId = PRODUCERS[a.producer]!;
        this.logs[a.partition]!.writeMarker(producerId, a.committed);
        this.coordinator.completeTransaction(a.partition, producerId, a.committed);
        break;
      }
      case 'deleteOffsets': {
        const p = TOPIC_PARTITIONS[a.partition]!;
        const result = await this.coordinator.deleteOffsets(groupId, [{ name: p.topic, partitions: [p.partition] }]);
        answer = result.errorCode;
        if (answer === ErrorCode.NONE) assert.equal(this.fetched(groupId, p.topic, p.partition), undefined);
        break;
      }
      case 'deleteGroup':
        answer = await this.coordinator.deleteGroup(groupId);
        if (answer === ErrorCode.NONE)
          assert.deepEqual(this.coordinator.fetchOffsets(groupId, null), { errorCode: ErrorCode.NONE, topics: [] });
        else
          assert.ok(
            answer === ErrorCode.GROUP_ID_NOT_FOUND || answer === ErrorCode.NON_EMPTY_GROUP || RETRIABLE.has(answer),
            `DeleteGroups ${answer}`,
          );
        break;
      case 'advance':
        this.clock.advance(a.ms);
        break;
      case 'failAppend':
        log!.nextFault = a.fault;
        break;
      case 'fence':
        // The next append is refused as a fenced producer's would be: nothing is written, nothing reloads.
        log!.nextRefusal = new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH);
        break;
      case 'join':
        answer = await this.join(groupId);
        break;
      case 'heartbeat': {
        const member = this.members.get(groupId);
        if (!member) break;
        const code = await this.coordinator.heartbeat(groupId, member.generationId, member.memberId, null);
        assert.ok(code === ErrorCode.NONE || MEMBER_GONE.has(code), `Heartbeat ${code}`);
        if (code !== ErrorCode.NONE) this.members.delete(groupId);
        break;
      }
      case 'leave': {
        const member = this.members.get(groupId);
        if (!member) break;
        this.members.delete(groupId);
        const left = await this.coordinator.leaveGroup(groupId, [{ memberId: member.memberId, groupInstanceId: null }]);
        answer = left.errorCode;
        assert.ok(left.errorCode === ErrorCode.NONE || RETRIABLE.has(left.errorCode), `LeaveGroup ${left.errorCode}`);
        if (left.errorCode === ErrorCode.NONE && left.members[0] === ErrorCode.NONE)
          assert.notEqual((await this.coordinator.describeGroup(groupId)).state, 'Stable');
        break;
      }
      case 'memberCommit': {
        const member = this.members.get(groupId);
        if (!member) break;
        const committed = a.partitions.map((i) => ({ ...TOPIC_PARTITIONS[i]!, offset: BigInt(a.offset) }));
        const result = await this.coordinator.commitOffsets(
          groupId,
          member.generationId,
          member.memberId,
          null,
          committed.map((p) => ({ ...p, leaderEpoch: -1, metadata: null })),
          9,
        );
        answer = 'errorCode' in result ? result.errorCode : (result.partitionErrors.find((c) => c !== 0) ?? 0);
        assert.ok(answer === ErrorCode.NONE || MEMBER_GONE.has(answer), `OffsetCommit ${answer}`);
        if (answer === ErrorCode.NONE)
          for (const p of committed) assert.equal(this.fetched(groupId, p.topic, p.partition), p.offset);
        break;
      }
      case 'restart':
        await this.coordinator.stop();
        this.coordinator = this.newCoordinator();
        await this.coordinator.start();
        break;
    }
    await this.coordinator.idle();
    // A failed write on the way reloads its partition: its members come back from their stored images.
    const reloaded = armedLogs.some((l) => l.nextFault === null);
    if (a.kind === 'advance' && a.ms >= SESSION_TIMEOUT_MS && !reloaded) {
      // Silent past their session timeout: every member is gone from its group.
      for (const [groupId, member] of this.members) {
        const held = await this.coordinator.describeGroup(groupId);
        assert.ok(!held.members.some((m) => m.memberId === member.memberId), `${member.memberId} outlived its session`);
      }
      this.members.clear();
    }
    const answersAfterWrite = a.kind !== 'advance' && a.kind !== 'marker';
    if (armed && log?.nextFault === null && answersAfterWrite) {
      // The injected fault hit this call's append: the client must be told to retry, never NONE.
      assert.ok(RETRIABLE.has(answer), `answer ${answer} after a failed append`);
    }
    await this.checkReplay();
  }
}

test('group coordinator: the state held equals the replay of the records written, faults included', async () => {
  let runs = 0;
  let reloads = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 40 }), async (actions) => {
      runs++;
      const world = new World();
      await world.coordinator.start();
      for (const a of actions) {
        const armedBefore = world.logs.map((l) => l.nextFault);
        await world.run(a);
        reloads += world.logs.filter((l, i) => armedBefore[i] !== null && l.nextFault === null).length;
      }
      await world.coordinator.stop();
    }),
    { numRuns: 1000 },
  );
  assert.equal(runs, 1000);
  assert.ok(reloads > 50, `faults hit appends in ${reloads} cases`);
});

test('a failed offset commit is answered NOT_COORDINATOR, reloads the partition, and a commit written before the failure stays', async () => {
  const world = new World();
  await world.coordinator.start();
  const groupId = GROUPS[0]!;
  const log = world.logs[world.coordinator.partitionFor(groupId)]!;
  const commit = (offset: bigint) =>
    world.coordinator.commitOffsets(
      groupId,
      -1,
      '',
      null,
      [{ topic: 'orders', partition: 0, offset, leaderEpoch: -1, metadata: null }],
      9,
    );
  let releaseLoad!: () => void;
  log.replayGate = new Promise<void>((resolve) => {
    releaseLoad = resolve;
  });
  log.nextFault = 'after-write';
  assert.deepEqual(await commit(5n), { partitionErrors: [ErrorCode.NOT_COORDINATOR] });
  assert.equal(world.coordinator.fetchOffsets(groupId, null).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.deepEqual(await commit(6n), { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
  log.replayGate = null;
  releaseLoad();
  await world.coordinator.idle();
  // The record reached the log before the sync failed: the reloaded state has it, as the log says.
  assert.equal(world.fetched(groupId, 'orders', 0), 5n);
  await world.checkReplay();
  await world.coordinator.stop();
});
