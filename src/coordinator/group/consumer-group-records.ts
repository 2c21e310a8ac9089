/**
 * A KIP-848 consumer group as records of `__consumer_offsets` (offsets-records.ts has the formats): the records
 * of each change, its tombstones, and the groups rebuilt from a partition's records at start-up.
 */
import type { ConsumerGroupMemberMetadataValue } from '../../protocol/generated/internal/consumer-group-member-metadata-value.js';
import type { TopicPartitions } from './assignors.js';
import {
  ConsumerGroup,
  ConsumerGroupMember,
  MemberState,
  partitionList,
  partitionsFromList,
  type SubscribedTopic,
} from './consumer-group.js';
import { type ConsumerGroupRecord, consumerGroupRecord } from './offsets-records.js';

export type ConsumerGroupRecordBytes = { key: Buffer; value: Buffer | null };

function rec(record: ConsumerGroupRecord): ConsumerGroupRecordBytes {
  return consumerGroupRecord(record);
}

export function groupEpochRecord(group: ConsumerGroup): ConsumerGroupRecordBytes {
  return rec({ type: 'consumer-group', group: group.groupId, value: { epoch: group.groupEpoch } });
}

export function targetEpochRecord(group: ConsumerGroup): ConsumerGroupRecordBytes {
  return rec({
    type: 'consumer-target-epoch',
    group: group.groupId,
    value: { assignmentEpoch: group.assignmentEpoch },
  });
}

/** Tombstones of a member's current assignment, target assignment and subscription, in Kafka's order. */
export function memberTombstones(groupId: string, memberId: string): ConsumerGroupRecordBytes[] {
  return (['consumer-current-assignment', 'consumer-target-member', 'consumer-member'] as const).map((type) =>
    rec({ type, group: groupId, memberId, value: null }),
  );
}

/** Tombstones for everything of a group but its offsets, in Kafka's order. */
export function groupTombstones(group: ConsumerGroup): ConsumerGroupRecordBytes[] {
  const g = group.groupId;
  const out: ConsumerGroupRecordBytes[] = [];
  for (const memberId of group.members.keys())
    out.push(rec({ type: 'consumer-current-assignment', group: g, memberId, value: null }));
  for (const memberId of new Set([...group.members.keys(), ...group.targetAssignment.keys()]))
    out.push(rec({ type: 'consumer-target-member', group: g, memberId, value: null }));
  out.push(rec({ type: 'consumer-target-epoch', group: g, value: null }));
  for (const memberId of group.members.keys())
    out.push(rec({ type: 'consumer-member', group: g, memberId, value: null }));
  out.push(rec({ type: 'consumer-partition-metadata', group: g, value: null }));
  out.push(rec({ type: 'consumer-group', group: g, value: null }));
  return out;
}

export function memberRecord(groupId: string, m: ConsumerGroupMember): ConsumerGroupRecordBytes {
  const value: ConsumerGroupMemberMetadataValue = {
    instanceId: m.instanceId,
    rackId: m.rackId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    subscribedTopicNames: m.subscribedTopicNames,
    subscribedTopicRegex: m.subscribedTopicRegex,
    rebalanceTimeoutMs: m.rebalanceTimeoutMs,
    serverAssignor: m.serverAssignor,
    classicMemberMetadata: null,
  };
  return rec({ type: 'consumer-member', group: groupId, memberId: m.memberId, value });
}

export function partitionMetadataRecord(group: ConsumerGroup): ConsumerGroupRecordBytes {
  return rec({
    type: 'consumer-partition-metadata',
    group: group.groupId,
    value: {
      topics: [...group.subscriptionMetadata].map(([topicName, t]) => ({
        topicId: t.topicId,
        topicName,
        numPartitions: t.numPartitions,
        partitionMetadata: [],
      })),
    },
  });
}

export function targetMemberRecord(
  groupId: string,
  memberId: string,
  target: TopicPartitions,
): ConsumerGroupRecordBytes {
  return rec({
    type: 'consumer-target-member',
    group: groupId,
    memberId,
    value: { topicPartitions: partitionList(target) },
  });
}

export function currentAssignmentRecord(groupId: string, m: ConsumerGroupMember): ConsumerGroupRecordBytes {
  return rec({
    type: 'consumer-current-assignment',
    group: groupId,
    memberId: m.memberId,
    value: {
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: m.state,
      assignedPartitions: partitionList(m.assignedPartitions),
      partitionsPendingRevocation: partitionList(m.partitionsPendingRevocation),
    },
  });
}

/**
 * Rebuilds the consumer groups of one partition of `__consumer_offsets` from its records, in log order (the
 * last record of each key wins, tombstones delete), with their epochs, subscriptions and assignments.
 */
export function rebuildConsumerGroups(records: ConsumerGroupRecord[], nowMs: number): ConsumerGroup[] {
  interface Parts {
    epoch: number | null;
    assignmentEpoch: number;
    metadata: Map<string, SubscribedTopic>;
    members: Map<string, ConsumerGroupMemberMetadataValue>;
    targets: Map<string, TopicPartitions>;
    current: Map<string, Extract<ConsumerGroupRecord, { type: 'consumer-current-assignment' }>['value']>;
  }
  const parts = new Map<string, Parts>();
  for (const r of records) {
    let p = parts.get(r.group);
    if (!p) {
      p = {
        epoch: null,
        assignmentEpoch: 0,
        metadata: new Map(),
        members: new Map(),
        targets: new Map(),
        current: new Map(),
      };
      parts.set(r.group, p);
    }
    switch (r.type) {
      case 'consumer-group':
        p.epoch = r.value?.epoch ?? null;
        break;
      case 'consumer-partition-metadata':
        p.metadata = new Map(
          (r.value?.topics ?? []).map((t) => [t.topicName, { topicId: t.topicId, numPartitions: t.numPartitions }]),
        );
        break;
      case 'consumer-member':
        if (r.value) p.members.set(r.memberId, r.value);
        else p.members.delete(r.memberId);
        break;
      case 'consumer-target-epoch':
        p.assignmentEpoch = r.value?.assignmentEpoch ?? 0;
        break;
      case 'consumer-target-member':
        if (r.value) p.targets.set(r.memberId, partitionsFromList(r.value.topicPartitions));
        else p.targets.delete(r.memberId);
        break;
      case 'consumer-current-assignment':
        if (r.value) p.current.set(r.memberId, r.value);
        else p.current.delete(r.memberId);
        break;
    }
  }
  const loaded: ConsumerGroup[] = [];
  for (const [groupId, p] of parts) {
    if (p.epoch === null) continue;
    const group = new ConsumerGroup(groupId, nowMs);
    group.groupEpoch = p.epoch;
    group.assignmentEpoch = p.assignmentEpoch;
    group.subscriptionMetadata = p.metadata;
    for (const [memberId, target] of p.targets) group.targetAssignment.set(memberId, target);
    for (const [memberId, v] of p.members) {
      const m = new ConsumerGroupMember(memberId);
      Object.assign(m, {
        instanceId: v.instanceId,
        rackId: v.rackId,
        clientId: v.clientId,
        clientHost: v.clientHost,
        subscribedTopicNames: v.subscribedTopicNames,
        subscribedTopicRegex: v.subscribedTopicRegex,
        rebalanceTimeoutMs: v.rebalanceTimeoutMs,
        serverAssignor: v.serverAssignor,
      });
      const c = p.current.get(memberId);
      if (c) {
        m.memberEpoch = c.memberEpoch;
        m.previousMemberEpoch = c.previousMemberEpoch;
        m.state =
          c.state === MemberState.UNREVOKED_PARTITIONS || c.state === MemberState.UNRELEASED_PARTITIONS
            ? c.state
            : MemberState.STABLE;
        m.assignedPartitions = partitionsFromList(c.assignedPartitions);
        m.partitionsPendingRevocation = partitionsFromList(c.partitionsPendingRevocation);
      }
      group.addMember(m, nowMs);
    }
    loaded.push(group);
  }
  return loaded;
}
