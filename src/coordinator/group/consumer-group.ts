/**
 * A consumer group of the KIP-848 protocol (ConsumerGroupHeartbeat): members with their subscriptions and
 * epochs, the group epoch, the target assignment the server-side assignor computed, and each member's
 * current assignment on its way to that target. The coordinator (consumer-group-coordinator.ts) drives it;
 * this module holds the data and the rules that depend on nothing else: the group state, partition ownership
 * and the reconciliation of one member towards its target.
 */
import type { TopicPartitions } from './assignors.js';

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** Kafka's MemberState, with the codes its ConsumerGroupCurrentMemberAssignment record stores. */
export const MemberState = {
  /** Holds its target assignment at the target epoch. */
  STABLE: 0,
  /** Must first give up partitions that other members are to get; it keeps its epoch until it has. */
  UNREVOKED_PARTITIONS: 1,
  /** Waits for partitions of its target that their previous owners have not released yet. */
  UNRELEASED_PARTITIONS: 2,
} as const;
export type MemberState = (typeof MemberState)[keyof typeof MemberState];

/** Member epochs with a meaning of their own in ConsumerGroupHeartbeat. */
export const JOIN_GROUP_MEMBER_EPOCH = 0;
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;

/** Where a member is on its way to its target assignment. */
export interface MemberAssignment {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  assignedPartitions: TopicPartitions;
  partitionsPendingRevocation: TopicPartitions;
}

export class ConsumerGroupMember implements MemberAssignment {
  memberEpoch = 0;
  previousMemberEpoch = 0;
  state: MemberState = MemberState.STABLE;
  assignedPartitions: TopicPartitions = new Map();
  partitionsPendingRevocation: TopicPartitions = new Map();
  instanceId: string | null = null;
  rackId: string | null = null;
  clientId = '';
  clientHost = '';
  subscribedTopicNames: string[] = [];
  subscribedTopicRegex: string | null = null;
  rebalanceTimeoutMs = -1;
  serverAssignor: string | null = null;

  constructor(readonly memberId: string) {}

  isReconciledTo(targetEpoch: number): boolean {
    return this.state === MemberState.STABLE && this.memberEpoch === targetEpoch;
  }
}

/** A subscribed topic as the group last saw it (Kafka's ConsumerGroupPartitionMetadata). */
export interface SubscribedTopic {
  topicId: string;
  numPartitions: number;
}

export function copyPartitions(partitions: TopicPartitions): TopicPartitions {
  return new Map([...partitions].map(([t, ps]) => [t, new Set(ps)]));
}

export function samePartitions(a: TopicPartitions, b: TopicPartitions): boolean {
  const nonEmpty = (m: TopicPartitions) => [...m].filter(([, ps]) => ps.size > 0);
  const ea = nonEmpty(a);
  if (ea.length !== nonEmpty(b).length) return false;
  return ea.every(([t, ps]) => {
    const other = b.get(t);
    return other !== undefined && other.size === ps.size && [...ps].every((p) => other.has(p));
  });
}

/** Partitions as the protocol lists them: by topic, sorted. */
export function partitionList(partitions: TopicPartitions): Array<{ topicId: string; partitions: number[] }> {
  return [...partitions]
    .filter(([, ps]) => ps.size > 0)
    .map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((a, b) => a - b) }));
}

export function partitionsFromList(list: ReadonlyArray<{ topicId: string; partitions: number[] }>): TopicPartitions {
  const out: TopicPartitions = new Map();
  for (const t of list) {
    if (t.partitions.length === 0) continue;
    const ps = out.get(t.topicId) ?? new Set<number>();
    for (const p of t.partitions) ps.add(p);
    out.set(t.topicId, ps);
  }
  return out;
}

function ownsAnyOf(owned: TopicPartitions | null, partitions: TopicPartitions): boolean {
  // A heartbeat without its owned partitions proves nothing: assume the member still holds them.
  if (owned === null) return true;
  for (const [t, ps] of owned) {
    const pending = partitions.get(t);
    if (pending) for (const p of ps) if (pending.has(p)) return true;
  }
  return false;
}

/** Whether every partition the member reports is one of `assigned`. */
export function isSubset(owned: TopicPartitions | null, assigned: TopicPartitions): boolean {
  if (owned === null) return false;
  for (const [t, ps] of owned) {
    const mine = assigned.get(t);
    for (const p of ps) if (!mine?.has(p)) return false;
  }
  return true;
}

/**
 * One step of a member towards its target assignment (Kafka's CurrentAssignmentBuilder). A partition the
 * member must give up stays its own, pending revocation, until a heartbeat no longer reports it; a partition
 * another member still holds is not handed over until that member has released it. The member moves to the
 * target epoch only once it has nothing left to revoke. Returns null when nothing changes.
 *
 * @param partitionEpoch the epoch of a partition's current owner, -1 when nobody holds it
 */
export function reconcile(
  member: MemberAssignment,
  targetEpoch: number,
  target: TopicPartitions,
  owned: TopicPartitions | null,
  partitionEpoch: (topicId: string, partition: number) => number,
): MemberAssignment | null {
  switch (member.state) {
    case MemberState.STABLE:
      if (member.memberEpoch === targetEpoch) return null;
      return nextAssignment(member, member.memberEpoch, targetEpoch, target, owned, partitionEpoch);
    case MemberState.UNREVOKED_PARTITIONS:
      if (ownsAnyOf(owned, member.partitionsPendingRevocation)) return null;
      return nextAssignment(member, member.memberEpoch + 1, targetEpoch, target, owned, partitionEpoch);
    default:
      return nextAssignment(member, member.memberEpoch, targetEpoch, target, owned, partitionEpoch);
  }
}

function nextAssignment(
  member: MemberAssignment,
  memberEpoch: number,
  targetEpoch: number,
  target: TopicPartitions,
  owned: TopicPartitions | null,
  partitionEpoch: (topicId: string, partition: number) => number,
): MemberAssignment | null {
  const assigned: TopicPartitions = new Map();
  const revoking: TopicPartitions = new Map();
  const adding: TopicPartitions = new Map();
  let unreleased = false;
  for (const topicId of new Set([...target.keys(), ...member.assignedPartitions.keys()])) {
    const wanted = target.get(topicId) ?? new Set<number>();
    const current = member.assignedPartitions.get(topicId) ?? new Set<number>();
    const keep = new Set([...current].filter((p) => wanted.has(p)));
    const revoke = new Set([...current].filter((p) => !wanted.has(p)));
    const add = new Set<number>();
    for (const p of wanted) {
      if (keep.has(p)) continue;
      if (partitionEpoch(topicId, p) !== -1) unreleased = true;
      else add.add(p);
    }
    if (keep.size > 0) assigned.set(topicId, keep);
    if (revoke.size > 0) revoking.set(topicId, revoke);
    if (add.size > 0) adding.set(topicId, add);
  }
  let next: MemberAssignment;
  if (revoking.size > 0 && ownsAnyOf(owned, revoking)) {
    // Revocation first: the member stays in its epoch until it confirms the partitions are gone.
    next = {
      memberEpoch,
      previousMemberEpoch: member.memberEpoch === memberEpoch ? member.previousMemberEpoch : member.memberEpoch,
      state: MemberState.UNREVOKED_PARTITIONS,
      assignedPartitions: assigned,
      partitionsPendingRevocation: revoking,
    };
  } else {
    for (const [topicId, ps] of adding) {
      const into = assigned.get(topicId) ?? new Set<number>();
      for (const p of ps) into.add(p);
      assigned.set(topicId, into);
    }
    next = {
      memberEpoch: targetEpoch,
      previousMemberEpoch: member.memberEpoch === targetEpoch ? member.previousMemberEpoch : member.memberEpoch,
      state: unreleased ? MemberState.UNRELEASED_PARTITIONS : MemberState.STABLE,
      assignedPartitions: assigned,
      partitionsPendingRevocation: new Map(),
    };
  }
  const unchanged =
    next.memberEpoch === member.memberEpoch &&
    next.state === member.state &&
    samePartitions(next.assignedPartitions, member.assignedPartitions) &&
    samePartitions(next.partitionsPendingRevocation, member.partitionsPendingRevocation);
  return unchanged ? null : next;
}

export class ConsumerGroup {
  groupEpoch = 0;
  /** The group epoch the target assignment was computed for. */
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerGroupMember>();
  /** group.instance.id to member id, for static members. */
  readonly staticMembers = new Map<string, string>();
  /** The target assignment of each member, by member id. */
  readonly targetAssignment = new Map<string, TopicPartitions>();
  /** The subscribed topics as of the last group epoch, by name: a change in them bumps the epoch. */
  subscriptionMetadata = new Map<string, SubscribedTopic>();
  /** Each held partition's owner epoch; a partition in none is free to be handed to its next owner. */
  private readonly partitionEpochs = new Map<string, Map<number, number>>();
  /** When the group last changed between empty and not; offsets of an empty group expire from it. */
  stateTimestamp: number;

  constructor(
    readonly groupId: string,
    nowMs: number,
  ) {
    this.stateTimestamp = nowMs;
  }

  /** Kafka's states: Assigning until the target is computed, Reconciling until every member holds it. */
  get state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) if (!m.isReconciledTo(this.assignmentEpoch)) return 'Reconciling';
    return 'Stable';
  }

  staticMember(instanceId: string): ConsumerGroupMember | undefined {
    const memberId = this.staticMembers.get(instanceId);
    return memberId === undefined ? undefined : this.members.get(memberId);
  }

  addMember(member: ConsumerGroupMember, nowMs: number): void {
    if (this.members.size === 0) this.stateTimestamp = nowMs;
    this.members.set(member.memberId, member);
    if (member.instanceId !== null) this.staticMembers.set(member.instanceId, member.memberId);
    this.claim(member);
  }

  /** Removes a member; its partitions become free. Its target assignment is the caller's to drop. */
  removeMember(memberId: string, nowMs: number): ConsumerGroupMember | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    this.release(member);
    this.members.delete(memberId);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === memberId)
      this.staticMembers.delete(member.instanceId);
    if (this.members.size === 0) this.stateTimestamp = nowMs;
    return member;
  }

  /** Moves a member to its next assignment, keeping partition ownership in step. */
  updateAssignment(member: ConsumerGroupMember, next: MemberAssignment): void {
    this.release(member);
    member.memberEpoch = next.memberEpoch;
    member.previousMemberEpoch = next.previousMemberEpoch;
    member.state = next.state;
    member.assignedPartitions = next.assignedPartitions;
    member.partitionsPendingRevocation = next.partitionsPendingRevocation;
    this.claim(member);
  }

  /** The epoch of the member holding a partition, or -1 if it is free. */
  partitionEpoch(topicId: string, partition: number): number {
    return this.partitionEpochs.get(topicId)?.get(partition) ?? -1;
  }

  private claim(member: ConsumerGroupMember): void {
    for (const partitions of [member.assignedPartitions, member.partitionsPendingRevocation]) {
      for (const [topicId, ps] of partitions) {
        let epochs = this.partitionEpochs.get(topicId);
        if (!epochs) {
          epochs = new Map();
          this.partitionEpochs.set(topicId, epochs);
        }
        for (const p of ps) {
          // Reconciliation never hands out a partition that another member still holds.
          if (epochs.has(p)) throw new Error(`partition ${topicId}-${p} of ${this.groupId} is held twice`);
          epochs.set(p, member.memberEpoch);
        }
      }
    }
  }

  private release(member: ConsumerGroupMember): void {
    for (const partitions of [member.assignedPartitions, member.partitionsPendingRevocation]) {
      for (const [topicId, ps] of partitions) {
        const epochs = this.partitionEpochs.get(topicId);
        if (!epochs) continue;
        for (const p of ps) epochs.delete(p);
        if (epochs.size === 0) this.partitionEpochs.delete(topicId);
      }
    }
  }

  /** The assignor most members ask for, or null when none asks. */
  preferredServerAssignor(): string | null {
    const votes = new Map<string, number>();
    for (const m of this.members.values())
      if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    for (const [name, n] of votes) if (best === null || n > votes.get(best)!) best = name;
    return best;
  }

  isSubscribedToTopic(topic: string): boolean {
    return this.members.size > 0 && this.subscriptionMetadata.has(topic);
  }
}
