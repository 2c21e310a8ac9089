/**
 * A consumer group of the classic protocol (JoinGroup/SyncGroup/Heartbeat): its members, generation and
 * state, as Kafka's ClassicGroup keeps them. The coordinator drives the transitions; this module holds the
 * data and the rules that depend on nothing else (protocol support and selection).
 */

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface MemberProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinOutcome {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  skipAssignment: boolean;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncOutcome {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export const EMPTY_BYTES = Buffer.alloc(0);

export class ClassicMember {
  assignment: Buffer = EMPTY_BYTES;
  /** The pending JoinGroup of this member during a rebalance. */
  awaitingJoin: ((outcome: JoinOutcome) => void) | null = null;
  /** The pending SyncGroup of this member while the leader's assignment is awaited. */
  awaitingSync: ((outcome: SyncOutcome) => void) | null = null;
  /** Joined during the current rebalance (not a member of the previous generation). */
  isNew = true;
  /** When the member's session ends unless it is heard from again (its timer fires then). */
  sessionDeadlineMs = 0;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocolType: string,
    public protocols: MemberProtocol[],
  ) {}

  metadataFor(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES;
  }

  /** Whether a rejoin carries the same protocols and metadata (then no rebalance is needed). */
  sameProtocols(protocols: MemberProtocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata))
    );
  }
}

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: bigint;
}

/** The key of a partition in a group's offsets. */
export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The topic and partition of an `offsetKey`. */
export function parseOffsetKey(key: string): { topic: string; partition: number } {
  const at = key.indexOf('\u0000');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

export class ClassicGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, ClassicMember>();
  /** group.instance.id to member id, for static members (KIP-345). */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED (KIP-394) and not joined yet (each has an expiry timer). */
  readonly pendingMembers = new Set<string>();
  /**
   * Members given this generation's JoinGroup answer that have not sent SyncGroup yet (Kafka's
   * pendingSyncMembers). Those still here when the rebalance timeout has passed are removed, so that a member
   * that joined and went quiet (a leader that never sends its assignment) cannot hold the group forever.
   */
  readonly pendingSync = new Set<string>();
  /** When the group entered its current state (Kafka's currentStateTimestamp); offsets expire from it. */
  stateTimestamp: number;
  /** Which rebalance timer is current: a timer already fired and queued when replaced finds it changed. */
  rebalanceTimerToken = 0;
  /** During the initial delay of a new group's first rebalance (group.initial.rebalance.delay.ms). */
  inInitialDelay = false;

  constructor(
    readonly groupId: string,
    nowMs: number,
  ) {
    this.stateTimestamp = nowMs;
  }

  transition(state: GroupState, nowMs: number): void {
    this.state = state;
    this.stateTimestamp = nowMs;
  }

  /** The protocols every member supports, in the order the first member prefers them. */
  candidateProtocols(): string[] {
    const all = [...this.members.values()];
    if (all.length === 0) return [];
    return all[0]!.protocols
      .map((p) => p.name)
      .filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)));
  }

  /** Whether a member with these protocols could join: its type matches and one protocol is common to all. */
  supportsProtocols(protocolType: string, protocols: MemberProtocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = new Set(this.candidateProtocols());
    return protocols.some((p) => candidates.has(p.name));
  }

  /** Kafka's vote: each member votes for its most preferred candidate; the most votes wins. */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>(candidates.map((c) => [c, 0]));
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => votes.has(p.name));
      if (choice) votes.set(choice.name, votes.get(choice.name)! + 1);
    }
    let best = candidates[0]!;
    for (const c of candidates) if (votes.get(c)! > votes.get(best)!) best = c;
    return best;
  }

  /** The longest rebalance timeout among members: how long a rebalance waits for them to rejoin. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return true;
  }

  addMember(member: ClassicMember): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.leaderId === null) this.leaderId = member.memberId;
  }

  removeMember(memberId: string): ClassicMember | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    this.members.delete(memberId);
    this.pendingSync.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId)
      this.staticMembers.delete(member.groupInstanceId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  isEmpty(): boolean {
    return this.members.size === 0;
  }
}
