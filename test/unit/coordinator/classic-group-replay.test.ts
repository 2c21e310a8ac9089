/**
 * Classic groups on the coordinator runtime, driven by random interleavings of JoinGroup (dynamic members,
 * KIP-394 member ids, static members replacing themselves), SyncGroup, Heartbeat, LeaveGroup, session and
 * rebalance timeouts on a mock clock, failed appends (before and after the write), appends held back, and
 * DescribeGroups:
 * - a DescribeGroups answer never shows what the log does not hold yet: a Stable group is the group of a stored
 *   image (members and assignments), an Empty one has no stored members;
 * - a SyncGroup answered NONE gives an assignment the log holds for that generation;
 * - whenever nothing is in flight, the groups held equal the groups a fresh coordinator loads from the same
 *   logs (for groups not in the middle of a rebalance, whose join barrier is in memory only, as in Kafka).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  defaultGroupSettings,
  GroupCoordinator,
  type GroupDescription,
} from '../../../src/coordinator/group/group-coordinator.js';
import { GroupShard, groupRecordsSerde } from '../../../src/coordinator/group/group-shard.js';
import { readOffsetsRecord } from '../../../src/coordinator/group/offsets-records.js';
import { ErrorCode } from '../../../src/protocol/errors.js';
import { type AppendFault, deferred, InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

const OFFSETS_PARTITIONS = 2;
const GROUPS = ['g-a', 'g-b'];
/** Clients per group: the first is a static member (group.instance.id), the others dynamic. */
const CLIENTS_PER_GROUP = 3;
const STATIC_CLIENTS = 1;
const SESSION_TIMEOUT_MS = 10_000;
const REBALANCE_TIMEOUT_MS = 8_000;
const INITIAL_REBALANCE_DELAY_MS = 100;
const PLAIN_BATCH = { producerId: -1n, isTransactional: false, isControl: false };
/** Answers a client retries: the coordinator moved or is loading. */
const RETRIABLE = new Set<number>([ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);

type Action =
  | { kind: 'join'; client: number }
  | { kind: 'sync'; client: number }
  | { kind: 'heartbeat'; client: number }
  | { kind: 'leave'; client: number }
  | { kind: 'restartClient'; client: number }
  | { kind: 'describe'; group: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'failAppend'; partition: number; fault: AppendFault }
  | { kind: 'hold'; partition: number }
  | { kind: 'release'; partition: number };

const client = fc.nat(GROUPS.length * CLIENTS_PER_GROUP - 1);
const partition = fc.nat(OFFSETS_PARTITIONS - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('join' as const), client }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('sync' as const), client }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), client }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), client }) },
  // A client restarts: a static one rejoins with its instance id and no member id (KIP-345).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restartClient' as const), client }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('describe' as const), group: fc.nat(GROUPS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 300 }) }) },
  // Past the initial delay, the rebalance timeout or the session timeout.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(INITIAL_REBALANCE_DELAY_MS, REBALANCE_TIMEOUT_MS, SESSION_TIMEOUT_MS + 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('failAppend' as const),
      partition,
      fault: fc.constantFrom('before-write' as const, 'after-write' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hold' as const), partition }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), partition }) },
);

/** What a client knows of its membership, as a consumer's coordinator code keeps it. */
interface Client {
  groupId: string;
  clientId: string;
  instanceId: string | null;
  memberId: string;
  generationId: number;
  /** The members of its generation, when it is the leader. */
  leaderOf: string[] | null;
  inFlight: boolean;
}

function settings() {
  return {
    ...defaultGroupSettings(),
    initialRebalanceDelayMs: INITIAL_REBALANCE_DELAY_MS,
    offsetsTopicNumPartitions: OFFSETS_PARTITIONS,
  };
}

function newCoordinator(logs: InMemoryCoordinatorLog[], clock: MockClock, lines: string[]): GroupCoordinator {
  return new GroupCoordinator({
    settings: settings(),
    offsetsLog: (p) => logs[p] ?? { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
    offsetsPartitionCount: () => OFFSETS_PARTITIONS,
    createOffsetsTopic: async () => ErrorCode.NONE,
    partitionExists: () => true,
    topics: { byName: () => undefined, byId: () => undefined, names: () => [] },
    logger: quietLogger(lines),
    clock,
  });
}

/** The stored images of a log's groups after its first `length` records. */
function imagesAt(log: InMemoryCoordinatorLog, length: number): GroupShard['classicGroups'] {
  const shard = new GroupShard();
  for (const r of log.records.slice(0, length)) {
    const record = groupRecordsSerde.deserialize(r.key, r.value, r.batch ?? PLAIN_BATCH);
    if (record) shard.replay(record);
  }
  return shard.classicGroups;
}

/** Whether a DescribeGroups answer shows only what that prefix of the log holds. */
function describedFromLog(d: GroupDescription, log: InMemoryCoordinatorLog, length: number): boolean {
  const image = imagesAt(log, length).get(d.groupId);
  if (d.state === 'Empty') return !image || image.members.length === 0;
  if (d.state !== 'Stable') return true;
  if (!image) return false;
  return (
    image.protocol === d.protocolName &&
    image.members.length === d.members.length &&
    image.members.every(
      (m, i) => m.memberId === d.members[i]!.memberId && m.assignment.equals(d.members[i]!.assignment),
    )
  );
}

/** Whether the log ever stored this member with this assignment at this generation. */
function assignmentStored(
  log: InMemoryCoordinatorLog,
  groupId: string,
  generationId: number,
  memberId: string,
  assignment: Buffer,
): boolean {
  return log.records.some((r) => {
    const record = readOffsetsRecord(r.key, r.value);
    if (record?.type !== 'group' || record.group !== groupId || !record.value) return false;
    return (
      record.value.generation === generationId &&
      record.value.members.some((m) => m.memberId === memberId && m.assignment.equals(assignment))
    );
  });
}

/** The parts of a description a load rebuilds (member order aside). */
function comparable(d: GroupDescription) {
  return {
    state: d.state,
    protocolType: d.protocolType,
    protocolName: d.protocolName,
    generationId: d.generationId,
    leader: d.leader,
    members: [...d.members]
      .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
      .map((m) => ({ ...m, metadata: m.metadata.toString(), assignment: m.assignment.toString() })),
  };
}

class World {
  readonly clock = new MockClock();
  readonly logs = Array.from({ length: OFFSETS_PARTITIONS }, () => new InMemoryCoordinatorLog());
  readonly lines: string[] = [];
  readonly coordinator = newCoordinator(this.logs, this.clock, this.lines);
  readonly clients: Client[] = GROUPS.flatMap((groupId) =>
    Array.from({ length: CLIENTS_PER_GROUP }, (_, i) => ({
      groupId,
      clientId: `${groupId}-c${i}`,
      instanceId: i < STATIC_CLIENTS ? `${groupId}-instance-${i}` : null,
      memberId: '',
      generationId: -1,
      leaderOf: null,
      inFlight: false,
    })),
  );
  readonly gates = new Map<number, () => void>();
  readonly failures: unknown[] = [];
  /** Stable groups compared with their load. */
  stableCompared = 0;
  /** Answers checked when they arrive. */
  private readonly pending: Promise<void>[] = [];

  logOf(groupId: string): InMemoryCoordinatorLog {
    return this.logs[this.coordinator.partitionFor(groupId)]!;
  }

  /** Runs a client request in the background; its answer is checked when it comes. */
  private request(c: Client, call: () => Promise<void>): void {
    c.inFlight = true;
    this.pending.push(
      call()
        .catch((e: unknown) => {
          this.failures.push(e);
        })
        .finally(() => {
          c.inFlight = false;
        }),
    );
  }

  run(a: Action): void {
    switch (a.kind) {
      case 'join': {
        const c = this.clients[a.client]!;
        if (c.inFlight) return;
        this.request(c, async () => {
          const outcome = await this.coordinator.joinGroup({
            groupId: c.groupId,
            sessionTimeoutMs: SESSION_TIMEOUT_MS,
            rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
            memberId: c.memberId,
            groupInstanceId: c.instanceId,
            protocolType: 'consumer',
            protocols: [{ name: 'range', metadata: Buffer.from(`sub-${c.clientId}`) }],
            clientId: c.clientId,
            clientHost: '/127.0.0.1',
            requireKnownMemberId: true,
            supportsSkipAssignment: false,
          });
          switch (outcome.errorCode) {
            case ErrorCode.NONE:
              c.memberId = outcome.memberId;
              c.generationId = outcome.generationId;
              c.leaderOf = outcome.leader === outcome.memberId ? outcome.members.map((m) => m.memberId) : null;
              return;
            case ErrorCode.MEMBER_ID_REQUIRED:
              c.memberId = outcome.memberId;
              return;
            case ErrorCode.UNKNOWN_MEMBER_ID:
            case ErrorCode.FENCED_INSTANCE_ID:
              c.memberId = '';
              c.generationId = -1;
              return;
            default:
              assert.ok(
                outcome.errorCode === ErrorCode.REBALANCE_IN_PROGRESS || RETRIABLE.has(outcome.errorCode),
                `JoinGroup ${outcome.errorCode}`,
              );
          }
        });
        return;
      }
      case 'sync': {
        const c = this.clients[a.client]!;
        if (c.inFlight || c.generationId < 0) return;
        const { memberId, generationId, leaderOf } = c;
        const assignmentOf = (m: string) => Buffer.from(`${m}@${generationId}`);
        this.request(c, async () => {
          const outcome = await this.coordinator.syncGroup({
            groupId: c.groupId,
            generationId,
            memberId,
            groupInstanceId: c.instanceId,
            protocolType: 'consumer',
            protocolName: 'range',
            assignments: (leaderOf ?? []).map((m) => ({ memberId: m, assignment: assignmentOf(m) })),
          });
          if (outcome.errorCode === ErrorCode.NONE) {
            // Answered after the commit: the log holds the generation with this member's assignment.
            assert.ok(
              assignmentStored(this.logOf(c.groupId), c.groupId, generationId, memberId, outcome.assignment),
              `SyncGroup answered ${memberId} gen ${generationId} before its assignment was stored`,
            );
          }
        });
        return;
      }
      case 'heartbeat': {
        const c = this.clients[a.client]!;
        if (c.inFlight || c.memberId === '') return;
        this.request(c, async () => {
          const code = await this.coordinator.heartbeat(c.groupId, c.generationId, c.memberId, c.instanceId);
          if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.FENCED_INSTANCE_ID) {
            c.memberId = '';
            c.generationId = -1;
          }
        });
        return;
      }
      case 'leave': {
        const c = this.clients[a.client]!;
        if (c.inFlight || c.memberId === '') return;
        this.request(c, async () => {
          const left = await this.coordinator.leaveGroup(c.groupId, [
            { memberId: c.memberId, groupInstanceId: c.instanceId },
          ]);
          c.memberId = '';
          c.generationId = -1;
          assert.ok(left.errorCode === ErrorCode.NONE || RETRIABLE.has(left.errorCode), `LeaveGroup ${left.errorCode}`);
        });
        return;
      }
      case 'restartClient': {
        const c = this.clients[a.client]!;
        if (c.inFlight) return;
        c.memberId = '';
        c.generationId = -1;
        c.leaderOf = null;
        return;
      }
      case 'describe': {
        const groupId = GROUPS[a.group]!;
        const log = this.logOf(groupId);
        const lengthAsked = log.records.length;
        this.pending.push(
          (async () => {
            const d = await this.coordinator.describeGroup(groupId);
            // The answer is of some committed prefix of the log, at least what it held when asked.
            let seen = false;
            for (let length = lengthAsked; length <= log.records.length && !seen; length++)
              seen = describedFromLog(d, log, length);
            assert.ok(seen, `DescribeGroups shows ${d.state} ${JSON.stringify(comparable(d))} the log does not hold`);
          })().catch((e: unknown) => {
            this.failures.push(e);
          }),
        );
        return;
      }
      case 'advance':
        this.clock.advance(a.ms);
        return;
      case 'failAppend':
        this.logs[a.partition]!.nextFault = a.fault;
        return;
      case 'hold': {
        if (this.gates.has(a.partition)) return;
        const gate = deferred();
        this.logs[a.partition]!.appendGate = gate.promise;
        this.gates.set(a.partition, gate.resolve);
        return;
      }
      case 'release':
        this.releaseGate(a.partition);
        return;
    }
  }

  releaseGate(partition: number): void {
    const release = this.gates.get(partition);
    if (!release) return;
    this.gates.delete(partition);
    this.logs[partition]!.appendGate = null;
    release();
  }

  /** Lets what can run run (without waiting on appends held back). */
  async settle(): Promise<void> {
    if (this.gates.size === 0) {
      await this.coordinator.idle();
      return;
    }
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** The groups held equal the groups a fresh coordinator loads from copies of the logs. */
  async checkAgainstLoad(): Promise<void> {
    const copies = this.logs.map((log) => {
      const copy = new InMemoryCoordinatorLog();
      copy.records.push(...log.records);
      return copy;
    });
    const loaded = newCoordinator(copies, new MockClock(this.clock.now()), []);
    await loaded.start();
    for (const groupId of GROUPS) {
      const held = await this.coordinator.describeGroup(groupId);
      const fresh = await loaded.describeGroup(groupId);
      assert.equal(held.errorCode, ErrorCode.NONE);
      // A rebalance's join barrier is in memory only (Kafka keeps it outside records too).
      if (held.state !== 'Stable' && held.state !== 'Empty') continue;
      // A group created by a first join that never completed a generation has no record yet.
      if (held.state === 'Empty' && fresh.state === 'Dead') continue;
      assert.deepEqual(comparable(held), comparable(fresh), `${groupId}: held and loaded differ`);
      if (held.state === 'Stable') this.stableCompared++;
    }
    await loaded.stop();
  }

  async finish(): Promise<void> {
    for (const p of [...this.gates.keys()]) this.releaseGate(p);
    await this.coordinator.idle();
    await this.checkAgainstLoad();
    await this.coordinator.stop();
    await Promise.all(this.pending);
    if (this.failures.length > 0) throw this.failures[0];
    const bugs = this.lines.filter((l) => l.includes('classic group'));
    assert.deepEqual(bugs, []);
  }
}

test('classic groups: answers come after the commit, reads see committed state, and a load rebuilds the groups held', async () => {
  let runs = 0;
  let stableCompared = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 40, maxLength: 150 }), async (actions) => {
      runs++;
      const world = new World();
      await world.coordinator.start();
      for (const a of actions) {
        world.run(a);
        await world.settle();
        if (world.failures.length > 0) throw world.failures[0];
        if (world.gates.size === 0) await world.checkAgainstLoad();
      }
      await world.finish();
      stableCompared += world.stableCompared;
    }),
    { numRuns: 300 },
  );
  assert.equal(runs, 300);
  assert.ok(stableCompared > 100, `stable groups compared with their load: ${stableCompared}`);
});
