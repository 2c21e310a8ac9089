/**
 * KIP-848 consumer groups on the coordinator runtime, driven by random sequences of ConsumerGroupHeartbeats
 * (joins, heartbeats acknowledging the last assignment, leaves), session and rebalance timeouts on a mock clock,
 * failed appends injected before and after the write, and restarts: the consumer groups held always equal the
 * groups rebuilt by replaying the records written, a heartbeat whose append failed is answered with a
 * retriable error, and an answer of NONE is what the group then holds for the member. Each heartbeat's append
 * is held at the log while the groups are checked: nothing of a write is held before it is committed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ConsumerGroup, partitionList } from '../../../src/coordinator/group/consumer-group.js';
import type { ConsumerHeartbeatOutcome } from '../../../src/coordinator/group/consumer-group-coordinator.js';
import { rebuildConsumerGroups } from '../../../src/coordinator/group/consumer-group-records.js';
import { defaultGroupSettings, GroupCoordinator } from '../../../src/coordinator/group/group-coordinator.js';
import { GroupShard, groupRecordsSerde } from '../../../src/coordinator/group/group-shard.js';
import { ErrorCode } from '../../../src/protocol/errors.js';
import { type AppendFault, deferred, InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

const OFFSETS_PARTITIONS = 2;
const GROUPS = ['cg-a', 'cg-b', 'cg-c'];
/** Member slots per group: the clients that may join it. */
const MEMBERS_PER_GROUP = 3;
const SESSION_TIMEOUT_MS = 45_000;
/** Shorter than the session: a member that does not revoke in time is removed before its session ends. */
const REBALANCE_TIMEOUT_MS = 20_000;
const TOPICS = new Map([
  ['orders', { id: 'AAAAAAAAAAAAAAAAAAAAAQ', numPartitions: 4 }],
  ['payments', { id: 'AAAAAAAAAAAAAAAAAAAAAg', numPartitions: 2 }],
]);
const TOPIC_NAMES = [...TOPICS.keys()];
const RETRIABLE = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);
/** What a member may be told once the coordinator forgot or replaced it (timeouts, a reload from its log). */
const MEMBER_GONE = new Set<number>([
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_MEMBER_EPOCH,
  ErrorCode.GROUP_ID_NOT_FOUND,
  ...RETRIABLE,
]);
const PLAIN_BATCH = { producerId: -1n, isTransactional: false, isControl: false };

type Action =
  | { kind: 'join'; group: number; slot: number; topics: number[] }
  | { kind: 'heartbeat'; group: number; slot: number; ack: boolean }
  | { kind: 'leave'; group: number; slot: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'failAppend'; group: number; fault: AppendFault }
  | { kind: 'restart' };

const group = fc.nat(GROUPS.length - 1);
const slot = fc.nat(MEMBERS_PER_GROUP - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('join' as const),
      group,
      slot,
      topics: fc.uniqueArray(fc.nat(TOPIC_NAMES.length - 1), { minLength: 1 }),
    }),
  },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), group, slot, ack: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), group, slot }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 5000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(REBALANCE_TIMEOUT_MS, SESSION_TIMEOUT_MS),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('failAppend' as const),
      group,
      fault: fc.constantFrom('before-write' as const, 'after-write' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** The consumer group a fresh load builds from what a log holds, if any. */
function replayedGroup(log: InMemoryCoordinatorLog, groupId: string): ConsumerGroup | undefined {
  const shard = new GroupShard();
  for (const r of log.records) {
    const record = groupRecordsSerde.deserialize(r.key, r.value, r.batch ?? PLAIN_BATCH);
    if (record) shard.replay(record);
  }
  if (shard.lastKind.get(groupId) !== 'consumer') return undefined;
  const records = [...shard.consumerRecords.values()].filter((r) => r.group === groupId);
  return rebuildConsumerGroups(records, 0)[0];
}

type Partitions = Array<{ topicId: string; partitions: number[] }>;

/** A group as plain data, in a fixed order: what ConsumerGroupDescribe shows, with each member's state. */
function groupImage(g: ConsumerGroup): unknown {
  return {
    state: g.state,
    groupEpoch: g.groupEpoch,
    assignmentEpoch: g.assignmentEpoch,
    members: [...g.members.values()]
      .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
      .map((m) => ({
        memberId: m.memberId,
        memberEpoch: m.memberEpoch,
        assignment: partitionList(m.assignedPartitions),
        target: partitionList(g.targetAssignment.get(m.memberId) ?? new Map()),
      })),
  };
}

/** What a client knows of its membership. */
interface Client {
  memberId: string;
  memberEpoch: number;
  /** Its last assignment, which it reports as owned once it has taken it (acknowledged). */
  assignment: Partitions;
}

class World {
  readonly clock = new MockClock();
  readonly logs = Array.from({ length: OFFSETS_PARTITIONS }, () => new InMemoryCoordinatorLog());
  coordinator = this.newCoordinator();
  readonly clients = new Map<string, Client>();

  newCoordinator(): GroupCoordinator {
    return new GroupCoordinator({
      settings: {
        ...defaultGroupSettings(),
        offsetsTopicNumPartitions: OFFSETS_PARTITIONS,
        consumerSessionTimeoutMs: SESSION_TIMEOUT_MS,
      },
      offsetsLog: (p) => this.logs[p] ?? { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
      offsetsPartitionCount: () => OFFSETS_PARTITIONS,
      createOffsetsTopic: async () => ErrorCode.NONE,
      partitionExists: () => true,
      topics: {
        byName: (name) => TOPICS.get(name),
        byId: (id) => {
          const found = [...TOPICS].find(([, t]) => t.id === id);
          return found && { name: found[0], numPartitions: found[1].numPartitions };
        },
        names: () => TOPICS.keys(),
      },
      logger: quietLogger(),
      clock: this.clock,
    });
  }

  /** Every consumer group held equals the one its partition's log replays to. */
  checkReplay(): void {
    for (const groupId of GROUPS) {
      const fromLog = replayedGroup(this.logs[this.coordinator.partitionFor(groupId)]!, groupId);
      const held = this.coordinator.consumerGroupDescribe(groupId);
      if (held.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) continue;
      if (!('members' in held)) {
        assert.equal(held.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
        assert.equal(fromLog, undefined, `${groupId} is in its log but not held`);
        continue;
      }
      assert.ok(fromLog, `${groupId} is held but not in its log`);
      const image = {
        state: held.state,
        groupEpoch: held.groupEpoch,
        assignmentEpoch: held.assignmentEpoch,
        members: [...held.members]
          .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
          .map((m) => ({
            memberId: m.memberId,
            memberEpoch: m.memberEpoch,
            assignment: m.assignment.topicPartitions.map((t) => ({ topicId: t.topicId, partitions: t.partitions })),
            target: m.targetAssignment.topicPartitions.map((t) => ({ topicId: t.topicId, partitions: t.partitions })),
          })),
      };
      assert.deepEqual(image, groupImage(fromLog), groupId);
    }
  }

  /**
   * Runs a request whose append, if it makes one, waits at the log until the groups held have been checked
   * against the log: a write changes them only once committed.
   */
  private async gated<T>(log: InMemoryCoordinatorLog, call: () => Promise<T>): Promise<T> {
    const gate = deferred();
    log.appendGate = gate.promise;
    const appendsBefore = log.appends;
    let settled = false;
    const result = call().finally(() => {
      settled = true;
    });
    while (!settled && log.appends === appendsBefore) await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      if (!settled) this.checkReplay();
    } finally {
      log.appendGate = null;
      gate.resolve();
    }
    return result;
  }

  private heartbeat(
    groupId: string,
    client: Client | undefined,
    topics: string[] | null,
    ack: boolean,
  ): Promise<ConsumerHeartbeatOutcome> {
    const joining = client === undefined;
    const log = this.logs[this.coordinator.partitionFor(groupId)]!;
    return this.gated(log, () =>
      this.coordinator.consumerGroupHeartbeat({
        groupId,
        memberId: client?.memberId ?? '',
        memberEpoch: client?.memberEpoch ?? 0,
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: joining ? REBALANCE_TIMEOUT_MS : -1,
        subscribedTopicNames: topics,
        subscribedTopicRegex: null,
        serverAssignor: null,
        ownedPartitions: joining ? [] : ack ? client.assignment : null,
        clientId: 'client',
        clientHost: '/127.0.0.1',
      }),
    );
  }

  /** The member as the group now holds it, after an answer of NONE. */
  private checkAnswer(groupId: string, memberId: string, outcome: ConsumerHeartbeatOutcome): void {
    const held = this.coordinator.consumerGroupDescribe(groupId);
    assert.ok('members' in held, `${groupId} answered NONE but is not held`);
    const member = held.members.find((m) => m.memberId === memberId);
    assert.ok(member, `${memberId} answered NONE but is not held`);
    assert.equal(member.memberEpoch, outcome.memberEpoch);
    if (outcome.assignment)
      assert.deepEqual(
        member.assignment.topicPartitions.map((t) => ({ topicId: t.topicId, partitions: t.partitions })),
        outcome.assignment,
      );
  }

  async run(a: Action): Promise<void> {
    const groupId = 'group' in a ? GROUPS[a.group]! : '';
    const key = 'slot' in a ? `${groupId}/${a.slot}` : '';
    const log = groupId === '' ? undefined : this.logs[this.coordinator.partitionFor(groupId)];
    const armed = log !== undefined && log.nextFault !== null;
    let answer: number = ErrorCode.NONE;
    switch (a.kind) {
      case 'join': {
        if (this.clients.has(key)) break;
        const topics = a.topics.map((i) => TOPIC_NAMES[i]!);
        const outcome = await this.heartbeat(groupId, undefined, topics, false);
        answer = outcome.errorCode;
        assert.ok(answer === ErrorCode.NONE || RETRIABLE.has(answer), `join ${answer}`);
        if (answer === ErrorCode.NONE) {
          this.checkAnswer(groupId, outcome.memberId!, outcome);
          this.clients.set(key, {
            memberId: outcome.memberId!,
            memberEpoch: outcome.memberEpoch,
            assignment: outcome.assignment ?? [],
          });
        }
        break;
      }
      case 'heartbeat': {
        const client = this.clients.get(key);
        if (!client) break;
        const outcome = await this.heartbeat(groupId, client, null, a.ack);
        answer = outcome.errorCode;
        assert.ok(answer === ErrorCode.NONE || MEMBER_GONE.has(answer), `heartbeat ${answer}`);
        if (answer === ErrorCode.NONE) {
          this.checkAnswer(groupId, client.memberId, outcome);
          client.memberEpoch = outcome.memberEpoch;
          if (outcome.assignment) client.assignment = outcome.assignment;
        } else if (!RETRIABLE.has(answer)) {
          // Fenced or forgotten: the client gives up its partitions and joins again later.
          this.clients.delete(key);
        }
        break;
      }
      case 'leave': {
        const client = this.clients.get(key);
        if (!client) break;
        this.clients.delete(key);
        const outcome = await this.gated(log!, () =>
          this.coordinator.consumerGroupHeartbeat({
            groupId,
            memberId: client.memberId,
            memberEpoch: -1,
            instanceId: null,
            rackId: null,
            rebalanceTimeoutMs: -1,
            subscribedTopicNames: null,
            subscribedTopicRegex: null,
            serverAssignor: null,
            ownedPartitions: null,
            clientId: 'client',
            clientHost: '/127.0.0.1',
          }),
        );
        answer = outcome.errorCode;
        assert.ok(answer === ErrorCode.NONE || MEMBER_GONE.has(answer), `leave ${answer}`);
        if (answer === ErrorCode.NONE) {
          const held = this.coordinator.consumerGroupDescribe(groupId);
          assert.ok(!('members' in held) || !held.members.some((m) => m.memberId === client.memberId));
        }
        break;
      }
      case 'advance':
        this.clock.advance(a.ms);
        break;
      case 'failAppend':
        log!.nextFault = a.fault;
        break;
      case 'restart':
        await this.coordinator.stop();
        this.coordinator = this.newCoordinator();
        await this.coordinator.start();
        break;
    }
    await this.coordinator.idle();
    if (armed && log.nextFault === null && a.kind !== 'advance' && a.kind !== 'failAppend')
      // The injected fault hit this call's append: the client must be told to retry, never NONE.
      assert.ok(RETRIABLE.has(answer), `answer ${answer} after a failed append`);
    this.checkReplay();
  }
}

test('consumer groups: the groups held equal the replay of the records written, faults included', async () => {
  let runs = 0;
  let reloads = 0;
  let removedByTimer = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 50 }), async (actions) => {
      runs++;
      const world = new World();
      await world.coordinator.start();
      for (const a of actions) {
        const armedBefore = world.logs.map((l) => l.nextFault);
        const membersBefore = a.kind === 'advance' ? countMembers(world) : 0;
        await world.run(a);
        reloads += world.logs.filter((l, i) => armedBefore[i] !== null && l.nextFault === null).length;
        if (a.kind === 'advance' && countMembers(world) < membersBefore) removedByTimer++;
      }
      await world.coordinator.stop();
    }),
    { numRuns: 1000 },
  );
  assert.equal(runs, 1000);
  assert.ok(reloads > 50, `faults hit appends in ${reloads} cases`);
  assert.ok(removedByTimer > 20, `timers removed members in ${removedByTimer} cases`);
});

function countMembers(world: World): number {
  let n = 0;
  for (const groupId of GROUPS) {
    const held = world.coordinator.consumerGroupDescribe(groupId);
    if ('members' in held) n += held.members.length;
  }
  return n;
}
