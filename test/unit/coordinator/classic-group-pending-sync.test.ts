/**
 * A member given a JoinGroup answer that never sends SyncGroup (a leader that stays quiet while heartbeating)
 * is removed once the rebalance timeout has passed, as Kafka's pending-sync expiry does; the group rebalances
 * without it instead of waiting forever in CompletingRebalance.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JoinOutcome, SyncOutcome } from '../../../src/coordinator/group/classic-group.js';
import { defaultGroupSettings, GroupCoordinator } from '../../../src/coordinator/group/group-coordinator.js';
import { ErrorCode } from '../../../src/protocol/errors.js';
import { InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

const SESSION_TIMEOUT_MS = 30_000;
const REBALANCE_TIMEOUT_MS = 10_000;
const GROUP = 'quiet-leader';

/** Lets queued operations, appends and their answers run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

function join(coordinator: GroupCoordinator, memberId: string, clientId: string): Promise<JoinOutcome> {
  return coordinator.joinGroup({
    groupId: GROUP,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(clientId) }],
    clientId,
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    supportsSkipAssignment: false,
  });
}

function sync(coordinator: GroupCoordinator, memberId: string, generationId: number): Promise<SyncOutcome> {
  return coordinator.syncGroup({
    groupId: GROUP,
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [],
  });
}

test('a member that does not sync within the rebalance timeout is removed and the group rebalances', async () => {
  const clock = new MockClock();
  const log = new InMemoryCoordinatorLog();
  const coordinator = new GroupCoordinator({
    settings: { ...defaultGroupSettings(), initialRebalanceDelayMs: 0, offsetsTopicNumPartitions: 1 },
    offsetsLog: () => log,
    offsetsPartitionCount: () => 1,
    createOffsetsTopic: async () => ErrorCode.NONE,
    partitionExists: () => true,
    topics: { byName: () => undefined, byId: () => undefined, names: () => [] },
    logger: quietLogger(),
    clock,
  });
  await coordinator.start();
  try {
    const first = await join(coordinator, '', 'a');
    assert.equal(first.errorCode, ErrorCode.NONE);
    const a = first.memberId;
    assert.equal((await sync(coordinator, a, first.generationId)).errorCode, ErrorCode.NONE);

    // b joins; a rejoins; generation 2 has both, a leads.
    const bJoin = join(coordinator, '', 'b');
    await settle();
    const aJoin = await join(coordinator, a, 'a');
    const bJoined = await bJoin;
    assert.equal(aJoin.errorCode, ErrorCode.NONE);
    assert.equal(aJoin.leader, a);
    const b = bJoined.memberId;
    const generation = aJoin.generationId;

    // b syncs and waits for the leader's assignment; the leader heartbeats but never syncs.
    let bSync: SyncOutcome | null = null;
    void sync(coordinator, b, generation).then((o) => {
      bSync = o;
    });
    await settle();
    assert.equal(await coordinator.heartbeat(GROUP, generation, a, null), ErrorCode.NONE);
    assert.equal(bSync, null, 'b waits for the assignment while the rebalance timeout runs');

    clock.advance(REBALANCE_TIMEOUT_MS + 1);
    await settle();
    assert.deepEqual(bSync, {
      errorCode: ErrorCode.REBALANCE_IN_PROGRESS,
      protocolType: null,
      protocolName: null,
      assignment: Buffer.alloc(0),
    });
    assert.equal(await coordinator.heartbeat(GROUP, generation, a, null), ErrorCode.UNKNOWN_MEMBER_ID);

    // b rejoins alone and leads the next generation.
    const bAgain = await join(coordinator, b, 'b');
    assert.equal(bAgain.errorCode, ErrorCode.NONE);
    assert.equal(bAgain.leader, b);
    assert.equal(bAgain.generationId, generation + 1);
    assert.deepEqual(
      bAgain.members.map((m) => m.memberId),
      [b],
    );
  } finally {
    await coordinator.stop();
  }
});
