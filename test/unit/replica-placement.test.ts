import assert from 'node:assert/strict';
import { test } from 'node:test';
import { placeReplicas, rackAlternatedBrokers, replicationFactorError } from '../../src/cluster/replica-placement.js';

const brokers = (ids: number[], racks?: Record<number, string>) =>
  ids.map((nodeId) => ({ nodeId, rack: racks?.[nodeId] ?? null }));

test("placement without racks is Kafka's: the table of AdminUtils' comment, start 0 and shift 0", () => {
  // broker-0..4; p0-p4 then p5-p9 as first replicas, the followers shifted one more after each round.
  const placed = placeReplicas(brokers([0, 1, 2, 3, 4]), 10, 3, { startIndex: 0, replicaShift: 0 });
  assert.deepEqual(placed, [
    [0, 1, 2],
    [1, 2, 3],
    [2, 3, 4],
    [3, 4, 0],
    [4, 0, 1],
    [0, 2, 3],
    [1, 3, 4],
    [2, 4, 0],
    [3, 0, 1],
    [4, 1, 2],
  ]);
});

test('leaders go round-robin from a random start: six partitions on three brokers lead two on each', () => {
  for (let start = 0; start < 3; start++) {
    const placed = placeReplicas(brokers([3, 1, 2]), 6, 1, { random: () => start });
    const leaders = placed.map((r) => r[0]!);
    assert.deepEqual(
      [1, 2, 3].map((id) => leaders.filter((l) => l === id).length),
      [2, 2, 2],
    );
    assert.equal(leaders[0], [1, 2, 3][start], 'the start is where the round begins');
  }
});

test('CreatePartitions continues the round: partitions after the first ones, from a given start', () => {
  const placed = placeReplicas(brokers([1, 2, 3]), 3, 1, { firstPartition: 3, startIndex: 1, replicaShift: 1 });
  assert.deepEqual(placed, [[2], [3], [1]]);
});

test("racks: brokers are arranged rack by rack in turn, as Kafka's getRackAlternatedBrokerList", () => {
  const arranged = rackAlternatedBrokers(
    brokers([0, 1, 2, 3, 4, 5], { 0: 'rack1', 1: 'rack3', 2: 'rack3', 3: 'rack2', 4: 'rack2', 5: 'rack1' }),
  );
  assert.deepEqual(
    arranged.map((b) => b.nodeId),
    [0, 3, 1, 5, 4, 2],
  );
});

test('racks: every partition of replication factor 3 spans the three racks; leaders spread over them', () => {
  const racks = { 1: 'a', 2: 'a', 3: 'b', 4: 'b', 5: 'c', 6: 'c' };
  for (let seed = 0; seed < 6; seed++) {
    const placed = placeReplicas(brokers([1, 2, 3, 4, 5, 6], racks), 12, 3, { random: () => seed });
    for (const replicas of placed) {
      assert.equal(new Set(replicas).size, 3, `no broker twice: ${replicas}`);
      assert.equal(new Set(replicas.map((r) => racks[r as keyof typeof racks])).size, 3, `three racks: ${replicas}`);
    }
    const leaderRacks = placed.map((r) => racks[r[0] as keyof typeof racks]);
    assert.deepEqual(
      ['a', 'b', 'c'].map((rack) => leaderRacks.filter((r) => r === rack).length),
      [4, 4, 4],
    );
  }
});

test("replication factor: up to the live brokers, more is refused with Kafka's message", () => {
  assert.match(replicationFactorError(4, 3)!, /only 3 broker\(s\) are registered/);
  assert.equal(replicationFactorError(3, 3), null);
  assert.equal(replicationFactorError(2, 3), null);
  assert.equal(replicationFactorError(1, 3), null);
});
