import { randomBytes } from 'node:crypto';
import { isInternalTopic } from '../../cluster/topic-name.js';
import type { Logger } from '../../observability/logger.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { ConsumerGroupDescribeResponseMember } from '../../protocol/generated/messages/consumer-group-describe-response.js';
import { DEFAULT_SERVER_ASSIGNOR, SERVER_ASSIGNORS, type TopicPartitions } from './assignors.js';
import type { ClassicGroup } from './classic-group.js';
import {
  ConsumerGroup,
  ConsumerGroupMember,
  type ConsumerGroupState,
  copyPartitions,
  isSubset,
  JOIN_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  MemberState,
  partitionList,
  partitionsFromList,
  reconcile,
  type SubscribedTopic,
  samePartitions,
} from './consumer-group.js';
import {
  type ConsumerGroupRecordBytes,
  currentAssignmentRecord,
  groupEpochRecord,
  memberRecord,
  memberTombstones,
  partitionMetadataRecord,
  targetEpochRecord,
  targetMemberRecord,
} from './consumer-group-records.js';
import { groupMetadataKey } from './offsets-records.js';

/** The topics of the cluster as consumer groups need them: ids and partition counts. */
export interface TopicsView {
  byName(name: string): { id: string; numPartitions: number } | undefined;
  byId(id: string): { name: string; numPartitions: number } | undefined;
  names(): Iterable<string>;
}

/** What the consumer group coordinator uses of the group coordinator it belongs to. */
export interface ConsumerGroupHost {
  settings: {
    consumerHeartbeatIntervalMs: number;
    consumerSessionTimeoutMs: number;
    consumerMaxSize: number;
  };
  topics: TopicsView;
  logger: Logger;
  now(): number;
  /**
   * Runs `op` on the group's partition queue: it decides on the committed state and returns records and an
   * answer; the records are appended and, once committed, replayed (the replay a load does), and only then is
   * the answer returned. A failed append reloads the partition from its log and throws an error with the
   * code the client gets; what `op` throws is thrown as it is.
   */
  write<T>(groupId: string, name: string, op: () => { records: ConsumerGroupRecordBytes[]; response: T }): Promise<T>;
  /** The committed consumer group of that id (as its records make it; not to be changed), if any. */
  group(groupId: string): ConsumerGroup | undefined;
  /** A fresh copy of the committed group, for an operation to change as it decides. */
  copyOfGroup(groupId: string): ConsumerGroup | undefined;
  /** The committed consumer groups of every partition served here. */
  allGroups(): Iterable<ConsumerGroup>;
  /** The classic group of that id, if any: the two kinds share one namespace. */
  classicGroup(groupId: string): ClassicGroup | undefined;
  /** Forgets an (empty) classic group replaced by a consumer group; its offsets move over. */
  dropClassicGroup(groupId: string): void;
  /**
   * Runs `onFire` after `delayMs` as a write operation on the group's partition queue (its records are
   * written, then replayed), replacing the group's timer of that name; it goes with the partition when it
   * unloads.
   */
  scheduleTimer(groupId: string, name: string, delayMs: number, onFire: () => ConsumerGroupRecordBytes[]): void;
  cancelTimer(groupId: string, name: string): void;
}

export interface ConsumerHeartbeatRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  /** ConsumerGroupHeartbeat v1+ (Kafka 4.0); null from v0. */
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  ownedPartitions: Array<{ topicId: string; partitions: number[] }> | null;
  clientId: string;
  clientHost: string;
}

export interface ConsumerHeartbeatOutcome {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: Array<{ topicId: string; partitions: number[] }> | null;
}

export interface ConsumerGroupDescription {
  errorCode: number;
  groupId: string;
  state: ConsumerGroupState;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  /** As ConsumerGroupDescribe answers them. */
  members: ConsumerGroupDescribeResponseMember[];
}

/** A heartbeat's answer when it failed: the error and nothing else. */
export function heartbeatFailure(errorCode: number, errorMessage: string | null): ConsumerHeartbeatOutcome {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

class HeartbeatError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown by a host whose append failed; carries the code the client gets. */
export interface WriteFailure {
  errorCode: number;
}

function isWriteFailure(e: unknown): e is WriteFailure {
  return typeof e === 'object' && e !== null && 'errorCode' in e && !(e instanceof HeartbeatError);
}

/** A member id as Kafka makes them: a random UUID in its base64 form. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

function sameTopicNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((t) => set.has(t));
}

/**
 * The coordinator of KIP-848 consumer groups: ConsumerGroupHeartbeat (join, heartbeat, leave), member and
 * group epochs, target assignments from the server-side assignors, per-member reconciliation, session and
 * rebalance timeouts, and the records that let a restart bring every group back. Offsets, loading and the log
 * itself are the group coordinator's; it hands this class the consumer group records of each partition it
 * loads and the writes it asks for.
 *
 * A heartbeat, a leave and a member removal by timer are write operations on the group's partition queue:
 * each decides on a copy of the committed group and returns records and an answer; the records change the
 * group only when, once committed, they are replayed (the same rebuild a load does), and the answer is sent
 * then. A failed append reloads the partition: the groups are what its log holds. In memory beyond the
 * records: only the members' session deadlines and the timers, as in Kafka.
 */
export class ConsumerGroupCoordinator {
  /** The committed consumer groups, read through the partitions' state. */
  readonly groups = {
    get: (groupId: string): ConsumerGroup | undefined => this.host.group(groupId),
    has: (groupId: string): boolean => this.host.group(groupId) !== undefined,
    values: (): Iterable<ConsumerGroup> => this.host.allGroups(),
  };
  /** group id -> member id -> when the member's session ends unless it heartbeats again. */
  private readonly sessionDeadlines = new Map<string, Map<string, number>>();
  private readonly regexes = new Map<string, RegExp>();
  private stopped = false;

  constructor(private readonly host: ConsumerGroupHost) {}

  stop(): void {
    // The timers go with the partitions; those that still fire find the coordinator stopped.
    this.stopped = true;
    this.sessionDeadlines.clear();
  }

  // ---- ConsumerGroupHeartbeat ----

  async heartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatOutcome> {
    try {
      this.validate(req);
      if (req.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH)
        return await this.host.write(req.groupId, 'consumer group leave', () => this.leave(req));
      const outcome = await this.host.write(req.groupId, 'consumer group heartbeat', () => this.join(req));
      // An empty classic group gave way: its tombstone is committed with the new group.
      if (this.host.classicGroup(req.groupId) && this.host.group(req.groupId)) this.host.dropClassicGroup(req.groupId);
      return outcome;
    } catch (e) {
      if (e instanceof HeartbeatError) return heartbeatFailure(e.errorCode, e.message);
      if (isWriteFailure(e)) return heartbeatFailure(e.errorCode, null);
      throw e;
    }
  }

  /** Kafka's checks of a heartbeat's fields, before anything is looked up. */
  private validate(req: ConsumerHeartbeatRequest): void {
    const invalid = (message: string) => new HeartbeatError(ErrorCode.INVALID_REQUEST, message);
    if (req.groupId === '') throw invalid('GroupId can not be empty.');
    if (req.instanceId === '') throw invalid('InstanceId can not be empty.');
    if (req.rackId === '') throw invalid('RackId can not be empty.');
    if (req.memberEpoch > 0 || req.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) {
      if (req.memberId === '') throw invalid('MemberId can not be empty.');
    } else if (req.memberEpoch === JOIN_GROUP_MEMBER_EPOCH) {
      if (req.rebalanceTimeoutMs === -1) throw invalid('RebalanceTimeoutMs must be provided in first request.');
      if (req.ownedPartitions === null || req.ownedPartitions.length > 0)
        throw invalid('TopicPartitions must be empty when (re-)joining.');
      if ((req.subscribedTopicNames?.length ?? 0) === 0 && req.subscribedTopicRegex === null)
        throw invalid('SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
    } else if (req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (req.memberId === '') throw invalid('MemberId can not be empty.');
      if (req.instanceId === null) throw invalid('InstanceId can not be null.');
    } else {
      throw invalid('MemberEpoch is invalid.');
    }
    if (req.serverAssignor !== null && !SERVER_ASSIGNORS.has(req.serverAssignor))
      throw new HeartbeatError(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${req.serverAssignor} is not supported. Supported assignors: ${[...SERVER_ASSIGNORS.keys()].join(', ')}.`,
      );
    if (req.subscribedTopicRegex !== null) this.compile(req.subscribedTopicRegex);
  }

  /** Kafka uses RE2/J; JavaScript's RegExp is close for the patterns topic names need. Full match, as there. */
  private compile(regex: string): RegExp {
    let compiled = this.regexes.get(regex);
    if (!compiled) {
      try {
        compiled = new RegExp(`^(?:${regex})$`, 'u');
      } catch {
        throw new HeartbeatError(ErrorCode.INVALID_REGULAR_EXPRESSION, `SubscribedTopicRegex ${regex} is invalid.`);
      }
      this.regexes.set(regex, compiled);
    }
    return compiled;
  }

  /** The group a joining member may create, or the existing one; the kinds share their ids. */
  private groupFor(req: ConsumerHeartbeatRequest, records: ConsumerGroupRecordBytes[]): ConsumerGroup {
    const existing = this.host.copyOfGroup(req.groupId);
    if (existing) return existing;
    const classic = this.host.classicGroup(req.groupId);
    if (req.memberEpoch !== JOIN_GROUP_MEMBER_EPOCH && !classic)
      throw new HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${req.groupId} not found.`);
    if (classic && (!classic.isEmpty() || req.memberEpoch !== JOIN_GROUP_MEMBER_EPOCH))
      // Kafka can also move a classic group with members over to this protocol (online upgrade); Samsa cannot.
      throw new HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a consumer group.`);
    const group = new ConsumerGroup(req.groupId, this.host.now());
    if (classic) {
      // An empty classic group gives way, as in Kafka; its committed offsets stay with the id.
      records.push({ key: groupMetadataKey(req.groupId), value: null });
    }
    return group;
  }

  private join(req: ConsumerHeartbeatRequest): {
    records: ConsumerGroupRecordBytes[];
    response: ConsumerHeartbeatOutcome;
  } {
    const records: ConsumerGroupRecordBytes[] = [];
    const group = this.groupFor(req, records);
    if (
      group.members.size >= this.host.settings.consumerMaxSize &&
      (req.memberId === '' || !group.members.has(req.memberId))
    )
      throw new HeartbeatError(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${this.host.settings.consumerMaxSize} members.`,
      );
    const owned = req.ownedPartitions === null ? null : partitionsFromList(req.ownedPartitions);
    const now = this.host.now();
    const memberId = req.memberId === '' ? newMemberId() : req.memberId;
    const member = this.memberFor(group, memberId, req, owned, records);
    const before = copyPartitions(member.assignedPartitions);

    // 1. The member's subscription and metadata; a new subscription bumps the group epoch.
    const isNewMember = !group.members.has(memberId);
    const updated = {
      instanceId: req.instanceId ?? member.instanceId,
      rackId: req.rackId ?? member.rackId,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs === -1 ? member.rebalanceTimeoutMs : req.rebalanceTimeoutMs,
      serverAssignor: req.serverAssignor ?? member.serverAssignor,
      subscribedTopicNames: req.subscribedTopicNames ?? member.subscribedTopicNames,
      subscribedTopicRegex: req.subscribedTopicRegex ?? member.subscribedTopicRegex,
      clientId: req.clientId,
      clientHost: req.clientHost,
    };
    const subscriptionChanged =
      isNewMember ||
      !sameTopicNames(updated.subscribedTopicNames, member.subscribedTopicNames) ||
      updated.subscribedTopicRegex !== member.subscribedTopicRegex;
    const memberChanged =
      subscriptionChanged ||
      updated.instanceId !== member.instanceId ||
      updated.rackId !== member.rackId ||
      updated.rebalanceTimeoutMs !== member.rebalanceTimeoutMs ||
      updated.serverAssignor !== member.serverAssignor ||
      updated.clientId !== member.clientId ||
      updated.clientHost !== member.clientHost;
    Object.assign(member, updated);
    if (isNewMember) {
      group.addMember(member, now);
      this.host.logger.info('member joined', { group: group.groupId, member: memberId, protocol: 'consumer' });
    }
    if (memberChanged) records.push(memberRecord(group.groupId, member));

    // 2. Topics created, deleted or grown since the last epoch count as a subscription change too.
    this.maybeBumpGroupEpoch(group, subscriptionChanged, records);

    // 3. A new group epoch needs a new target assignment.
    if (group.groupEpoch > group.assignmentEpoch) this.computeTargetAssignment(group, records);

    // 4. One step of this member towards its target.
    this.reconcileMember(group, member, owned, records);
    this.scheduleSessionTimeout(group.groupId, member.memberId);

    // The assignment is sent on a full request (a join, or a member that lost track and resends everything),
    // and whenever it changed.
    const fullRequest =
      req.memberEpoch === JOIN_GROUP_MEMBER_EPOCH ||
      (req.rebalanceTimeoutMs !== -1 && req.subscribedTopicNames !== null && req.ownedPartitions !== null);
    const response = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.host.settings.consumerHeartbeatIntervalMs,
      assignment:
        fullRequest || !samePartitions(before, member.assignedPartitions)
          ? partitionList(member.assignedPartitions)
          : null,
    };
    return { records, response };
  }

  /** The member a heartbeat speaks for: existing (with its epoch checked), new, or a static member's successor. */
  private memberFor(
    group: ConsumerGroup,
    memberId: string,
    req: ConsumerHeartbeatRequest,
    owned: TopicPartitions | null,
    records: ConsumerGroupRecordBytes[],
  ): ConsumerGroupMember {
    const joining = req.memberEpoch === JOIN_GROUP_MEMBER_EPOCH;
    if (req.instanceId === null) {
      const member = group.members.get(memberId);
      if (!member) {
        if (!joining)
          throw new HeartbeatError(
            ErrorCode.UNKNOWN_MEMBER_ID,
            `Member ${memberId} is not a member of group ${group.groupId}.`,
          );
        return new ConsumerGroupMember(memberId);
      }
      this.checkMemberEpoch(member, req.memberEpoch, owned);
      return member;
    }
    const existing = group.staticMember(req.instanceId);
    if (!joining) {
      if (!existing) throw new HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${req.instanceId} is unknown.`);
      if (existing.memberId !== memberId)
        throw new HeartbeatError(
          ErrorCode.FENCED_INSTANCE_ID,
          `Static member ${memberId} with instance id ${req.instanceId} was fenced by member ${existing.memberId}.`,
        );
      this.checkMemberEpoch(existing, req.memberEpoch, owned);
      return existing;
    }
    if (!existing) return new ConsumerGroupMember(memberId);
    if (existing.memberId === memberId) {
      this.checkMemberEpoch(existing, req.memberEpoch, owned);
      return existing;
    }
    // A static member may only be replaced once it has announced a temporary leave (epoch -2).
    if (existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH)
      throw new HeartbeatError(
        ErrorCode.UNRELEASED_INSTANCE_ID,
        `Static member ${memberId} with instance id ${req.instanceId} cannot join the group because the instance id is owned by member ${existing.memberId}.`,
      );
    // The successor takes over its predecessor's subscription and partitions, at epoch 0.
    const successor = new ConsumerGroupMember(memberId);
    Object.assign(successor, {
      instanceId: existing.instanceId,
      rackId: existing.rackId,
      clientId: existing.clientId,
      clientHost: existing.clientHost,
      subscribedTopicNames: existing.subscribedTopicNames,
      subscribedTopicRegex: existing.subscribedTopicRegex,
      rebalanceTimeoutMs: existing.rebalanceTimeoutMs,
      serverAssignor: existing.serverAssignor,
      state: existing.state,
      assignedPartitions: copyPartitions(existing.assignedPartitions),
    });
    const target = group.targetAssignment.get(existing.memberId);
    this.removeMember(group, existing, records);
    if (target) {
      group.targetAssignment.set(memberId, target);
      records.push(targetMemberRecord(group.groupId, memberId, target));
    }
    group.addMember(successor, this.host.now());
    records.push(memberRecord(group.groupId, successor), currentAssignmentRecord(group.groupId, successor));
    this.host.logger.info('static member replaced', {
      group: group.groupId,
      instance: req.instanceId,
      member: memberId,
      previous: existing.memberId,
    });
    return successor;
  }

  /**
   * A member's epoch must be the one the coordinator gave it; the previous one is accepted if the member only
   * reports partitions it still has, as the answer carrying the new epoch may have been lost.
   */
  private checkMemberEpoch(member: ConsumerGroupMember, received: number, owned: TopicPartitions | null): void {
    if (received > member.memberEpoch)
      throw new HeartbeatError(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The member epoch ${received} is greater than the coordinator's ${member.memberEpoch}. The member must abandon all its partitions and rejoin.`,
      );
    if (
      received < member.memberEpoch &&
      (received !== member.previousMemberEpoch || !isSubset(owned, member.assignedPartitions))
    )
      throw new HeartbeatError(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The member epoch ${received} is smaller than the coordinator's ${member.memberEpoch}. The member must abandon all its partitions and rejoin.`,
      );
  }

  /** The topics the group's members subscribe to (by name or regular expression) as the cluster has them now. */
  private subscriptionMetadata(group: ConsumerGroup): Map<string, SubscribedTopic> {
    const out = new Map<string, SubscribedTopic>();
    const addTopic = (name: string) => {
      if (out.has(name)) return;
      const topic = this.host.topics.byName(name);
      if (topic) out.set(name, { topicId: topic.id, numPartitions: topic.numPartitions });
    };
    const regexes = new Set<RegExp>();
    for (const m of group.members.values()) {
      for (const name of m.subscribedTopicNames) addTopic(name);
      if (m.subscribedTopicRegex !== null) regexes.add(this.compile(m.subscribedTopicRegex));
    }
    // Internal topics never match a subscription by regular expression.
    const patterns = [...regexes];
    if (patterns.length > 0)
      for (const name of this.host.topics.names())
        if (!isInternalTopic(name) && patterns.some((r) => r.test(name))) addTopic(name);
    return out;
  }

  private maybeBumpGroupEpoch(group: ConsumerGroup, force: boolean, records: ConsumerGroupRecordBytes[]): void {
    const metadata = this.subscriptionMetadata(group);
    const same =
      metadata.size === group.subscriptionMetadata.size &&
      [...metadata].every(([name, t]) => {
        const old = group.subscriptionMetadata.get(name);
        return old !== undefined && old.topicId === t.topicId && old.numPartitions === t.numPartitions;
      });
    if (!same) {
      group.subscriptionMetadata = metadata;
      records.push(partitionMetadataRecord(group));
    }
    if (force || !same) {
      group.groupEpoch++;
      records.push(groupEpochRecord(group));
      this.host.logger.info('group epoch bumped', { group: group.groupId, epoch: group.groupEpoch });
    }
  }

  /** The topic ids a member subscribes to, among the group's subscribed topics. */
  private subscribedTopicIds(group: ConsumerGroup, member: ConsumerGroupMember): Set<string> {
    const ids = new Set<string>();
    const regex = member.subscribedTopicRegex === null ? null : this.compile(member.subscribedTopicRegex);
    for (const [name, t] of group.subscriptionMetadata)
      if (member.subscribedTopicNames.includes(name) || regex?.test(name)) ids.add(t.topicId);
    return ids;
  }

  private computeTargetAssignment(group: ConsumerGroup, records: ConsumerGroupRecordBytes[]): void {
    const assignorName = group.preferredServerAssignor() ?? DEFAULT_SERVER_ASSIGNOR;
    const assignor = SERVER_ASSIGNORS.get(assignorName)!;
    const members = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      subscribedTopicIds: this.subscribedTopicIds(group, m),
      current: group.targetAssignment.get(m.memberId) ?? new Map(),
    }));
    const topics = new Map([...group.subscriptionMetadata.values()].map((t) => [t.topicId, t.numPartitions]));
    const result = assignor.assign({ members, topics });
    for (const m of group.members.values()) {
      const next = result.get(m.memberId) ?? new Map();
      const previous = group.targetAssignment.get(m.memberId);
      if (previous && samePartitions(previous, next)) continue;
      group.targetAssignment.set(m.memberId, next);
      records.push(targetMemberRecord(group.groupId, m.memberId, next));
    }
    group.assignmentEpoch = group.groupEpoch;
    records.push(targetEpochRecord(group));
    this.host.logger.info('target assignment computed', {
      group: group.groupId,
      epoch: group.assignmentEpoch,
      assignor: assignorName,
      members: group.members.size,
    });
  }

  private reconcileMember(
    group: ConsumerGroup,
    member: ConsumerGroupMember,
    owned: TopicPartitions | null,
    records: ConsumerGroupRecordBytes[],
  ): void {
    if (member.isReconciledTo(group.assignmentEpoch)) return;
    const next = reconcile(
      member,
      group.assignmentEpoch,
      group.targetAssignment.get(member.memberId) ?? new Map(),
      owned,
      (topicId, p) => group.partitionEpoch(topicId, p),
    );
    if (!next) return;
    group.updateAssignment(member, next);
    records.push(currentAssignmentRecord(group.groupId, member));
    if (member.state === MemberState.UNREVOKED_PARTITIONS) this.scheduleRebalanceTimeout(group, member);
    else this.host.cancelTimer(group.groupId, rebalanceTimerName(member));
  }

  // ---- Leaving, fencing, timeouts ----

  private leave(req: ConsumerHeartbeatRequest): {
    records: ConsumerGroupRecordBytes[];
    response: ConsumerHeartbeatOutcome;
  } {
    const group = this.host.copyOfGroup(req.groupId);
    if (!group) throw new HeartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${req.groupId} not found.`);
    let member: ConsumerGroupMember | undefined;
    if (req.instanceId === null) {
      member = group.members.get(req.memberId);
      if (!member)
        throw new HeartbeatError(
          ErrorCode.UNKNOWN_MEMBER_ID,
          `Member ${req.memberId} is not a member of group ${group.groupId}.`,
        );
    } else {
      member = group.staticMember(req.instanceId);
      if (!member) throw new HeartbeatError(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${req.instanceId} is unknown.`);
      if (member.memberId !== req.memberId)
        throw new HeartbeatError(
          ErrorCode.FENCED_INSTANCE_ID,
          `Static member ${req.memberId} with instance id ${req.instanceId} was fenced by member ${member.memberId}.`,
        );
    }
    const records: ConsumerGroupRecordBytes[] = [];
    if (req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // A static member going away for a moment keeps its partitions (nobody else gets them) until it comes
      // back under a new member id or its session expires.
      group.updateAssignment(member, {
        memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH,
        previousMemberEpoch: member.memberEpoch,
        state: member.state,
        assignedPartitions: member.assignedPartitions,
        partitionsPendingRevocation: new Map(),
      });
      records.push(currentAssignmentRecord(group.groupId, member));
      this.host.logger.info('static member left for now', { group: group.groupId, member: member.memberId });
    } else {
      this.host.logger.info('member left', { group: group.groupId, member: member.memberId });
      this.fence(group, member, records);
    }
    const response = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
    return { records, response };
  }

  /** Removes a member with its records; the others are rebalanced by the epoch bump. */
  private fence(group: ConsumerGroup, member: ConsumerGroupMember, records: ConsumerGroupRecordBytes[]): void {
    this.removeMember(group, member, records);
    this.maybeBumpGroupEpoch(group, true, records);
  }

  private removeMember(group: ConsumerGroup, member: ConsumerGroupMember, records: ConsumerGroupRecordBytes[]): void {
    group.removeMember(member.memberId, this.host.now());
    group.targetAssignment.delete(member.memberId);
    records.push(...memberTombstones(group.groupId, member.memberId));
  }

  private scheduleSessionTimeout(groupId: string, memberId: string): void {
    const timeoutMs = this.host.settings.consumerSessionTimeoutMs;
    let deadlines = this.sessionDeadlines.get(groupId);
    if (!deadlines) {
      deadlines = new Map();
      this.sessionDeadlines.set(groupId, deadlines);
    }
    deadlines.set(memberId, this.host.now() + timeoutMs);
    this.host.scheduleTimer(groupId, `consumer-session\u0000${memberId}`, timeoutMs, () =>
      // A timer that fired while a heartbeat was extending the session finds the later deadline.
      this.expire(groupId, memberId, 'session expired', () => {
        const deadline = this.sessionDeadlines.get(groupId)?.get(memberId);
        return deadline === undefined || this.host.now() >= deadline;
      }),
    );
  }

  /** A member that does not revoke partitions within its rebalance timeout is removed, freeing them. */
  private scheduleRebalanceTimeout(group: ConsumerGroup, member: ConsumerGroupMember): void {
    const { groupId } = group;
    const { memberId, memberEpoch } = member;
    this.host.scheduleTimer(groupId, rebalanceTimerName(member), Math.max(0, member.rebalanceTimeoutMs), () =>
      this.expire(
        groupId,
        memberId,
        'did not revoke its partitions within the rebalance timeout',
        (m) => m.state === MemberState.UNREVOKED_PARTITIONS && m.memberEpoch === memberEpoch,
      ),
    );
  }

  /** A timer's operation: removes the member from the committed group if it is still due; returns the records. */
  private expire(
    groupId: string,
    memberId: string,
    reason: string,
    due: (member: ConsumerGroupMember) => boolean,
  ): ConsumerGroupRecordBytes[] {
    if (this.stopped) return [];
    const group = this.host.copyOfGroup(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member || !due(member)) return [];
    this.host.logger.info('member removed', { group: groupId, member: memberId, reason });
    const records: ConsumerGroupRecordBytes[] = [];
    this.fence(group, member, records);
    return records;
  }

  // ---- Loading ----

  /**
   * The consumer groups of a partition just loaded: members come back with their epochs and assignments (their
   * records) and must heartbeat within the session timeout, or are removed.
   */
  onLoaded(groups: Iterable<ConsumerGroup>): void {
    for (const group of groups) {
      this.sessionDeadlines.delete(group.groupId);
      for (const m of group.members.values()) {
        this.scheduleSessionTimeout(group.groupId, m.memberId);
        if (m.state === MemberState.UNREVOKED_PARTITIONS) this.scheduleRebalanceTimeout(group, m);
      }
    }
  }

  // ---- Admin ----

  describe(groupId: string): ConsumerGroupDescription | null {
    const group = this.groups.get(groupId);
    if (!group) return null;
    const named = (partitions: TopicPartitions) => ({
      topicPartitions: partitionList(partitions).map((t) => ({
        ...t,
        topicName: this.host.topics.byId(t.topicId)?.name ?? '',
      })),
    });
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: group.preferredServerAssignor() ?? DEFAULT_SERVER_ASSIGNOR,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: named(m.assignedPartitions),
        targetAssignment: named(group.targetAssignment.get(m.memberId) ?? new Map()),
      })),
    };
  }

  /**
   * OffsetCommit (and OffsetFetch, with `forFetch`) from a member of a consumer group: the member must exist
   * and give its current epoch. Without members, commits with no member epoch (tools, manual assignment) are
   * allowed. Returns Kafka's error code.
   */
  validateOffsetRequest(
    group: ConsumerGroup,
    memberId: string | null,
    memberEpoch: number,
    apiVersion: number,
    forFetch: boolean,
  ): number {
    if (forFetch ? memberId === null && memberEpoch < 0 : memberEpoch < 0 && group.members.size === 0)
      return ErrorCode.NONE;
    const member = memberId === null ? undefined : group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    // Members of this protocol commit with OffsetCommit v9+, whose generation field is the member epoch.
    if (!forFetch && apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    return memberEpoch === member.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
  }

  /** Forgets the session deadlines of the groups of a partition unloaded. */
  dropPartition(ofPartition: (groupId: string) => boolean): void {
    for (const groupId of [...this.sessionDeadlines.keys()])
      if (ofPartition(groupId)) this.sessionDeadlines.delete(groupId);
  }

  /** Forgets what memory holds of a group beyond its records (its members' timers find it gone when they fire). */
  drop(groupId: string): void {
    this.sessionDeadlines.delete(groupId);
  }
}

/** The name of a member's rebalance timer (a member that must revoke partitions within its rebalance timeout). */
function rebalanceTimerName(member: ConsumerGroupMember): string {
  return `consumer-rebalance\u0000${member.memberId}`;
}
