import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterBrokerChange, preferredElection, uncleanElection } from '../../src/cluster/partition-leader-election.js';
import type { PartitionAssignment } from '../../src/cluster/topic-metadata.js';

const partition = (leader: number, replicas: number[], isr: number[], leaderEpoch = 4): PartitionAssignment => ({
  partition: 0,
  leader,
  leaderEpoch,
  replicas,
  isr,
});
const liveOnly =
  (...ids: number[]) =>
  (id: number) =>
    ids.includes(id);

test('a dead leader: the first live ISR member in assignment order leads at epoch + 1, the dead leave the ISR', () => {
  const change = afterBrokerChange(partition(1, [1, 2, 3], [3, 2, 1]), {
    isLive: liveOnly(2, 3),
    uncleanLeaderElectionEnable: false,
  });
  assert.deepEqual(change, { next: partition(2, [1, 2, 3], [3, 2], 5), unclean: false });
});

test('a dead follower leaves the ISR, the leader and its epoch stay; nothing dead, nothing changes', () => {
  const rules = { isLive: liveOnly(1, 2), uncleanLeaderElectionEnable: false };
  assert.deepEqual(afterBrokerChange(partition(1, [1, 2, 3], [1, 2, 3]), rules)?.next, partition(1, [1, 2, 3], [1, 2]));
  assert.equal(afterBrokerChange(partition(1, [1, 2, 3], [1, 2]), rules), null);
});

test('no live ISR member: offline (-1), the last member kept in the ISR; it leads again when it returns', () => {
  const offline = afterBrokerChange(partition(3, [1, 2, 3], [3]), {
    isLive: liveOnly(1, 2),
    uncleanLeaderElectionEnable: false,
  });
  assert.deepEqual(offline?.next, partition(-1, [1, 2, 3], [3], 5));
  assert.equal(afterBrokerChange(offline!.next, { isLive: liveOnly(1, 2), uncleanLeaderElectionEnable: false }), null);
  assert.deepEqual(
    afterBrokerChange(offline!.next, { isLive: liveOnly(1, 2, 3), uncleanLeaderElectionEnable: false })?.next,
    partition(3, [1, 2, 3], [3], 6),
  );
  // Unclean: the first live replica leads, alone in the ISR.
  assert.deepEqual(afterBrokerChange(offline!.next, { isLive: liveOnly(2), uncleanLeaderElectionEnable: true }), {
    next: partition(2, [1, 2, 3], [2], 6),
    unclean: true,
  });
});

test('every ISR member dead at once: the old leader is the one kept', () => {
  const change = afterBrokerChange(partition(2, [1, 2, 3], [1, 2]), {
    isLive: liveOnly(3),
    uncleanLeaderElectionEnable: false,
  });
  assert.deepEqual(change?.next.isr, [2]);
  assert.equal(change?.next.leader, -1);
});

test("preferred and unclean elections answer Kafka's errors", () => {
  const live = liveOnly(1, 2, 3);
  assert.deepEqual(preferredElection(partition(1, [1, 2], [1, 2]), live), { error: 'ELECTION_NOT_NEEDED' });
  assert.deepEqual(preferredElection(partition(2, [1, 2], [2]), live), { error: 'PREFERRED_LEADER_NOT_AVAILABLE' });
  assert.deepEqual(preferredElection(partition(2, [1, 2], [1, 2]), liveOnly(2)), {
    error: 'PREFERRED_LEADER_NOT_AVAILABLE',
  });
  assert.deepEqual(preferredElection(partition(2, [1, 2], [2, 1]), live), {
    elected: partition(1, [1, 2], [2, 1], 5),
    unclean: false,
  });
  assert.deepEqual(uncleanElection(partition(2, [1, 2], [2]), live), { error: 'ELECTION_NOT_NEEDED' });
  assert.deepEqual(uncleanElection(partition(-1, [1, 2], [2]), liveOnly(3)), {
    error: 'ELIGIBLE_LEADERS_NOT_AVAILABLE',
  });
  assert.deepEqual(uncleanElection(partition(-1, [1, 2], [2]), liveOnly(1)), {
    elected: partition(1, [1, 2], [1], 5),
    unclean: true,
  });
});
