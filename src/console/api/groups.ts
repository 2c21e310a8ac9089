import type { GroupCoordinator } from '../../coordinator/group/group-coordinator.js';
import { ErrorCode } from '../../protocol/errors.js';
import { decodeConsumerProtocolAssignment } from '../../protocol/generated/messages/consumer-protocol-assignment.js';
import { Reader } from '../../protocol/primitives/index.js';
import type { ApiRoute } from '../api-route.js';
import { ApiError, checkChange, fields, intParam, ok } from '../api-route.js';
import type { ConsoleBackend } from '../console-backend.js';

/** Group states in which Kafka's tools may reset offsets: no member could commit over them. */
const INACTIVE_STATES = new Set(['Empty', 'Dead']);

interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  assignment: Array<{ topic: string; partitions: number[] }>;
}

/** A classic member's assignment, in the consumer protocol's encoding; empty when it is not one (Connect, ...). */
function consumerAssignment(bytes: Buffer): Array<{ topic: string; partitions: number[] }> {
  if (bytes.length < 2) return [];
  try {
    const r = new Reader(bytes);
    const version = r.readInt16();
    return decodeConsumerProtocolAssignment(r, Math.min(version, 3)).assignedPartitions.map((a) => ({
      topic: a.topic,
      partitions: a.partitions,
    }));
  } catch {
    return [];
  }
}

/** A group's members, whether classic or KIP-848; null when the group is unknown. */
async function describe(
  groups: GroupCoordinator,
  groupId: string,
): Promise<{ state: string; type: 'classic' | 'consumer'; protocol: string; members: GroupMember[] } | null> {
  const consumer = groups.consumerGroupDescribe(groupId);
  if ('members' in consumer && consumer.errorCode === ErrorCode.NONE)
    return {
      state: consumer.state,
      type: 'consumer',
      protocol: consumer.assignorName,
      members: consumer.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        assignment: m.assignment.topicPartitions.map((t) => ({ topic: t.topicName, partitions: t.partitions })),
      })),
    };
  const classic = await groups.describeGroup(groupId);
  if (classic.errorCode !== ErrorCode.NONE)
    throw new ApiError(503, 'COORDINATOR_NOT_AVAILABLE', `The coordinator of group '${groupId}' is not available`);
  if (classic.state === 'Dead') return null;
  return {
    state: classic.state,
    type: 'classic',
    protocol: classic.protocolName,
    members: classic.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: consumerAssignment(m.assignment),
    })),
  };
}

/**
 * The committed offsets of a group with the lag of each partition, as kafka-consumer-groups.sh --describe
 * computes it: the high watermark less the committed offset.
 */
function offsetsOf(backend: ConsoleBackend, groupId: string) {
  const committed = backend.groups.fetchOffsets(groupId, null);
  return committed.topics
    .flatMap((t) =>
      t.partitions.map((p) => {
        const offset = p.offset === null ? -1 : Number(p.offset.offset);
        const highWatermark = backend.logs.getLog(t.name, p.partition)?.highWatermark ?? -1;
        return {
          topic: t.name,
          partition: p.partition,
          committedOffset: offset,
          highWatermark,
          lag: offset >= 0 && highWatermark >= 0 ? Math.max(0, highWatermark - offset) : null,
        };
      }),
    )
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

export const listGroupsRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/groups$/,
  changes: false,
  async handle(backend) {
    const listed = await backend.groups.listGroups();
    const groups = listed
      .map((g) => {
        const offsets = offsetsOf(backend, g.groupId);
        return {
          groupId: g.groupId,
          type: g.type,
          state: g.state,
          protocolType: g.protocolType,
          lag: offsets.reduce((sum, o) => sum + (o.lag ?? 0), 0),
        };
      })
      .sort((a, b) => a.groupId.localeCompare(b.groupId));
    return ok({ groups });
  },
};

export const describeGroupRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/groups\/([^/]+)$/,
  changes: false,
  async handle(backend, { params }) {
    const groupId = params[0]!;
    const group = await describe(backend.groups, groupId);
    if (!group) throw new ApiError(404, 'GROUP_ID_NOT_FOUND', `Group '${groupId}' does not exist`);
    const offsets = offsetsOf(backend, groupId).map((o) => ({
      ...o,
      memberId:
        group.members.find((m) => m.assignment.some((a) => a.topic === o.topic && a.partitions.includes(o.partition)))
          ?.memberId ?? null,
    }));
    return ok({ groupId, ...group, offsets });
  },
};

/**
 * Resets a group's committed offsets, as kafka-consumer-groups.sh --reset-offsets --execute: `{ topic?, to:
 * 'earliest' | 'latest' | 'offset', offset? }`, for every partition of the topic, or of every topic the group
 * has offsets for. Only for a group without members (Kafka's tool refuses an active one with the same words);
 * an offset outside a partition's log is moved to its nearer end, as the tool does.
 */
export const resetGroupOffsetsRoute: ApiRoute = {
  method: 'POST',
  path: /^\/api\/groups\/([^/]+)\/offsets$/,
  changes: true,
  async handle(backend, { params, body }) {
    const groupId = params[0]!;
    const f = fields(body);
    const to = f.to;
    if (to !== 'earliest' && to !== 'latest' && to !== 'offset')
      throw new ApiError(400, 'INVALID_REQUEST', "to must be 'earliest', 'latest' or 'offset'");
    const target = to === 'offset' ? intParam(f.offset, 'offset', undefined, 0) : 0;
    const group = await describe(backend.groups, groupId);
    if (group && !INACTIVE_STATES.has(group.state))
      throw new ApiError(
        409,
        'NON_EMPTY_GROUP',
        `Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${group.state}.`,
      );
    let topics: string[];
    if (f.topic !== undefined && f.topic !== null) {
      if (typeof f.topic !== 'string') throw new ApiError(400, 'INVALID_REQUEST', 'topic must be a string');
      topics = [f.topic];
    } else {
      topics = [...new Set(offsetsOf(backend, groupId).map((o) => o.topic))];
      if (topics.length === 0)
        throw new ApiError(400, 'INVALID_REQUEST', `Group '${groupId}' has no offsets: name a topic`);
    }
    const partitions = topics.flatMap((name) => {
      const topic = backend.topics.get(name);
      if (!topic) throw new ApiError(404, 'UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`);
      return topic.partitions.map((p) => {
        const log = backend.logs.getLog(name, p.partition);
        if (!log)
          throw new ApiError(503, 'NOT_LEADER_OR_FOLLOWER', `Partition ${name}-${p.partition} is not hosted here`);
        const offset =
          to === 'earliest'
            ? log.logStartOffset
            : to === 'latest'
              ? log.highWatermark
              : Math.min(Math.max(target, log.logStartOffset), log.highWatermark);
        return { topic: name, partition: p.partition, offset: BigInt(offset), leaderEpoch: -1, metadata: '' };
      });
    });
    // A simple commit (no generation, no member), as the admin client's AlterConsumerGroupOffsets sends it.
    const result = await backend.groups.commitOffsets(groupId, -1, '', null, partitions, 8);
    if ('errorCode' in result) checkChange({ errorCode: result.errorCode, errorMessage: null });
    else {
      const failed = result.partitionErrors.find((e) => e !== ErrorCode.NONE);
      if (failed !== undefined) checkChange({ errorCode: failed, errorMessage: null });
    }
    return ok({
      groupId,
      offsets: partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: Number(p.offset) })),
    });
  },
};
