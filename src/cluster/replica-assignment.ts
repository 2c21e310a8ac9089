/**
 * Checks on a replica assignment given by a client (CreateTopics and CreatePartitions `assignments`), with the
 * errors and messages of Kafka's controller (ReplicationControlManager.validateManualPartitionAssignment).
 */

/** Why a partition's replica list is refused (INVALID_REPLICA_ASSIGNMENT), or null when it is valid. */
export function partitionAssignmentError(
  replicas: readonly number[],
  liveBrokers: ReadonlySet<number>,
  replicationFactor: number | null,
): string | null {
  if (replicas.length === 0) return 'The manual partition assignment includes an empty replica list.';
  const sorted = [...replicas].sort((a, b) => a - b);
  let previous: number | null = null;
  for (const brokerId of sorted) {
    if (!liveBrokers.has(brokerId)) {
      return `The manual partition assignment includes broker ${brokerId}, but no such broker is registered.`;
    }
    if (brokerId === previous) {
      return `The manual partition assignment includes the broker ${brokerId} more than once.`;
    }
    previous = brokerId;
  }
  if (replicationFactor !== null && replicas.length !== replicationFactor) {
    return `The manual partition assignment includes a partition with ${replicas.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`;
  }
  return null;
}

/** A CreateTopics assignment, read: the replicas of partitions 0..n-1 in order, or why it is refused. */
export type TopicAssignment = { replicas: number[][] } | { error: string };

/**
 * The replicas of each partition of a new topic from the request's assignments, checked in Kafka's order: no
 * partition given twice, each replica list valid and of the same length as the first, then the partition
 * indexes are 0..n-1.
 */
export function readTopicAssignment(
  assignments: ReadonlyArray<{ partitionIndex: number; brokerIds: readonly number[] }>,
  liveBrokers: ReadonlySet<number>,
): TopicAssignment {
  const byPartition = new Map<number, number[]>();
  let replicationFactor: number | null = null;
  for (const { partitionIndex, brokerIds } of assignments) {
    if (byPartition.has(partitionIndex)) {
      return { error: `Found multiple manual partition assignments for partition ${partitionIndex}` };
    }
    const error = partitionAssignmentError(brokerIds, liveBrokers, replicationFactor);
    if (error) return { error };
    replicationFactor = brokerIds.length;
    byPartition.set(partitionIndex, [...brokerIds]);
  }
  const replicas: number[][] = [];
  for (let partition = 0; partition < byPartition.size; partition++) {
    const assigned = byPartition.get(partition);
    if (!assigned) return { error: 'partitions should be a consecutive 0-based integer sequence' };
    replicas.push(assigned);
  }
  return { replicas };
}
