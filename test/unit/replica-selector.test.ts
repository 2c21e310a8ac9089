import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LEADER_SELECTOR,
  RACK_AWARE_REPLICA_SELECTOR,
  type ReplicaView,
  selectReadReplica,
} from '../../src/cluster/replica-selector.js';

const leader: ReplicaView = { nodeId: 1, rack: 'a', logEndOffset: 100, timeSinceLastCaughtUpMs: 0 };
const view = (nodeId: number, rack: string | null, logEndOffset: number, timeSinceLastCaughtUpMs: number) => ({
  nodeId,
  rack,
  logEndOffset,
  timeSinceLastCaughtUpMs,
});

test("selectReadReplica: Kafka's RackAwareReplicaSelector", () => {
  const replicas = [leader, view(2, 'b', 90, 50), view(3, 'b', 95, 80), view(4, 'c', 100, 10), view(5, null, 100, 0)];
  const pick = (rack: string) => selectReadReplica(RACK_AWARE_REPLICA_SELECTOR, rack, leader, replicas).nodeId;
  // The replica of the consumer's rack with the most data (not the most recently caught up).
  assert.equal(pick('b'), 3);
  assert.equal(pick('c'), 4);
  // The leader when it is in the consumer's rack, when no replica is, or when the consumer gave none.
  assert.equal(pick('a'), 1);
  assert.equal(pick('z'), 1);
  assert.equal(pick(''), 1);
  // Ties on data go to the one caught up most recently.
  const tied = [leader, view(2, 'b', 100, 500), view(3, 'b', 100, 20)];
  assert.equal(selectReadReplica(RACK_AWARE_REPLICA_SELECTOR, 'b', leader, tied).nodeId, 3);
});

test('selectReadReplica: the leader selector and the unset key always name the leader', () => {
  const replicas = [leader, view(2, 'b', 100, 0)];
  for (const selector of [LEADER_SELECTOR, ''] as const) {
    assert.equal(selectReadReplica(selector, 'b', leader, replicas).nodeId, 1);
  }
});
