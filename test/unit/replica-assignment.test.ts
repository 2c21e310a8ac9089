import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partitionAssignmentError, readTopicAssignment } from '../../src/cluster/replica-assignment.js';

const brokers = new Set([1, 2, 3]);

test('a replica list is valid when it names distinct live brokers, as many as the other partitions have', () => {
  assert.equal(partitionAssignmentError([2, 1], brokers, null), null);
  assert.equal(partitionAssignmentError([3, 1], brokers, 2), null);
  assert.equal(
    partitionAssignmentError([], brokers, null),
    'The manual partition assignment includes an empty replica list.',
  );
  assert.equal(
    partitionAssignmentError([1, 9], brokers, null),
    'The manual partition assignment includes broker 9, but no such broker is registered.',
  );
  assert.equal(
    partitionAssignmentError([2, 1, 2], brokers, null),
    'The manual partition assignment includes the broker 2 more than once.',
  );
  assert.equal(
    partitionAssignmentError([1, 2, 3], brokers, 2),
    'The manual partition assignment includes a partition with 3 replica(s), but this is not consistent with previous partitions, which have 2 replica(s).',
  );
});

test("a topic's assignment gives partitions 0..n-1 in order, whatever order the request lists them in", () => {
  assert.deepEqual(
    readTopicAssignment(
      [
        { partitionIndex: 1, brokerIds: [2, 3] },
        { partitionIndex: 0, brokerIds: [1, 2] },
      ],
      brokers,
    ),
    {
      replicas: [
        [1, 2],
        [2, 3],
      ],
    },
  );
  assert.deepEqual(
    readTopicAssignment(
      [
        { partitionIndex: 0, brokerIds: [1] },
        { partitionIndex: 2, brokerIds: [2] },
      ],
      brokers,
    ),
    { error: 'partitions should be a consecutive 0-based integer sequence' },
  );
  assert.deepEqual(
    readTopicAssignment(
      [
        { partitionIndex: 0, brokerIds: [1] },
        { partitionIndex: 0, brokerIds: [2] },
      ],
      brokers,
    ),
    { error: 'Found multiple manual partition assignments for partition 0' },
  );
  assert.deepEqual(
    readTopicAssignment(
      [
        { partitionIndex: 0, brokerIds: [1] },
        { partitionIndex: 1, brokerIds: [2, 3] },
      ],
      brokers,
    ),
    {
      error:
        'The manual partition assignment includes a partition with 2 replica(s), but this is not consistent with previous partitions, which have 1 replica(s).',
    },
  );
});
