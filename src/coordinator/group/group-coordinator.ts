import { randomUUID } from 'node:crypto';
import { CONSUMER_OFFSETS_TOPIC } from '../../cluster/topic-name.js';
import type { Logger } from '../../observability/logger.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { GroupMetadataValue } from '../../protocol/generated/internal/group-metadata-value.js';
import { decodeConsumerProtocolSubscription } from '../../protocol/generated/messages/consumer-protocol-subscription.js';
import { Reader } from '../../protocol/primitives/index.js';
import { type CoordinatorClock, systemClock } from '../runtime/coordinator-clock.js';
import type { CoordinatorLog } from '../runtime/coordinator-log.js';
import { type CoordinatorResult, CoordinatorRuntime } from '../runtime/coordinator-runtime.js';
import {
  ClassicGroup,
  ClassicMember,
  type CommittedOffset,
  EMPTY_BYTES,
  type GroupState,
  type JoinOutcome,
  type MemberProtocol,
  offsetKey,
  parseOffsetKey,
  type SyncOutcome,
} from './classic-group.js';
import type { ConsumerGroup } from './consumer-group.js';
import {
  ConsumerGroupCoordinator,
  type ConsumerGroupDescription,
  type ConsumerHeartbeatOutcome,
  type ConsumerHeartbeatRequest,
  heartbeatFailure,
  type TopicsView,
} from './consumer-group-coordinator.js';
import { groupTombstones } from './consumer-group-records.js';
import { GroupShard, type GroupShardRecord, groupRecordsSerde, groupShardRecord } from './group-shard.js';
import { groupMetadataKey, groupMetadataValue, partitionForGroup } from './offsets-records.js';

/** The group settings of the broker (Kafka's group.* and offsets.* configs). */
export interface GroupSettings {
  offsetsTopicNumPartitions: number;
  offsetsTopicReplicationFactor: number;
  initialRebalanceDelayMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  maxSize: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  /** group.consumer.heartbeat.interval.ms: how often KIP-848 members heartbeat. */
  consumerHeartbeatIntervalMs: number;
  /** group.consumer.session.timeout.ms: a KIP-848 member silent this long is removed. */
  consumerSessionTimeoutMs: number;
  /** group.consumer.max.size: members of one KIP-848 group. */
  consumerMaxSize: number;
}

export function defaultGroupSettings(): GroupSettings {
  return {
    offsetsTopicNumPartitions: 50,
    offsetsTopicReplicationFactor: 3,
    initialRebalanceDelayMs: 3000,
    minSessionTimeoutMs: 6000,
    maxSessionTimeoutMs: 1_800_000,
    maxSize: 2_147_483_647,
    offsetsRetentionMs: 7 * 24 * 3600_000,
    offsetsRetentionCheckIntervalMs: 600_000,
    offsetMetadataMaxBytes: 4096,
    consumerHeartbeatIntervalMs: 5000,
    consumerSessionTimeoutMs: 45_000,
    consumerMaxSize: 2_147_483_647,
  };
}

/** What the coordinator needs of the broker: the offsets topic's logs and a way to create the topic. */
export interface GroupCoordinatorDeps {
  settings: GroupSettings;
  /** The log of a partition of `__consumer_offsets` led here, or Kafka's error for it. */
  offsetsLog(partition: number): CoordinatorLog | { errorCode: number };
  /** The partition count of `__consumer_offsets`, or null when the topic does not exist yet. */
  offsetsPartitionCount(): number | null;
  /** Creates `__consumer_offsets`; resolves with Kafka's error code. */
  createOffsetsTopic(numPartitions: number): Promise<number>;
  /** Whether a topic partition exists (offset commits for unknown partitions are refused). */
  partitionExists(topic: string, partition: number): boolean;
  /** Topic ids and partition counts, which KIP-848 groups subscribe and are assigned by. */
  topics: TopicsView;
  logger: Logger;
  /** The coordinator's clock: timers of the offsets store, and `now` unless given. */
  clock?: CoordinatorClock;
  now?: () => number;
}

/** Newly joined members must complete their join within this long (Kafka's newMemberJoinTimeoutMs). */
const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60_000;
/** DescribeGroups state of a group that does not exist. */
const DEAD: GroupState = 'Dead';

export interface JoinRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: MemberProtocol[];
  clientId: string;
  clientHost: string;
  /** KIP-394 (JoinGroup v4+): a first join gets a member id and MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
  /** KIP-814 (JoinGroup v9+): a static leader rejoining a stable group skips the assignment. */
  supportsSkipAssignment: boolean;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface OffsetCommitPartition {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  /** Not in DescribeGroups' answer: what a member's Heartbeat and SyncGroup are checked against. */
  generationId: number;
  leader: string | null;
  members: Array<{
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }>;
}

function joinError(memberId: string, errorCode: number): JoinOutcome {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    memberId,
    skipAssignment: false,
    members: [],
  };
}

function deadGroup(groupId: string, errorCode: number): GroupDescription {
  return {
    errorCode,
    groupId,
    state: DEAD,
    protocolType: '',
    protocolName: '',
    generationId: -1,
    leader: null,
    members: [],
  };
}

/** A group as ListGroups lists it. */
export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  type: 'classic' | 'consumer';
}

function syncError(errorCode: number): SyncOutcome {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

/** Thrown when a write to `__consumer_offsets` fails; carries the code the client gets. */
class CoordinatorWriteError extends Error {
  constructor(readonly errorCode: number) {
    super(`write to ${CONSUMER_OFFSETS_TOPIC} failed with error ${errorCode}`);
  }
}

/** The error code a coordinator operation's failure gives the client; anything else is a bug, thrown on. */
function writeErrorCode(error: unknown): number {
  if (error instanceof KafkaError) return error.code;
  if (error instanceof CoordinatorWriteError) return error.errorCode;
  throw error;
}

type OffsetCommitResult = { errorCode: number } | { partitionErrors: number[] };
type OffsetDeleteResult = { errorCode: number; partitionErrors: number[][] };

/** The timer of a partition's offsets expiry (offsets.retention.check.interval.ms). */
const OFFSETS_EXPIRY_TIMER = 'offsets-expiry';

/**
 * What a classic group operation does beyond its own answer: the records it writes, and the parked JoinGroup
 * and SyncGroup requests it answers, released once the records are committed or failed with the append's error.
 */
interface ClassicEffects {
  records: GroupShardRecord[];
  answers: Array<{ release(): void; fail(errorCode: number): void }>;
}

/** A JoinGroup decided in the queue: its answer, or an empty consumer group to replace first. */
type JoinDecision = { outcome: JoinOutcome | Promise<JoinOutcome> } | { replace: ConsumerGroup };

/** A group whose offsets expired with it: its membership state goes once the tombstones are written. */
type ExpiredGroup = ClassicGroup | ConsumerGroup | string;

/**
 * Kafka's group coordinator for classic groups: membership and rebalances (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup), committed offsets, and the admin views. Every change that must survive a restart (offsets, and
 * the group's generation, members and assignment after each rebalance) is appended to the group's partition of
 * `__consumer_offsets` in Kafka's record format.
 *
 * Committed offsets live on the coordinator runtime (`coordinator/runtime/`): one `GroupShard` per partition,
 * changed only by replaying that partition's records, at load and after each committed append alike; every
 * write to the partition, group records included, goes through its queue. KIP-848 consumer groups are decided
 * in queue operations and built from their committed records (`GroupShard.consumerGroup`). Classic groups are
 * held here, built from their stored images when a partition loads, and changed only by operations on their
 * partition's queue, whose answers wait for the records they write (`classicWrite`).
 *
 * A group belongs to partition hash(groupId) mod N of `__consumer_offsets`; this broker coordinates the groups
 * of the partitions it leads, so the same logic serves a cluster.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  /** The effects of the classic group operation deciding now, if one is. */
  private effects: ClassicEffects | null = null;
  /** KIP-848 consumer groups; an id names a classic group or a consumer group, never both. */
  private readonly consumer: ConsumerGroupCoordinator;
  /** The offsets store: one shard per partition of `__consumer_offsets` led here. */
  private readonly runtime: CoordinatorRuntime<GroupShard, GroupShardRecord>;
  /** Partitions of `__consumer_offsets` loaded here, their groups' membership in memory. */
  private readonly loaded = new Set<number>();
  private creatingTopic: Promise<number> | null = null;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    const clock = deps.clock ?? systemClock;
    this.now = deps.now ?? (() => clock.now());
    this.runtime = new CoordinatorRuntime<GroupShard, GroupShardRecord>({
      name: 'groups',
      newShard: () => new GroupShard(),
      serde: groupRecordsSerde,
      logFor: (partition) => {
        const log = this.deps.offsetsLog(partition);
        return 'errorCode' in log ? log.errorCode : log;
      },
      clock,
      logger: deps.logger,
      onLoaded: (partition, shard) => this.onLoaded(partition, shard),
      onUnloaded: (partition) => this.onUnloaded(partition),
    });
    this.consumer = new ConsumerGroupCoordinator({
      settings: deps.settings,
      topics: deps.topics,
      logger: deps.logger,
      now: () => this.now(),
      write: (groupId, name, op) => this.writeConsumerGroup(groupId, name, op),
      group: (groupId) => this.runtime.shard(this.partitionFor(groupId))?.consumerGroup(groupId, this.now()),
      copyOfGroup: (groupId) =>
        this.runtime.shard(this.partitionFor(groupId))?.copyOfConsumerGroup(groupId, this.now()),
      allGroups: () => this.allConsumerGroups(),
      classicGroup: (groupId) => this.groups.get(groupId),
      dropClassicGroup: (groupId) => {
        const group = this.groups.get(groupId);
        if (!group) return;
        this.unload(group);
        this.groups.delete(groupId);
      },
      scheduleTimer: (groupId, name, delayMs, onFire) =>
        this.runtime.scheduleTimer(
          this.partitionFor(groupId),
          `${groupId}\u0000${name}`,
          delayMs,
          () => ({
            records: this.stopped ? [] : onFire().map((r) => groupShardRecord(r.key, r.value)),
            response: undefined,
          }),
          () => this.consumerGroupWritten(groupId),
        ),
      cancelTimer: (groupId, name) => this.runtime.cancelTimer(this.partitionFor(groupId), `${groupId}\u0000${name}`),
    });
  }

  get settings(): GroupSettings {
    return this.deps.settings;
  }

  /**
   * Loads the groups of every partition of `__consumer_offsets` led here. Each partition then expires its
   * offsets every offsets.retention.check.interval.ms, as an operation on its queue.
   */
  async start(): Promise<void> {
    const count = this.deps.offsetsPartitionCount();
    if (count !== null) for (let p = 0; p < count; p++) await this.load(p);
  }

  /** This broker became the leader of a `__consumer_offsets` partition: its groups are loaded from its log. */
  loadPartition(partition: number): Promise<void> {
    return this.load(partition);
  }

  /** This broker no longer leads a `__consumer_offsets` partition: its groups go (requests get NOT_COORDINATOR). */
  unloadPartition(partition: number): void {
    this.runtime.unload(partition);
  }

  /** Lets the writes under way finish, then drops every group; later requests get NOT_COORDINATOR. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const group of this.groups.values()) this.unload(group);
    this.groups.clear();
    this.consumer.stop();
    await this.runtime.close();
  }

  /** The offsets store of a partition as plain data (`GroupShard.snapshot`), or undefined unless it serves. */
  offsetsSnapshot(partition: number): ReturnType<GroupShard['snapshot']> | undefined {
    return this.runtime.shard(partition)?.snapshot();
  }

  /** Resolves once no partition is loading and no operation is queued (tests wait on it). */
  idle(): Promise<void> {
    return this.runtime.idle();
  }

  private unload(group: ClassicGroup): void {
    // Its timers find it gone when they fire (and go with the partition when it unloads).
    group.rebalanceTimerToken++;
    for (const m of group.members.values()) {
      m.awaitingJoin?.(joinError(m.memberId, ErrorCode.NOT_COORDINATOR));
      m.awaitingSync?.(syncError(ErrorCode.NOT_COORDINATOR));
    }
  }

  // ---- Routing ----

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.deps.offsetsPartitionCount() ?? this.settings.offsetsTopicNumPartitions);
  }

  /**
   * FindCoordinator: answers whether this broker coordinates the group (any id, "" included, as in Kafka).
   * Returns Kafka's error code; NONE means this broker, NOT_COORDINATOR that another broker leads its partition.
   *
   * `__consumer_offsets` is created on first use, and as in Kafka the requests that find it missing are answered
   * COORDINATOR_NOT_AVAILABLE, which clients retry; the answer waits for the creation, so that the retry finds
   * the coordinator.
   */
  async findCoordinator(groupId: string): Promise<number> {
    if (this.deps.offsetsPartitionCount() === null) {
      this.creatingTopic ??= this.deps.createOffsetsTopic(this.settings.offsetsTopicNumPartitions).finally(() => {
        this.creatingTopic = null;
      });
      const errorCode = await this.creatingTopic;
      if (errorCode === ErrorCode.NONE || errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
        const partition = this.partitionFor(groupId);
        if (typeof this.offsetsLogFor(groupId) !== 'number' && !this.loaded.has(partition)) await this.load(partition);
      }
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    // NOT_COORDINATOR: another broker leads the group's partition (the caller points the client there).
    const logError = this.offsetsLogFor(groupId);
    if (typeof logError === 'number') return logError;
    const partition = this.partitionFor(groupId);
    if (!this.loaded.has(partition)) await this.load(partition);
    return ErrorCode.NONE;
  }

  /** The log of the group's partition of `__consumer_offsets`, or the error a group request gets instead. */
  private offsetsLogFor(groupId: string): CoordinatorLog | number {
    const log = this.deps.offsetsLog(this.partitionFor(groupId));
    if (!('errorCode' in log)) return log;
    return log.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER
      ? ErrorCode.NOT_COORDINATOR
      : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }

  /**
   * NONE when this broker coordinates the group and has it loaded, else the error a group request gets. The
   * empty group id is refused except where Kafka takes it (`emptyGroupIdAllowed`): OffsetCommit and OffsetFetch,
   * which consumers without a group.id used for their commits, and DescribeGroups and DeleteGroups, so that its
   * state can be seen and removed.
   */
  coordinatorError(groupId: string, emptyGroupIdAllowed = false): number {
    if (groupId === '' && !emptyGroupIdAllowed) return ErrorCode.INVALID_GROUP_ID;
    if (this.deps.offsetsPartitionCount() === null) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const log = this.offsetsLogFor(groupId);
    if (typeof log === 'number') return log;
    const partition = this.partitionFor(groupId);
    // A partition reloading (after a failed append) or whose load failed answers LOAD_IN_PROGRESS, and its
    // load starts again.
    if (!this.loaded.has(partition)) {
      void this.load(partition);
      return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  /** The offsets store of the group's partition; only called once `coordinatorError` said NONE. */
  private offsetsShard(groupId: string): GroupShard {
    const shard = this.runtime.shard(this.partitionFor(groupId));
    if (!shard) throw new KafkaError(ErrorCode.NOT_COORDINATOR);
    return shard;
  }

  // ---- Loading ----

  /** Loads a partition of `__consumer_offsets` on the runtime (shared while under way). */
  private load(partition: number): Promise<void> {
    return this.runtime.load(partition);
  }

  /**
   * A partition is loaded: its groups' membership is built from the images its records left (members come
   * back as they were stored and must heartbeat within their session timeout, or are removed), and its offsets
   * expiry is scheduled.
   */
  private onLoaded(partition: number, shard: GroupShard): void {
    const started = this.now();
    let count = 0;
    const consumerGroups = shard
      .consumerGroupIds()
      .map((id) => shard.consumerGroup(id, started))
      .filter((g) => g !== undefined);
    this.consumer.onLoaded(consumerGroups);
    count += consumerGroups.length;
    for (const [id, value] of shard.classicGroups) {
      if (shard.consumerGroup(id, started)) continue;
      this.groups.set(id, this.classicGroupFrom(id, value));
      count++;
    }
    this.loaded.add(partition);
    this.scheduleOffsetsExpiry(partition);
    if (count > 0) this.deps.logger.info('groups loaded', { partition, groups: count, ms: this.now() - started });
  }

  /**
   * A partition is dropped (unloaded, or reloading after a failed append, the same path as a failover): its
   * groups go, parked JoinGroup and SyncGroup requests are answered NOT_COORDINATOR and clients find the
   * coordinator again.
   */
  private onUnloaded(partition: number): void {
    this.loaded.delete(partition);
    for (const group of [...this.groups.values()]) {
      if (this.partitionFor(group.groupId) !== partition) continue;
      this.unload(group);
      this.groups.delete(group.groupId);
    }
    // The consumer groups went with the partition's state; what memory held beyond their records goes too.
    this.consumer.dropPartition((groupId) => this.partitionFor(groupId) === partition);
  }

  /** The committed consumer groups of every partition served here. */
  private *allConsumerGroups(): IterableIterator<ConsumerGroup> {
    const now = this.now();
    for (const shard of this.runtime.shards())
      for (const id of shard.consumerGroupIds()) {
        const group = shard.consumerGroup(id, now);
        if (group) yield group;
      }
  }

  /**
   * Builds a consumer group from its records just committed, so that the time it became empty (from which its
   * offsets expire) is the time of the commit, not of a later read.
   */
  private consumerGroupWritten(groupId: string): void {
    this.runtime.shard(this.partitionFor(groupId))?.consumerGroup(groupId, this.now());
  }

  /** A consumer group operation on its partition's queue (consumer-group-coordinator.ts). */
  private async writeConsumerGroup<T>(
    groupId: string,
    name: string,
    op: () => { records: Array<{ key: Buffer; value: Buffer | null }>; response: T },
  ): Promise<T> {
    const log = this.offsetsLogFor(groupId);
    if (typeof log === 'number') throw new CoordinatorWriteError(log);
    try {
      const response = await this.runtime.write(this.partitionFor(groupId), name, () => {
        const { records, response } = op();
        return { records: records.map((r) => groupShardRecord(r.key, r.value)), response };
      });
      this.consumerGroupWritten(groupId);
      return response;
    } catch (error) {
      // What the operation threw (a heartbeat's refusal) goes back as it is.
      if (error instanceof KafkaError) throw new CoordinatorWriteError(error.code);
      throw error;
    }
  }

  /** A classic group as its GroupMetadata value stored it. */
  private classicGroupFrom(id: string, value: GroupMetadataValue): ClassicGroup {
    const now = this.now();
    const group = new ClassicGroup(id, value.currentStateTimestamp >= 0n ? Number(value.currentStateTimestamp) : now);
    group.generationId = value.generation;
    group.protocolType = value.protocolType;
    group.protocolName = value.protocol;
    for (const m of value.members) {
      const member = new ClassicMember(
        m.memberId,
        m.groupInstanceId,
        m.clientId,
        m.clientHost,
        m.rebalanceTimeout,
        m.sessionTimeout,
        value.protocolType,
        value.protocol ? [{ name: value.protocol, metadata: m.subscription }] : [],
      );
      member.assignment = m.assignment;
      member.isNew = false;
      group.addMember(member);
    }
    group.leaderId = value.leader;
    if (group.members.size > 0) {
      group.state = 'Stable';
      // Members come back by heartbeat; those that do not are expired as usual, which rebalances.
      for (const m of group.members.values()) this.scheduleSessionExpiry(group, m);
    }
    return group;
  }

  // ---- Classic group operations ----

  /**
   * Runs a classic group transition as a write operation on the group's partition queue: `decide` changes the
   * live group (as Kafka's classic group writes do, whose records are not replayed on the live path) and
   * stores GroupMetadata where a generation completes; the records are appended, and the answer, with every
   * parked JoinGroup/SyncGroup the transition answered, is released once they are committed. Nothing reads the
   * group between the decision and the commit (reads are operations on the queue too). A failed append reloads
   * the partition from its log, which drops the live groups: their parked requests, and those this operation
   * answered, get NOT_COORDINATOR. Throws CoordinatorWriteError.
   */
  private async classicWrite<T>(groupId: string, name: string, decide: () => T): Promise<T> {
    const log = this.offsetsLogFor(groupId);
    if (typeof log === 'number') throw new CoordinatorWriteError(log);
    const partition = this.partitionFor(groupId);
    let effects: ClassicEffects | undefined;
    try {
      const response = await this.runtime.write(partition, name, () => {
        effects = { records: [], answers: [] };
        return { records: effects.records, response: this.decideClassic(partition, effects, decide) };
      });
      for (const answer of effects!.answers) answer.release();
      return response;
    } catch (error) {
      const errorCode = writeErrorCode(error);
      for (const answer of effects?.answers ?? []) answer.fail(errorCode);
      throw new CoordinatorWriteError(errorCode);
    }
  }

  /**
   * Runs a decision with its effects collected. A decision that throws (a bug) may have changed the live
   * groups half way: the partition reloads from its log and the operation fails NOT_COORDINATOR.
   */
  private decideClassic<T>(partition: number, effects: ClassicEffects, decide: () => T): T {
    if (this.effects !== null) throw new Error('classic group operations do not nest');
    // Stopping drops the groups before the queued operations run: they must not build new ones.
    if (this.stopped) throw new KafkaError(ErrorCode.NOT_COORDINATOR);
    this.effects = effects;
    try {
      return decide();
    } catch (error) {
      if (error instanceof KafkaError || error instanceof CoordinatorWriteError) throw error;
      this.deps.logger.error('a classic group operation failed: reloading the partition from its log', {
        partition,
        error: error as Error,
      });
      this.runtime.unload(partition);
      void this.load(partition);
      throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'a classic group operation failed');
    } finally {
      this.effects = null;
    }
  }

  /** The effects of the classic group operation deciding now (there is always one when a group changes). */
  private get currentEffects(): ClassicEffects {
    if (this.effects === null) throw new Error('a classic group changed outside an operation on its queue');
    return this.effects;
  }

  /** Answers a member's parked JoinGroup once the operation's records are committed. */
  private answerJoin(member: ClassicMember, outcome: JoinOutcome): void {
    const resolve = member.awaitingJoin;
    member.awaitingJoin = null;
    if (!resolve) return;
    this.currentEffects.answers.push({
      release: () => resolve(outcome),
      fail: (errorCode) => resolve(joinError(member.memberId, errorCode)),
    });
  }

  /** Answers a member's parked SyncGroup once the operation's records are committed. */
  private answerSync(member: ClassicMember, outcome: SyncOutcome): void {
    const resolve = member.awaitingSync;
    member.awaitingSync = null;
    if (!resolve) return;
    this.currentEffects.answers.push({
      release: () => resolve(outcome),
      fail: (errorCode) => resolve(syncError(errorCode)),
    });
  }

  private groupRecord(group: ClassicGroup): { key: Buffer; value: Buffer } {
    const protocol = group.protocolName;
    return {
      key: groupMetadataKey(group.groupId),
      value: groupMetadataValue({
        protocolType: group.protocolType ?? '',
        generation: group.generationId,
        protocol,
        leader: group.leaderId,
        currentStateTimestamp: BigInt(group.stateTimestamp),
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeout: m.rebalanceTimeoutMs,
          sessionTimeout: m.sessionTimeoutMs,
          subscription: protocol ? m.metadataFor(protocol) : EMPTY_BYTES,
          assignment: m.assignment,
        })),
      }),
    };
  }

  /** Writes the group's GroupMetadata with the operation deciding now. */
  private storeGroup(group: ClassicGroup): void {
    const { key, value } = this.groupRecord(group);
    this.currentEffects.records.push(groupShardRecord(key, value));
  }

  /** Appends group records to the group's partition, in its queue; throws CoordinatorWriteError on failure. */
  private async append(groupId: string, records: Array<{ key: Buffer; value: Buffer | null }>): Promise<void> {
    const log = this.offsetsLogFor(groupId);
    if (typeof log === 'number') throw new CoordinatorWriteError(log);
    try {
      await this.runtime.write(this.partitionFor(groupId), 'store group', () => ({
        records: records.map((r) => groupShardRecord(r.key, r.value)),
        response: undefined,
      }));
    } catch (error) {
      throw new CoordinatorWriteError(writeErrorCode(error));
    }
  }

  // ---- JoinGroup ----

  async joinGroup(req: JoinRequest): Promise<JoinOutcome> {
    const error = this.coordinatorError(req.groupId);
    if (error !== ErrorCode.NONE) return joinError(req.memberId, error);
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.settings;
    if (req.sessionTimeoutMs < minSessionTimeoutMs || req.sessionTimeoutMs > maxSessionTimeoutMs)
      return joinError(req.memberId, ErrorCode.INVALID_SESSION_TIMEOUT);
    for (;;) {
      let decided: JoinDecision;
      try {
        decided = await this.classicWrite(req.groupId, 'join group', () => this.decideJoin(req));
      } catch (e) {
        return joinError(req.memberId, writeErrorCode(e));
      }
      if ('outcome' in decided) return decided.outcome;
      const replaced = await this.replaceEmptyConsumerGroup(decided.replace);
      if (replaced !== ErrorCode.NONE) return joinError(req.memberId, replaced);
      // The empty consumer group's tombstones are written: the join is decided again.
    }
  }

  private decideJoin(req: JoinRequest): JoinDecision {
    const consumerGroup = this.consumer.groups.get(req.groupId);
    // Kafka lets classic members join a KIP-848 group that has members (online migration); Samsa does not.
    if (consumerGroup && consumerGroup.members.size > 0)
      return { outcome: joinError(req.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL) };
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (req.memberId !== '') return { outcome: joinError(req.memberId, ErrorCode.UNKNOWN_MEMBER_ID) };
      if (consumerGroup) return { replace: consumerGroup };
      group = new ClassicGroup(req.groupId, this.now());
      this.groups.set(req.groupId, group);
    }
    if (!group.supportsProtocols(req.protocolType, req.protocols))
      return { outcome: joinError(req.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL) };
    return { outcome: req.memberId === '' ? this.joinUnknownMember(group, req) : this.joinKnownMember(group, req) };
  }

  private joinUnknownMember(group: ClassicGroup, req: JoinRequest): JoinOutcome | Promise<JoinOutcome> {
    const memberId = `${req.clientId}-${randomUUID()}`;
    if (req.groupInstanceId !== null) {
      const existing = group.staticMembers.get(req.groupInstanceId);
      if (existing !== undefined) return this.replaceStaticMember(group, existing, memberId, req);
    }
    if (group.members.size + group.pendingMembers.size >= this.settings.maxSize)
      return joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED);
    if (req.groupInstanceId === null && req.requireKnownMemberId) {
      // KIP-394: the member id is handed out first, so a client that times out and retries is not counted twice.
      group.pendingMembers.add(memberId);
      this.groupTimer(group, `pending\u0000${memberId}`, req.sessionTimeoutMs, () =>
        this.expirePendingMember(group, memberId),
      );
      return joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED);
    }
    return this.addMemberAndRebalance(group, memberId, req);
  }

  private joinKnownMember(group: ClassicGroup, req: JoinRequest): JoinOutcome | Promise<JoinOutcome> {
    if (group.pendingMembers.delete(req.memberId)) {
      this.cancelGroupTimer(group, `pending\u0000${req.memberId}`);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    const fenced = this.staticMemberError(group, req.memberId, req.groupInstanceId);
    if (fenced !== ErrorCode.NONE) return joinError(req.memberId, fenced);
    const member = group.members.get(req.memberId);
    if (!member) return joinError(req.memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, req);
      case 'CompletingRebalance':
        if (member.sameProtocols(req.protocols)) return this.currentJoinOutcome(group, member, false);
        return this.updateMemberAndRebalance(group, member, req);
      case 'Stable':
        if (member.memberId !== group.leaderId && member.sameProtocols(req.protocols)) {
          this.scheduleSessionExpiry(group, member);
          return this.currentJoinOutcome(group, member, false);
        }
        return this.updateMemberAndRebalance(group, member, req);
      default:
        return joinError(req.memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  /**
   * As in Kafka, an empty consumer group gives way to a classic group joining under its id; offsets stay. Its
   * tombstones are written before the join goes on; a failed write is the joining client's to retry.
   */
  private async replaceEmptyConsumerGroup(consumerGroup: ConsumerGroup): Promise<number> {
    const { groupId } = consumerGroup;
    try {
      await this.append(groupId, groupTombstones(consumerGroup));
    } catch (e) {
      return writeErrorCode(e);
    }
    if (!this.consumer.groups.has(groupId)) {
      this.consumer.drop(groupId);
      this.deps.logger.info('empty consumer group replaced by a classic group', { group: groupId });
    }
    return ErrorCode.NONE;
  }

  /** FENCED_INSTANCE_ID when a static member's instance id now belongs to another member id. */
  private staticMemberError(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId === null) return ErrorCode.NONE;
    const owner = group.staticMembers.get(groupInstanceId);
    if (owner !== undefined && owner !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    if (owner === undefined && group.members.has(memberId)) return ErrorCode.FENCED_INSTANCE_ID;
    return ErrorCode.NONE;
  }

  private currentJoinOutcome(group: ClassicGroup, member: ClassicMember, skipAssignment: boolean): JoinOutcome {
    const isLeader = member.memberId === group.leaderId;
    const protocol = group.protocolName ?? '';
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      skipAssignment,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: m.metadataFor(protocol),
          }))
        : [],
    };
  }

  private addMemberAndRebalance(group: ClassicGroup, memberId: string, req: JoinRequest): Promise<JoinOutcome> {
    const member = new ClassicMember(
      memberId,
      req.groupInstanceId,
      req.clientId,
      req.clientHost,
      req.rebalanceTimeoutMs,
      req.sessionTimeoutMs,
      req.protocolType,
      req.protocols,
    );
    const outcome = new Promise<JoinOutcome>((resolve) => {
      member.awaitingJoin = resolve;
    });
    group.addMember(member);
    // A member that never completes its first join is dropped (Kafka's new member join timeout).
    this.scheduleSessionExpiry(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.deps.logger.info('member joined', { group: group.groupId, member: memberId, instance: req.groupInstanceId });
    this.maybePrepareRebalance(group, `member ${memberId} joined`);
    return outcome;
  }

  private updateMemberAndRebalance(group: ClassicGroup, member: ClassicMember, req: JoinRequest): Promise<JoinOutcome> {
    member.protocols = req.protocols;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    // A second JoinGroup while one is pending replaces it; the first gets nothing new to say.
    this.answerJoin(member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    const outcome = new Promise<JoinOutcome>((resolve) => {
      member.awaitingJoin = resolve;
    });
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
    return outcome;
  }

  /**
   * KIP-345: a static member restarting (same group.instance.id, new member id) takes its old member's place.
   * In a stable group with unchanged protocols it gets the current generation and its old assignment back,
   * without a rebalance of the others, once the group with the new member id is stored (Kafka puts the old
   * member back when that write fails; here the partition reloads from its log, which still has it).
   */
  private replaceStaticMember(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    req: JoinRequest,
  ): JoinOutcome | Promise<JoinOutcome> {
    const old = group.members.get(oldMemberId)!;
    this.answerJoin(old, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    this.answerSync(old, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const wasLeader = group.leaderId === oldMemberId;
    const wasPendingSync = group.pendingSync.has(oldMemberId);
    group.removeMember(oldMemberId);
    const member = new ClassicMember(
      newMemberId,
      req.groupInstanceId,
      req.clientId,
      req.clientHost,
      req.rebalanceTimeoutMs,
      req.sessionTimeoutMs,
      req.protocolType,
      old.protocols,
    );
    member.assignment = old.assignment;
    member.isNew = false;
    group.addMember(member);
    if (wasPendingSync) group.pendingSync.add(newMemberId);
    if (wasLeader) group.leaderId = newMemberId;
    this.deps.logger.info('static member replaced', {
      group: group.groupId,
      instance: req.groupInstanceId,
      member: newMemberId,
    });
    if (group.state === 'Stable' && old.sameProtocols(req.protocols)) {
      this.storeGroup(group);
      this.scheduleSessionExpiry(group, member);
      return this.currentJoinOutcome(group, member, wasLeader && req.supportsSkipAssignment);
    }
    return this.updateMemberAndRebalance(group, member, req);
  }

  /**
   * Runs `onFire` after `delayMs` as an operation on the group's partition queue (replacing the group's timer
   * of that name), with its records and answers as a request's; it goes with the partition when it unloads,
   * and does nothing once the group is gone.
   */
  private groupTimer(group: ClassicGroup, name: string, delayMs: number, onFire: () => void): void {
    const partition = this.partitionFor(group.groupId);
    let effects: ClassicEffects | undefined;
    this.runtime.scheduleTimer(
      partition,
      `${group.groupId}\u0000${name}`,
      delayMs,
      () => {
        effects = { records: [], answers: [] };
        if (!this.stopped && this.groups.get(group.groupId) === group) this.decideClassic(partition, effects, onFire);
        return { records: effects.records, response: undefined };
      },
      () => {
        for (const answer of effects?.answers ?? []) answer.release();
      },
      (error) => {
        const errorCode = error instanceof KafkaError ? error.code : ErrorCode.NOT_COORDINATOR;
        for (const answer of effects?.answers ?? []) answer.fail(errorCode);
      },
    );
  }

  private cancelGroupTimer(group: ClassicGroup, name: string): void {
    this.runtime.cancelTimer(this.partitionFor(group.groupId), `${group.groupId}\u0000${name}`);
  }

  /** The group's rebalance timer: one at a time, and one replaced or ended before it ran does nothing. */
  private rebalanceTimer(group: ClassicGroup, delayMs: number, onFire: () => void): void {
    const token = ++group.rebalanceTimerToken;
    this.groupTimer(group, 'rebalance', delayMs, () => {
      if (group.rebalanceTimerToken === token) onFire();
    });
  }

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.state === 'PreparingRebalance') {
      this.maybeCompleteJoin(group);
      return;
    }
    if (group.state === 'Dead') return;
    this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        m.assignment = EMPTY_BYTES;
        this.answerSync(m, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.pendingSync.clear();
    this.cancelGroupTimer(group, 'pending-sync');
    group.transition('PreparingRebalance', this.now());
    this.deps.logger.info('preparing rebalance', { group: group.groupId, generation: group.generationId, reason });
    const delay = this.settings.initialRebalanceDelayMs;
    if (wasEmpty && delay > 0) {
      // A new group waits a little so that members starting together share its first rebalance.
      group.inInitialDelay = true;
      const deadline = this.now() + group.rebalanceTimeoutMs();
      const arm = (wait: number, membersBefore: number) => {
        this.rebalanceTimer(group, wait, () => {
          const remaining = deadline - this.now();
          if (group.members.size > membersBefore && remaining > 0) {
            arm(Math.min(delay, remaining), group.members.size);
          } else {
            group.inInitialDelay = false;
            this.completeJoin(group);
          }
        });
      };
      arm(Math.min(delay, Math.max(0, deadline - this.now())), group.members.size);
      return;
    }
    this.rebalanceTimer(group, group.rebalanceTimeoutMs(), () => this.completeJoin(group));
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: ClassicGroup): void {
    if (group.state === 'PreparingRebalance' && !group.inInitialDelay && group.allMembersJoined())
      this.completeJoin(group);
  }

  /**
   * Ends the join phase: members that did not rejoin are removed, a new generation starts. A generation
   * without members is stored at once (the group is Empty); one with members is stored by its leader's
   * SyncGroup, with the assignment, as in Kafka.
   */
  private completeJoin(group: ClassicGroup): void {
    if (group.state !== 'PreparingRebalance') return;
    group.rebalanceTimerToken++;
    this.cancelGroupTimer(group, 'rebalance');
    group.inInitialDelay = false;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) {
        this.deps.logger.info('member removed: did not rejoin in time', { group: group.groupId, member: m.memberId });
        group.removeMember(m.memberId);
      }
    }
    group.generationId++;
    if (group.isEmpty()) {
      group.protocolName = null;
      group.transition('Empty', this.now());
      this.deps.logger.info('group is empty', { group: group.groupId, generation: group.generationId });
      // A LeaveGroup or expiry that emptied the group is answered once this is committed.
      this.storeGroup(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transition('CompletingRebalance', this.now());
    this.deps.logger.info('rebalance: join complete', {
      group: group.groupId,
      generation: group.generationId,
      protocol: group.protocolName,
      members: group.members.size,
    });
    for (const m of group.members.values()) {
      m.isNew = false;
      this.scheduleSessionExpiry(group, m);
      this.answerJoin(m, this.currentJoinOutcome(group, m, false));
      group.pendingSync.add(m.memberId);
    }
    this.schedulePendingSyncExpiry(group);
  }

  /** Members of this generation that have not synced within the rebalance timeout are removed (Kafka's DelayedSync). */
  private schedulePendingSyncExpiry(group: ClassicGroup): void {
    const generationId = group.generationId;
    this.groupTimer(group, 'pending-sync', group.rebalanceTimeoutMs(), () => {
      if (group.generationId !== generationId || group.pendingSync.size === 0) return;
      if (group.state !== 'CompletingRebalance' && group.state !== 'Stable') return;
      const expired = [...group.pendingSync];
      this.deps.logger.info('members removed: no SyncGroup within the rebalance timeout', {
        group: group.groupId,
        generation: generationId,
        members: expired.join(','),
      });
      for (const memberId of expired) {
        const member = group.members.get(memberId);
        if (!member) continue;
        this.answerJoin(member, joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
        group.removeMember(memberId);
      }
      this.prepareRebalance(group, `members ${expired.join(', ')} did not sync in time`);
    });
  }

  // ---- SyncGroup ----

  async syncGroup(req: SyncRequest): Promise<SyncOutcome> {
    const error = this.coordinatorError(req.groupId);
    if (error !== ErrorCode.NONE) return syncError(error);
    try {
      const decided = await this.classicWrite(req.groupId, 'sync group', () => ({ outcome: this.decideSync(req) }));
      return await decided.outcome;
    } catch (e) {
      return syncError(writeErrorCode(e));
    }
  }

  private decideSync(req: SyncRequest): SyncOutcome | Promise<SyncOutcome> {
    const group = this.groups.get(req.groupId);
    if (!group) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    const fenced = this.staticMemberError(group, req.memberId, req.groupInstanceId);
    if (fenced !== ErrorCode.NONE) return syncError(fenced);
    const member = group.members.get(req.memberId);
    if (!member) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (req.generationId !== group.generationId) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if (
      (req.protocolType !== null && req.protocolType !== group.protocolType) ||
      (req.protocolName !== null && req.protocolName !== group.protocolName)
    )
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    switch (group.state) {
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        group.pendingSync.delete(member.memberId);
        this.scheduleSessionExpiry(group, member);
        return this.syncOutcome(group, member);
      case 'CompletingRebalance': {
        group.pendingSync.delete(member.memberId);
        this.answerSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        const outcome = new Promise<SyncOutcome>((resolve) => {
          member.awaitingSync = resolve;
        });
        if (req.memberId === group.leaderId) this.applyLeaderAssignment(group, req.assignments);
        return outcome;
      }
      default:
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private syncOutcome(group: ClassicGroup, member: ClassicMember): SyncOutcome {
    return {
      errorCode: ErrorCode.NONE,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      assignment: member.assignment,
    };
  }

  /**
   * The leader's assignment completes the generation: the group is stored with it, and every waiting member
   * gets its share once that record is committed.
   */
  private applyLeaderAssignment(
    group: ClassicGroup,
    assignments: Array<{ memberId: string; assignment: Buffer }>,
  ): void {
    const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
    for (const m of group.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY_BYTES;
    group.transition('Stable', this.now());
    this.storeGroup(group);
    this.deps.logger.info('group stable', {
      group: group.groupId,
      generation: group.generationId,
      members: group.members.size,
    });
    for (const m of group.members.values()) this.answerSync(m, this.syncOutcome(group, m));
  }

  // ---- Heartbeat and session expiry ----

  async heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
  ): Promise<number> {
    const error = this.coordinatorError(groupId);
    if (error !== ErrorCode.NONE) return error;
    try {
      return await this.classicWrite(groupId, 'heartbeat', () =>
        this.decideHeartbeat(groupId, generationId, memberId, groupInstanceId),
      );
    } catch (e) {
      return writeErrorCode(e);
    }
  }

  private decideHeartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
  ): number {
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    const fenced = this.staticMemberError(group, memberId, groupInstanceId);
    if (fenced !== ErrorCode.NONE) return fenced;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.scheduleSessionExpiry(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        this.scheduleSessionExpiry(group, member);
        return ErrorCode.NONE;
    }
  }

  private scheduleSessionExpiry(group: ClassicGroup, member: ClassicMember, timeoutMs = member.sessionTimeoutMs): void {
    member.sessionDeadlineMs = this.now() + timeoutMs;
    this.armSessionTimer(group, member, timeoutMs);
  }

  private armSessionTimer(group: ClassicGroup, member: ClassicMember, delayMs: number): void {
    this.groupTimer(group, `session\u0000${member.memberId}`, delayMs, () => {
      const remaining = member.sessionDeadlineMs - this.now();
      if (remaining <= 0) this.onSessionExpired(group, member);
      // Node's timers may fire a millisecond before the wall clock reaches the deadline: the timer is armed
      // again for what is left, or the member would never expire.
      else if (group.members.get(member.memberId) === member) this.armSessionTimer(group, member, remaining);
    });
  }

  private onSessionExpired(group: ClassicGroup, member: ClassicMember): void {
    if (this.stopped || group.members.get(member.memberId) !== member) return;
    // A member with a request parked here (a join or sync in progress) is alive, unless new and never done.
    if ((member.awaitingJoin && !member.isNew) || member.awaitingSync) {
      this.scheduleSessionExpiry(group, member);
      return;
    }
    this.deps.logger.info('member session expired', { group: group.groupId, member: member.memberId });
    this.removeMemberAndRebalance(group, member, 'session timeout');
  }

  private expirePendingMember(group: ClassicGroup, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return;
    this.maybeCompleteJoin(group);
  }

  private removeMemberAndRebalance(group: ClassicGroup, member: ClassicMember, reason: string): void {
    this.answerJoin(member, joinError(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.removeMember(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(group, `member ${member.memberId} left (${reason})`);
        break;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  // ---- LeaveGroup ----

  /**
   * Removes members (by member id, or by instance id for static members); returns an error per member. As in
   * Kafka, a leave that empties the group is answered once the empty group's record is committed; a failed
   * write (the partition reloads from its log) is the client's to retry.
   */
  async leaveGroup(
    groupId: string,
    leaving: Array<{ memberId: string; groupInstanceId: string | null }>,
  ): Promise<{
    errorCode: number;
    members: number[];
  }> {
    const error = this.coordinatorError(groupId);
    if (error !== ErrorCode.NONE) return { errorCode: error, members: leaving.map(() => error) };
    try {
      return await this.classicWrite(groupId, 'leave group', () => this.decideLeave(groupId, leaving));
    } catch (e) {
      const errorCode = writeErrorCode(e);
      return { errorCode, members: leaving.map(() => errorCode) };
    }
  }

  private decideLeave(
    groupId: string,
    leaving: Array<{ memberId: string; groupInstanceId: string | null }>,
  ): { errorCode: number; members: number[] } {
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.NONE, members: leaving.map(() => ErrorCode.UNKNOWN_MEMBER_ID) };
    const members = leaving.map(({ memberId, groupInstanceId }) => {
      if (groupInstanceId !== null) {
        const owner = group.staticMembers.get(groupInstanceId);
        if (owner === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
        if (memberId !== '' && owner !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
        this.removeMemberAndRebalance(group, group.members.get(owner)!, 'left the group');
        return ErrorCode.NONE;
      }
      if (group.pendingMembers.delete(memberId)) {
        this.cancelGroupTimer(group, `pending\u0000${memberId}`);
        this.maybeCompleteJoin(group);
        return ErrorCode.NONE;
      }
      const member = group.members.get(memberId);
      if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
      this.deps.logger.info('member left', { group: groupId, member: memberId });
      this.removeMemberAndRebalance(group, member, 'left the group');
      return ErrorCode.NONE;
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  // ---- Offsets ----

  /**
   * Each partition's error for an offset commit (unknown partitions and metadata over
   * offset.metadata.max.bytes are refused), and the records of the others: `producerId` for those of a
   * transaction, held pending until its marker.
   */
  private offsetCommitRecords(
    groupId: string,
    partitions: OffsetCommitPartition[],
    producerId: bigint | null,
  ): { partitionErrors: number[]; records: GroupShardRecord[] } {
    const now = BigInt(this.now());
    const partitionErrors: number[] = [];
    const records: GroupShardRecord[] = [];
    for (const p of partitions) {
      const metadata = p.metadata ?? '';
      if (!this.deps.partitionExists(p.topic, p.partition)) {
        partitionErrors.push(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      } else if (Buffer.byteLength(metadata) > this.settings.offsetMetadataMaxBytes) {
        partitionErrors.push(ErrorCode.OFFSET_METADATA_TOO_LARGE);
      } else {
        partitionErrors.push(ErrorCode.NONE);
        records.push({
          type: 'offset',
          group: groupId,
          topic: p.topic,
          partition: p.partition,
          offset: { offset: p.offset, leaderEpoch: p.leaderEpoch, metadata, commitTimestamp: now },
          producerId,
        });
      }
    }
    return { partitionErrors, records };
  }

  /** The partitions' errors when the write failed: the accepted ones get the write's error. */
  private static failedPartitions(partitionErrors: number[], errorCode: number): { partitionErrors: number[] } {
    return { partitionErrors: partitionErrors.map((c) => (c === ErrorCode.NONE ? errorCode : c)) };
  }

  /**
   * OffsetCommit. A commit with generation -1 and no member id is a "simple" commit, allowed only while the
   * group has no members (tools resetting offsets, consumers with manual assignment). Others must come from
   * a member of the current generation. Returns a group-level error, or the error of each partition.
   */
  async commitOffsets(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
    partitions: OffsetCommitPartition[],
    apiVersion: number,
  ): Promise<{ errorCode: number } | { partitionErrors: number[] }> {
    const error = this.coordinatorError(groupId, true);
    if (error !== ErrorCode.NONE) return { errorCode: error };
    const { partitionErrors, records } = this.offsetCommitRecords(groupId, partitions, null);
    try {
      return await this.runtime.write<OffsetCommitResult>(this.partitionFor(groupId), 'offset commit', (shard) => {
        const invalid = this.offsetCommitError(shard, groupId, generationId, memberId, groupInstanceId, apiVersion);
        if (invalid !== ErrorCode.NONE) return { records: [], response: { errorCode: invalid } };
        return { records, response: { partitionErrors } };
      });
    } catch (e) {
      return GroupCoordinator.failedPartitions(partitionErrors, writeErrorCode(e));
    }
  }

  /** Whether the committer may commit to the group as it is now (run in the partition's queue). */
  private offsetCommitError(
    shard: GroupShard,
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null,
    apiVersion: number,
  ): number {
    const consumerGroup = this.consumer.groups.get(groupId);
    // v9+ carries the member epoch where older versions carry the generation.
    if (consumerGroup)
      return this.consumer.validateOffsetRequest(consumerGroup, memberId, generationId, apiVersion, false);
    const named = generationId >= 0 || memberId !== '';
    const group = this.groups.get(groupId);
    if (!group) {
      if (!named) return ErrorCode.NONE;
      // A group that only has offsets is an empty classic group, which knows no member.
      if (shard.offsets.has(groupId)) return ErrorCode.UNKNOWN_MEMBER_ID;
      // v9+ answers a commit to a group that does not exist with GROUP_ID_NOT_FOUND, older versions differently.
      return apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION;
    }
    if (!named && group.isEmpty()) return ErrorCode.NONE;
    const fenced = this.staticMemberError(group, memberId, groupInstanceId);
    if (fenced !== ErrorCode.NONE) return fenced;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    this.scheduleSessionExpiry(group, member);
    return ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit: offsets committed as part of a producer's transaction. They are written to the group's
   * partition in a transactional batch of that producer (only its epoch is checked there) and held pending
   * until the transaction's marker. A request naming a member (KIP-447) is checked like OffsetCommit's.
   */
  async commitTransactionalOffsets(
    groupId: string,
    producerId: bigint,
    producerEpoch: number,
    member: { generationId: number; memberId: string; groupInstanceId: string | null },
    partitions: OffsetCommitPartition[],
  ): Promise<{ errorCode: number } | { partitionErrors: number[] }> {
    const error = this.coordinatorError(groupId);
    if (error !== ErrorCode.NONE) return { errorCode: error };
    const { partitionErrors, records } = this.offsetCommitRecords(groupId, partitions, producerId);
    try {
      return await this.runtime.write<OffsetCommitResult>(this.partitionFor(groupId), 'txn offset commit', () => {
        const invalid = this.txnOffsetCommitError(groupId, member);
        if (invalid !== ErrorCode.NONE) return { records: [], response: { errorCode: invalid } };
        return { records, response: { partitionErrors }, transactional: { producerId, producerEpoch } };
      });
    } catch (e) {
      return GroupCoordinator.failedPartitions(partitionErrors, writeErrorCode(e));
    }
  }

  private txnOffsetCommitError(
    groupId: string,
    member: { generationId: number; memberId: string; groupInstanceId: string | null },
  ): number {
    const named = member.generationId >= 0 || member.memberId !== '';
    if (!named) return ErrorCode.NONE;
    const consumerGroup = this.consumer.groups.get(groupId);
    if (consumerGroup)
      return this.consumer.validateOffsetRequest(consumerGroup, member.memberId, member.generationId, 9, false);
    const classicGroup = this.groups.get(groupId);
    if (!classicGroup) return ErrorCode.NONE;
    const fenced = this.staticMemberError(classicGroup, member.memberId, member.groupInstanceId);
    if (fenced !== ErrorCode.NONE) return fenced;
    if (!classicGroup.members.has(member.memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (member.generationId !== classicGroup.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  /**
   * A transaction marker was written to a partition of `__consumer_offsets`: the offsets store replays it in
   * the partition's queue, so the producer's pending offsets become committed (COMMIT) or are dropped (ABORT).
   */
  completeTransaction(partition: number, producerId: bigint, committed: boolean): void {
    void this.runtime.replayWritten(partition, 'transaction marker', [{ type: 'marker', producerId, committed }]);
  }

  /** Whether an open transaction holds an offset of the group's partition (OffsetFetch require_stable). */
  hasPendingTransactionalOffset(groupId: string, topic: string, partition: number): boolean {
    const shard = this.runtime.shard(this.partitionFor(groupId));
    return shard?.pending.isPending(groupId, offsetKey(topic, partition)) ?? false;
  }

  /**
   * Committed offsets of a group: all of them (topics null) or those asked for (-1 where none). A member of a
   * KIP-848 group asking (OffsetFetch v9+) must give its current member epoch.
   */
  fetchOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }> | null,
    member: { memberId: string | null; memberEpoch: number } = { memberId: null, memberEpoch: -1 },
  ): {
    errorCode: number;
    topics: Array<{ name: string; partitions: Array<{ partition: number; offset: CommittedOffset | null }> }>;
  } {
    const error = this.coordinatorError(groupId, true);
    if (error !== ErrorCode.NONE) return { errorCode: error, topics: [] };
    const consumerGroup = this.consumer.groups.get(groupId);
    if (consumerGroup) {
      const invalid = this.consumer.validateOffsetRequest(consumerGroup, member.memberId, member.memberEpoch, 9, true);
      if (invalid !== ErrorCode.NONE) return { errorCode: invalid, topics: [] };
    }
    const offsets = this.offsetsShard(groupId).offsetsOf(groupId);
    if (topics === null) {
      const byTopic = new Map<string, Array<{ partition: number; offset: CommittedOffset | null }>>();
      for (const [k, offset] of offsets) {
        const { topic, partition } = parseOffsetKey(k);
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic)!.push({ partition, offset });
      }
      return {
        errorCode: ErrorCode.NONE,
        topics: [...byTopic].map(([name, partitions]) => ({
          name,
          partitions: partitions.sort((a, b) => a.partition - b.partition),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((partition) => ({
          partition,
          offset: offsets.get(offsetKey(t.name, partition)) ?? null,
        })),
      })),
    };
  }

  /** OffsetDelete: removes committed offsets of topics the group is not consuming. */
  async deleteOffsets(
    groupId: string,
    topics: Array<{ name: string; partitions: number[] }>,
  ): Promise<{ errorCode: number; partitionErrors: number[][] }> {
    const error = this.coordinatorError(groupId);
    const none = { partitionErrors: [] as number[][] };
    if (error !== ErrorCode.NONE) return { errorCode: error, ...none };
    try {
      return await this.runtime.write<OffsetDeleteResult>(this.partitionFor(groupId), 'offset delete', (shard) => {
        const offsets = shard.offsetsOf(groupId);
        const group = this.consumer.groups.get(groupId) ?? this.groups.get(groupId);
        if (!group && offsets.size === 0)
          return { records: [], response: { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, ...none } };
        if (group instanceof ClassicGroup && !group.isEmpty() && group.protocolType !== 'consumer')
          return { records: [], response: { errorCode: ErrorCode.NON_EMPTY_GROUP, ...none } };
        const subscribed =
          group === undefined
            ? new Set<string>()
            : group instanceof ClassicGroup
              ? this.subscribedTopics(group)
              : new Set([...group.subscriptionMetadata.keys()].filter((t) => group.isSubscribedToTopic(t)));
        const records: GroupShardRecord[] = [];
        const partitionErrors = topics.map((t) =>
          t.partitions.map((partition) => {
            if (subscribed.has(t.name)) return ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
            if (offsets.has(offsetKey(t.name, partition)))
              records.push(offsetTombstone(groupId, offsetKey(t.name, partition)));
            return ErrorCode.NONE;
          }),
        );
        return { records, response: { errorCode: ErrorCode.NONE, partitionErrors } };
      });
    } catch (e) {
      return { errorCode: writeErrorCode(e), ...none };
    }
  }

  /** The topics the members of a consumer group subscribe to, read from their subscriptions. */
  private subscribedTopics(group: ClassicGroup): Set<string> {
    const topics = new Set<string>();
    if (group.protocolType !== 'consumer' || !group.protocolName) return topics;
    for (const m of group.members.values()) {
      const metadata = m.metadataFor(group.protocolName);
      try {
        const r = new Reader(metadata);
        const version = Math.min(r.readInt16(), 3);
        for (const t of decodeConsumerProtocolSubscription(r, version).topics) topics.add(t);
      } catch {
        // A subscription this broker cannot read protects nothing.
      }
    }
    return topics;
  }

  /** Expires the partition's offsets every offsets.retention.check.interval.ms, in its queue. */
  private scheduleOffsetsExpiry(partition: number): void {
    this.runtime.scheduleTimer(
      partition,
      OFFSETS_EXPIRY_TIMER,
      this.settings.offsetsRetentionCheckIntervalMs,
      (shard) => {
        this.scheduleOffsetsExpiry(partition);
        return this.expireOffsets(partition, shard);
      },
      (expired) => {
        for (const group of expired) this.dropGroupState(group, 'group expired');
      },
    );
  }

  /**
   * Offsets retention (offsets.retention.minutes): the offsets of a group that has had no members for that
   * long are deleted, then the group itself. Returns the tombstones and the groups they end.
   */
  private expireOffsets(partition: number, shard: GroupShard): CoordinatorResult<GroupShardRecord, ExpiredGroup[]> {
    const now = this.now();
    const retention = this.settings.offsetsRetentionMs;
    const records: GroupShardRecord[] = [];
    const expired: ExpiredGroup[] = [];
    for (const group of this.consumer.groups.values()) {
      if (this.partitionFor(group.groupId) !== partition) continue;
      if (group.members.size > 0 || now - group.stateTimestamp < retention) continue;
      records.push(...this.groupStateTombstones(shard, group));
      expired.push(group);
    }
    const classicIds = new Set([...this.groups.keys()].filter((id) => this.partitionFor(id) === partition));
    for (const id of shard.offsets.keys()) if (!this.consumer.groups.has(id)) classicIds.add(id);
    for (const id of classicIds) {
      const group = this.groups.get(id);
      if (group && (!group.isEmpty() || group.state !== 'Empty' || group.pendingMembers.size > 0)) continue;
      const offsets = shard.offsetsOf(id);
      // As in Kafka: a group that had members ages from when it became empty; a standalone one (simple
      // commits only, no protocol) by each offset's own commit time, so one that keeps committing keeps them.
      const byCommitTime = !group?.protocolType && offsets.size > 0;
      const emptyFor = group ? now - group.stateTimestamp : 0;
      const expiredKeys = byCommitTime
        ? [...offsets].filter(([, o]) => Number(o.commitTimestamp) + retention <= now).map(([k]) => k)
        : emptyFor >= retention
          ? [...offsets.keys()]
          : [];
      if (expiredKeys.length === 0 && (byCommitTime || emptyFor < retention)) continue;
      if (expiredKeys.length === offsets.size) {
        records.push(...this.groupStateTombstones(shard, group ?? id));
        expired.push(group ?? id);
      } else {
        for (const k of expiredKeys) records.push(offsetTombstone(id, k));
      }
    }
    return { records, response: expired };
  }

  /** The tombstones of a group's offsets and of its group records. */
  private groupStateTombstones(shard: GroupShard, group: ExpiredGroup): GroupShardRecord[] {
    const groupId = typeof group === 'string' ? group : group.groupId;
    const records: GroupShardRecord[] = [...shard.offsetsOf(groupId).keys()].map((k) => offsetTombstone(groupId, k));
    const groupRecords =
      typeof group === 'string' || group instanceof ClassicGroup
        ? [{ key: groupMetadataKey(groupId), value: null }]
        : groupTombstones(group);
    for (const r of groupRecords) records.push(groupShardRecord(r.key, r.value));
    return records;
  }

  /** Forgets a group whose tombstones are written, unless members came back while they were. */
  private dropGroupState(group: ExpiredGroup, reason: string): void {
    if (group instanceof ClassicGroup) {
      if (this.groups.get(group.groupId) !== group || !group.isEmpty() || group.state !== 'Empty') return;
      group.transition('Dead', this.now());
      this.groups.delete(group.groupId);
    } else if (typeof group !== 'string') {
      if (this.consumer.groups.has(group.groupId)) return;
      this.consumer.drop(group.groupId);
    }
    this.deps.logger.info(reason, { group: typeof group === 'string' ? group : group.groupId });
  }

  // ---- KIP-848 consumer groups ----

  /** ConsumerGroupHeartbeat: join, heartbeat or leave a consumer group (consumer-group-coordinator.ts). */
  consumerGroupHeartbeat(req: ConsumerHeartbeatRequest): Promise<ConsumerHeartbeatOutcome> {
    const error = this.coordinatorError(req.groupId);
    if (error !== ErrorCode.NONE) return Promise.resolve(heartbeatFailure(error, null));
    return this.consumer.heartbeat(req);
  }

  /** ConsumerGroupDescribe: a consumer group, or GROUP_ID_NOT_FOUND (for classic groups too, as in Kafka). */
  consumerGroupDescribe(groupId: string): ConsumerGroupDescription | { errorCode: number } {
    const error = this.coordinatorError(groupId);
    if (error !== ErrorCode.NONE) return { errorCode: error };
    return this.consumer.describe(groupId) ?? { errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
  }

  // ---- Admin ----

  /**
   * DescribeGroups: a read operation on the group's partition queue, so that it sees the group as the last
   * committed operation left it, never a decision whose records are still being written.
   */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const error = this.coordinatorError(groupId, true);
    if (error !== ErrorCode.NONE) return deadGroup(groupId, error);
    try {
      return await this.runtime.write(this.partitionFor(groupId), 'describe group', (shard) => ({
        records: [],
        response: this.describeNow(shard, groupId),
      }));
    } catch (e) {
      return deadGroup(groupId, writeErrorCode(e));
    }
  }

  private describeNow(shard: GroupShard, groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (!group) {
      // A group that only has offsets (simple commits) is an empty classic group.
      const onlyOffsets = !this.consumer.groups.has(groupId) && shard.offsets.has(groupId);
      return { ...deadGroup(groupId, ErrorCode.NONE), state: onlyOffsets ? 'Empty' : DEAD };
    }
    const stable = group.state === 'Stable';
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: stable ? (group.protocolName ?? '') : '',
      generationId: group.generationId,
      leader: group.leaderId,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable && group.protocolName ? m.metadataFor(group.protocolName) : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
  }

  /**
   * Every group, with Kafka's group type: `classic` or `consumer` (KIP-848); both have protocol type consumer.
   * A read operation on each partition's queue, as DescribeGroups; a partition that stops serving meanwhile
   * is left out, as one not led here is.
   */
  async listGroups(): Promise<ListedGroup[]> {
    const lists = await Promise.all(
      [...this.loaded].map((partition) =>
        this.runtime
          .write(partition, 'list groups', (shard) => ({ records: [], response: this.listNow(partition, shard) }))
          .catch((e: unknown) => {
            writeErrorCode(e);
            return [];
          }),
      ),
    );
    return lists.flat();
  }

  private listNow(partition: number, shard: GroupShard): ListedGroup[] {
    const ofPartition = (id: string) => this.partitionFor(id) === partition;
    const classic = [...this.groups.values()]
      .filter((g) => ofPartition(g.groupId))
      .map((g) => ({
        groupId: g.groupId,
        protocolType: g.protocolType ?? '',
        state: g.state as string,
        type: 'classic' as const,
      }));
    const consumer = [...this.consumer.groups.values()]
      .filter((g) => ofPartition(g.groupId))
      .map((g) => ({
        groupId: g.groupId,
        protocolType: 'consumer',
        state: g.state as string,
        type: 'consumer' as const,
      }));
    // Groups that only have offsets (simple commits) are empty classic groups.
    const onlyOffsets = [...shard.offsets.keys()]
      .filter((id) => !this.groups.has(id) && !this.consumer.groups.has(id))
      .map((groupId) => ({ groupId, protocolType: '', state: 'Empty', type: 'classic' as const }));
    return [...classic, ...consumer, ...onlyOffsets];
  }

  /**
   * The ids of the groups whose records the partitions served here hold (committed offsets, stored classic
   * groups, consumer groups), read from committed state without waiting on the queues (metrics).
   */
  committedGroupIds(): string[] {
    const ids = new Set<string>();
    for (const shard of this.runtime.shards()) {
      for (const id of shard.offsets.keys()) ids.add(id);
      for (const id of shard.classicGroups.keys()) ids.add(id);
      for (const id of shard.consumerGroupIds()) ids.add(id);
    }
    return [...ids];
  }

  /** DeleteGroups: only a group without members can go; its offsets go with it. */
  async deleteGroup(groupId: string): Promise<number> {
    const error = this.coordinatorError(groupId, true);
    if (error !== ErrorCode.NONE) return error;
    let deleted: ExpiredGroup;
    try {
      const result = await this.runtime.write(this.partitionFor(groupId), 'delete group', (shard) => {
        const group = this.consumer.groups.get(groupId) ?? this.groups.get(groupId);
        if (!group && !shard.offsets.has(groupId))
          return { records: [], response: ErrorCode.GROUP_ID_NOT_FOUND as number };
        if (
          group instanceof ClassicGroup
            ? !group.isEmpty() || group.state !== 'Empty'
            : group?.state !== undefined && group.state !== 'Empty'
        )
          return { records: [], response: ErrorCode.NON_EMPTY_GROUP as number };
        deleted = group ?? groupId;
        return { records: this.groupStateTombstones(shard, deleted), response: ErrorCode.NONE as number };
      });
      if (result !== ErrorCode.NONE) return result;
    } catch (e) {
      return writeErrorCode(e);
    }
    this.dropGroupState(deleted!, 'group deleted');
    return ErrorCode.NONE;
  }
}

/** The tombstone of one committed offset (its key as `offsetKey` makes it). */
function offsetTombstone(groupId: string, key: string): GroupShardRecord {
  return { type: 'offset', group: groupId, ...parseOffsetKey(key), offset: null, producerId: null };
}
