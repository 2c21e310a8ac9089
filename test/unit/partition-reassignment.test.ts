import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cancelReassignment,
  completeReassignment,
  startReassignment,
} from '../../src/cluster/partition-reassignment.js';
import type { PartitionAssignment } from '../../src/cluster/topic-metadata.js';

const live = () => true;
const p = (fields: Partial<PartitionAssignment>): PartitionAssignment => ({
  partition: 0,
  leader: 1,
  leaderEpoch: 0,
  replicas: [1, 2],
  isr: [1, 2],
  ...fields,
});

test('a move records the target then the removed replicas, with adding and removing, until the ISR holds the target', () => {
  const moving = startReassignment(p({}), [2, 3], live);
  assert.deepEqual(moving, p({ replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1] }));
  assert.equal(completeReassignment(moving, live), null);
  assert.deepEqual(
    completeReassignment({ ...moving, isr: [1, 2, 3] }, live),
    p({ leader: 2, leaderEpoch: 1, replicas: [2, 3], isr: [2, 3] }),
  );
});

test('a move to replicas already in the ISR completes at once; a leader kept in the target keeps its epoch', () => {
  assert.deepEqual(
    startReassignment(p({ replicas: [1, 2, 3], isr: [1, 2, 3] }), [1, 3], live),
    p({ replicas: [1, 3], isr: [1, 3] }),
  );
  assert.deepEqual(startReassignment(p({}), [2, 1], live), p({ replicas: [2, 1] }));
});

test('a new target replaces the move in progress, counted from the replicas before it; cancelling reverts to them, in the order of the move (as KRaft)', () => {
  const moving = startReassignment(p({}), [2, 3], live);
  const replaced = startReassignment({ ...moving, isr: [1, 2, 3] }, [1, 4], live);
  assert.deepEqual(replaced, p({ replicas: [1, 4, 2], isr: [1, 2], addingReplicas: [4], removingReplicas: [2] }));
  assert.deepEqual(cancelReassignment({ ...moving, isr: [1, 2, 3] }, live), p({ replicas: [2, 1] }));
  assert.equal(cancelReassignment(p({}), live), null);
});
