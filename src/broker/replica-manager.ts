import { MetadataStoreUnreachableError } from '../cluster/metadata-store.js';
import type { PartitionAssignment, TopicMetadata, TopicRecord } from '../cluster/topic-metadata.js';
import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { DelayedOperations } from './delayed-operations.js';
import type { ReplicaFetcherManager } from './replica-fetcher.js';

/** What the leader knows of one follower of a partition (Kafka's ReplicaState). */
interface FollowerState {
  /** Its log end offset: the offset of its last fetch (-1 until it fetched from this leader). */
  logEndOffset: number;
  /** Its log start offset, as its last fetch said (-1 until then). */
  logStartOffset: number;
  /** When it last had everything this leader had (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpTimeMs: number;
  /** Its previous fetch's time, and the leader's log end offset then. */
  lastFetchTimeMs: number;
  lastFetchLeaderLogEndOffset: number;
}

/** A partition led here (Kafka's Partition as leader): its followers and ISR, at one leader epoch. */
interface LeaderState {
  topic: string;
  partition: number;
  leaderEpoch: number;
  /** The log end offset when this broker became leader: a follower joins the ISR only once past it. */
  epochStartOffset: number;
  replicas: number[];
  isr: number[];
  followers: Map<number, FollowerState>;
  /** An ISR change is being written to the topic record. */
  isrChangeInFlight: boolean;
  /**
   * Members of ISR changes being written, or written with no answer (etcd out of reach), that the record does not
   * show yet: the high watermark waits for them too (Kafka's maximal ISR), since the store may list them already
   * and the controller elect one of them.
   */
  pendingIsr: number[] | null;
  /** A write's outcome is unknown: the record is read again once etcd answers (settleUnknownIsrChange). */
  isrOutcomeUnknown: boolean;
  /** settleUnknownIsrChange is reading the records again. */
  resyncing: boolean;
}

/** How often the records are read again after an ISR change whose outcome is unknown, until etcd answers. */
const ISR_RESYNC_RETRY_MS = 1_000;

/** How a partition replicated here is served: by its leader, or copied by a follower from it. */
export interface ReplicationOptions {
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  /** The fetchers copying the partitions followed here (null: this broker follows nothing). */
  fetchers: ReplicaFetcherManager | null;
  /**
   * Whether a broker may join an ISR (KIP-841): only a registered broker, since the controller elects leaders
   * from the ISR among registered brokers only, and one cut off from the store may still reach the leader.
   * Absent: every replica may.
   */
  isrEligible?: (nodeId: number) => boolean;
  now?: () => number;
}

/** Called when this broker starts or stops leading a partition (the coordinators load and unload theirs). */
export type LeadershipListener = (topic: string, partition: number, leading: boolean) => void;

/** A partition's log, or the error a request for it gets. */
export type PartitionLookup =
  | { log: PartitionLog; topic: TopicRecord; assignment: PartitionAssignment }
  | { errorCode: number };

export function partitionWaitKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * What becomes of a partition log on disk, judged against the metadata. A log is deleted only when the
 * metadata says so (its topic id recorded as deleted, or, for a change seen while running, the partition
 * moved away); a log the metadata cannot account for is set aside as a stray, never deleted.
 */
type LogDisposition = 'keep' | 'rewrite-partition-metadata' | 'delete' | 'stray';

/**
 * The partitions this broker holds (Kafka's ReplicaManager): it keeps the logs on disk in line with the
 * topic metadata (a log for each partition assigned here, none for deleted or re-created topics) and wakes
 * delayed fetches when a partition's high watermark moves.
 */
export class ReplicaManager {
  /** Long-polling fetches, keyed by partitionWaitKey. */
  readonly delayedFetches = new DelayedOperations();
  /** acks=all produces waiting for the high watermark to pass their records (Kafka's produce purgatory). */
  readonly delayedProduces = new DelayedOperations();
  /** The partitions led here, by log. */
  private readonly leaders = new Map<PartitionLog, LeaderState>();
  private readonly leadershipListeners = new Set<LeadershipListener>();
  private isrTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly unsubscribes = new Map<string, () => void>();
  private stopWatching: (() => void) | null = null;
  /** Serialises reconciliation so that creations and deletions apply in the order seen. */
  private reconciling: Promise<void> = Promise.resolve();
  /** Why the logs of a topic could not be brought in line with its metadata, until they are. */
  private readonly failures = new Map<string, Error>();
  /** Set when the broker's registration lease is lost: it leads nothing any more (see fence()). */
  private fenced = false;

  constructor(
    private readonly nodeId: number,
    private readonly logManager: LogManager,
    private readonly topics: TopicMetadata,
    private readonly logger: Logger,
    private readonly replication: ReplicationOptions = { replicaLagTimeMaxMs: 30_000, fetchers: null },
  ) {
    this.now = replication.now ?? Date.now;
  }

  /** Brings the logs in line with the metadata, then follows its changes. */
  async start(): Promise<void> {
    for (const log of [...this.logManager.allLogs()]) {
      try {
        await this.applyDisposition(log.topic, log.partition, true);
      } catch (error) {
        // Tried again when the topic next changes, and at the next start; the other logs are not held up.
        this.logger.error('could not bring a log in line with the metadata', {
          topic: log.topic,
          partition: log.partition,
          error: error as Error,
        });
      }
    }
    for (const topic of this.topics.all()) await this.reconcile(topic.name);
    this.stopWatching = this.topics.onChange((names) => {
      for (const name of names) this.reconciling = this.reconciling.then(() => this.reconcile(name));
    });
    // Kafka's isr-expiration task: half the lag time, so that a follower leaves the ISR at most 1.5 lag times late.
    const interval = Math.max(1, Math.floor(this.replication.replicaLagTimeMaxMs / 2));
    this.isrTimer = setInterval(() => this.shrinkIsrs(), interval);
    this.isrTimer.unref();
  }

  /** Calls `listener` whenever this broker starts or stops leading a partition. */
  onLeadershipChange(listener: LeadershipListener): () => void {
    this.leadershipListeners.add(listener);
    return () => this.leadershipListeners.delete(listener);
  }

  /** Waits until the logs reflect every metadata change seen so far. */
  settled(): Promise<void> {
    return this.reconciling;
  }

  /**
   * Why a topic's logs are not all there (after `settled()`): the error that stopped their creation, or
   * null when every partition assigned here has its log.
   */
  logsMissing(name: string): Error | null {
    const topic = this.topics.get(name);
    if (!topic) return null;
    const missing = topic.partitions.filter(
      (p) => p.replicas.includes(this.nodeId) && !this.logManager.getLog(name, p.partition),
    );
    if (missing.length === 0) return null;
    return this.failures.get(name) ?? new Error(`no log for partitions ${missing.map((p) => p.partition).join(',')}`);
  }

  private hostsPartition(topic: TopicRecord, partition: number): boolean {
    return topic.partitions.some((p) => p.partition === partition && p.replicas.includes(this.nodeId));
  }

  private disposition(name: string, partition: number, starting: boolean): LogDisposition {
    const topic = this.topics.get(name);
    const topicId = this.logManager.topicIdOf(name, partition);
    if (topic && topicId === topic.id) {
      if (this.hostsPartition(topic, partition)) return 'keep';
      // A change seen while running moved the partition away; at start-up the reason cannot be known.
      return starting ? 'stray' : 'delete';
    }
    if (topicId !== undefined && this.topics.isDeleted(topicId)) return 'delete';
    if (topic && topicId === undefined && this.hostsPartition(topic, partition)) return 'rewrite-partition-metadata';
    return 'stray';
  }

  private async applyDisposition(name: string, partition: number, starting: boolean): Promise<void> {
    const disposition = this.disposition(name, partition, starting);
    if (disposition === 'keep') return;
    if (disposition === 'rewrite-partition-metadata') {
      const topicId = this.topics.get(name)!.id;
      const path = await this.logManager.rewritePartitionMetadata(name, partition, topicId);
      this.logger.warn('partition.metadata missing or unreadable, written again from the metadata', { path, topicId });
      return;
    }
    const key = partitionWaitKey(name, partition);
    this.unsubscribes.get(key)?.();
    // Forgotten too, so that a log re-created under this name gets its own subscription.
    this.unsubscribes.delete(key);
    await this.replication.fetchers?.unfollow(name, partition);
    const log = this.logManager.getLog(name, partition);
    if (log) this.resign(log);
    if (disposition === 'delete') {
      this.logger.info('deleting log of a deleted topic or of a partition moved away', {
        topic: name,
        partition,
        topicId: this.logManager.topicIdOf(name, partition),
      });
      await this.logManager.deleteLog(name, partition);
      return;
    }
    const topicId = this.logManager.topicIdOf(name, partition);
    const path = await this.logManager.strayLog(name, partition);
    this.logger.warn(
      'log not known to the metadata, kept aside as a stray log (not served, not deleted). To serve it again: ' +
        'create the topic if needed, stop the broker, replace the partition directory with this one without its ' +
        'partition.metadata, and start the broker',
      { path, topic: name, partition, topicId: topicId ?? 'unknown', metadataTopicId: this.topics.get(name)?.id },
    );
  }

  private async reconcile(name: string): Promise<void> {
    try {
      for (const log of [...this.logManager.allLogs()]) {
        if (log.topic === name) await this.applyDisposition(name, log.partition, false);
      }
      const topic = this.topics.get(name);
      if (!topic) {
        this.failures.delete(name);
        return;
      }
      this.logManager.refreshConfig(name);
      for (const p of topic.partitions) {
        if (!p.replicas.includes(this.nodeId)) continue;
        const log =
          this.logManager.getLog(name, p.partition) ?? (await this.logManager.createLog(name, p.partition, topic.id));
        const key = partitionWaitKey(name, p.partition);
        if (!this.unsubscribes.has(key)) {
          this.unsubscribes.set(
            key,
            log.onAppend(() => this.onLogMoved(log, key)),
          );
        }
        if (p.leader === this.nodeId) await this.makeLeader(log, p);
        else await this.makeFollower(log, p);
      }
      this.failures.delete(name);
    } catch (error) {
      this.failures.set(name, error as Error);
      this.logger.error('could not apply topic change', { topic: name, error: error as Error });
    }
  }

  /**
   * This broker leads `p` (Kafka's makeLeader): it stops fetching it, its appends carry the record's epoch, and,
   * at a new epoch, every follower starts unknown (those in the ISR counted caught up now, as Kafka does) until it
   * fetches. The ISR is the record's; the high watermark is recomputed from it.
   */
  private async makeLeader(log: PartitionLog, p: PartitionAssignment): Promise<void> {
    await this.replication.fetchers?.unfollow(log.topic, p.partition);
    this.becomeLeader(log, p.leaderEpoch);
    log.setReplicated(p.replicas.length > 1);
    let state = this.leaders.get(log);
    const wasLeader = state !== undefined;
    if (!state || state.leaderEpoch !== p.leaderEpoch) {
      const now = this.now();
      const followers = new Map<number, FollowerState>();
      for (const id of p.replicas) {
        if (id === this.nodeId) continue;
        followers.set(id, {
          logEndOffset: -1,
          logStartOffset: -1,
          lastCaughtUpTimeMs: p.isr.includes(id) ? now : 0,
          lastFetchTimeMs: 0,
          lastFetchLeaderLogEndOffset: -1,
        });
      }
      state = {
        topic: log.topic,
        partition: p.partition,
        leaderEpoch: p.leaderEpoch,
        epochStartOffset: log.logEndOffset,
        replicas: [...p.replicas],
        isr: [...p.isr],
        followers,
        isrChangeInFlight: false,
        pendingIsr: null,
        isrOutcomeUnknown: false,
        resyncing: false,
      };
      this.leaders.set(log, state);
      if (wasLeader) this.delayedProduces.notify(partitionWaitKey(log.topic, p.partition));
    } else {
      state.replicas = [...p.replicas];
      state.isr = [...p.isr];
      for (const id of p.replicas) {
        if (id !== this.nodeId && !state.followers.has(id)) {
          state.followers.set(id, {
            logEndOffset: -1,
            logStartOffset: -1,
            lastCaughtUpTimeMs: 0,
            lastFetchTimeMs: 0,
            lastFetchLeaderLogEndOffset: -1,
          });
        }
      }
    }
    if (log.isReplicated) this.maybeIncrementHighWatermark(log, state);
    // A shrunk ISR may complete acks=all produces (or fail them NOT_ENOUGH_REPLICAS_AFTER_APPEND).
    this.delayedProduces.notify(partitionWaitKey(log.topic, p.partition));
    if (!wasLeader) this.announce(log.topic, p.partition, true);
  }

  /**
   * Another broker leads `p` (Kafka's makeFollower): this broker stops serving it (acks=all produces waiting
   * on it fail NOT_LEADER_OR_FOLLOWER), its high watermark comes from the leader, and it fetches from the
   * leader after truncating (the fetcher does both; nothing changes when it already follows that leader and
   * epoch).
   */
  private async makeFollower(log: PartitionLog, p: PartitionAssignment): Promise<void> {
    this.resign(log);
    log.setReplicated(true);
    if (p.leader < 0 || !this.replication.fetchers) return;
    await this.replication.fetchers.follow({
      topic: log.topic,
      partition: p.partition,
      log,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
    });
  }

  /** Stops leading the partition of `log`, if it was led here. */
  private resign(log: PartitionLog): void {
    if (!this.leaders.delete(log)) return;
    const key = partitionWaitKey(log.topic, log.partition);
    this.delayedProduces.notify(key);
    // Long polls on it read it again and answer NOT_LEADER_OR_FOLLOWER now, so that consumers move at once.
    this.delayedFetches.notify(key);
    this.announce(log.topic, log.partition, false);
  }

  private announce(topic: string, partition: number, leading: boolean): void {
    for (const listener of this.leadershipListeners) {
      try {
        listener(topic, partition, leading);
      } catch (error) {
        this.logger.error('leadership listener failed', { topic, partition, error: error as Error });
      }
    }
  }

  /** The log's high watermark or log end moved: wake the fetches and produces waiting on it. */
  private onLogMoved(log: PartitionLog, key: string): void {
    if (log.isReplicated) {
      const state = this.leaders.get(log);
      // The leader's own log end is one of the ISR's: with the followers there, the high watermark may move.
      if (state) this.maybeIncrementHighWatermark(log, state);
      this.delayedProduces.notify(key);
    }
    this.delayedFetches.notify(key);
  }

  /**
   * The high watermark of a replicated partition led here: the lowest log end offset of the ISR, the leader's
   * included (Kafka's maybeIncrementLeaderHW). A follower in the ISR that has not fetched since this broker became
   * leader holds it back. It only moves forward.
   */
  private maybeIncrementHighWatermark(log: PartitionLog, state: LeaderState): void {
    let highWatermark = log.logEndOffset;
    // While an ISR change is unresolved, the maximal ISR (KIP-497): the members of either. A member counted twice
    // changes nothing.
    const members = state.pendingIsr === null ? state.isr : [...state.isr, ...state.pendingIsr];
    for (const id of members) {
      if (id === this.nodeId) continue;
      const follower = state.followers.get(id);
      if (!follower || follower.logEndOffset < 0) return;
      highWatermark = Math.min(highWatermark, follower.logEndOffset);
    }
    log.updateHighWatermark(highWatermark);
  }

  /**
   * A follower fetched the partition from `fetchOffset` (Kafka's updateFollowerFetchState): it holds everything
   * below it. It is caught up when it fetched from the leader's log end, or from where the leader's log ended at
   * its previous fetch (then as of that fetch). The high watermark may move, and the follower join the ISR.
   * Returns NOT_LEADER_OR_FOLLOWER when `replicaId` is not one of the partition's replicas.
   */
  updateFollowerFetchState(log: PartitionLog, replicaId: number, fetchOffset: number, logStartOffset = -1): number {
    const state = this.leaders.get(log);
    const follower = state?.followers.get(replicaId);
    if (!state || !follower) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    // An offset the log does not have says nothing of the follower (the read answers OFFSET_OUT_OF_RANGE).
    if (fetchOffset > log.logEndOffset || fetchOffset < log.logStartOffset) return ErrorCode.NONE;
    const now = this.now();
    const leaderEnd = log.logEndOffset;
    if (fetchOffset >= leaderEnd) follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, now);
    else if (fetchOffset >= follower.lastFetchLeaderLogEndOffset)
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, follower.lastFetchTimeMs);
    follower.logEndOffset = fetchOffset;
    follower.logStartOffset = logStartOffset;
    follower.lastFetchTimeMs = now;
    follower.lastFetchLeaderLogEndOffset = leaderEnd;
    if (log.isReplicated) this.maybeIncrementHighWatermark(log, state);
    // Kafka's maybeExpandIsr: caught up to the high watermark, and past the start of this leader's epoch.
    // KIP-841: and registered, so that a follower cut off from the store is not written back into the ISR.
    if (
      !state.isr.includes(replicaId) &&
      fetchOffset >= log.highWatermark &&
      fetchOffset >= state.epochStartOffset &&
      (this.replication.isrEligible?.(replicaId) ?? true)
    ) {
      this.alterIsr(state, (isr) =>
        isr.includes(replicaId) ? null : state.replicas.filter((id) => id === replicaId || isr.includes(id)),
      );
    }
    return ErrorCode.NONE;
  }

  /** Kafka's maybeShrinkIsr, for every partition led here: followers not caught up for replica.lag.time.max.ms leave. */
  private shrinkIsrs(): void {
    // A fenced broker may no longer be the leader: it changes no ISR.
    if (this.fenced) return;
    const now = this.now();
    const lagMax = this.replication.replicaLagTimeMaxMs;
    for (const state of this.leaders.values()) {
      if (state.isr.length <= 1) continue;
      const lagging = (id: number) => {
        if (id === this.nodeId) return false;
        const f = state.followers.get(id);
        return !f || now - f.lastCaughtUpTimeMs > lagMax;
      };
      if (!state.isr.some(lagging)) continue;
      this.alterIsr(state, (isr) => (isr.some(lagging) ? isr.filter((id) => !lagging(id)) : null));
    }
  }

  /**
   * Writes an ISR change to the topic record, compare-and-set (Kafka's AlterPartition): only while the record
   * still names this broker as leader at the epoch it leads under; on a concurrent change the record is read again
   * and `change` asked again (null: nothing to change any more). The record's change comes back through the watch
   * (makeLeader), which moves the high watermark.
   */
  private alterIsr(state: LeaderState, change: (isr: number[]) => number[] | null): void {
    if (state.isrChangeInFlight) return;
    state.isrChangeInFlight = true;
    const { topic, partition, leaderEpoch } = state;
    void this.topics
      .modify(topic, (current) => {
        const a = current.partitions[partition];
        if (!a || a.leader !== this.nodeId || a.leaderEpoch !== leaderEpoch) return null;
        const isr = change(a.isr);
        if (!isr || isr.length === 0 || sameMembers(isr, a.isr)) return null;
        // Counted before the write is sent: once sent, etcd may apply it whatever this broker hears back.
        state.pendingIsr = [...new Set([...(state.pendingIsr ?? []), ...isr])];
        const partitions = current.partitions.map((x) => (x.partition === partition ? { ...x, isr } : x));
        return { ...current, partitions };
      })
      .then(
        (outcome) => {
          // Written and in this broker's view now (makeLeader takes it up next), or known not written (a
          // compare-and-set that failed): the record says who is in the ISR, unless an earlier write's outcome is
          // still unknown. (Waiting here for makeLeader would hold every later ISR change of the partition behind
          // the reconciliation of all topics.)
          if (outcome === 'updated' || !state.isrOutcomeUnknown) state.pendingIsr = null;
          if (outcome === 'updated') {
            const isr = this.topics.get(topic)?.partitions[partition]?.isr;
            this.logger.info('ISR changed', { topic, partition, leaderEpoch, isr: isr?.join(',') ?? '' });
          }
        },
        (error: unknown) => {
          if (error instanceof MetadataStoreUnreachableError) {
            state.isrOutcomeUnknown = true;
            this.settleUnknownIsrChange(state);
          } else if (!state.isrOutcomeUnknown) state.pendingIsr = null;
          this.logger.warn('ISR change not written', { topic, partition, error: error as Error });
        },
      )
      .finally(() => {
        state.isrChangeInFlight = false;
      });
  }

  /**
   * An ISR change was sent but etcd did not answer: it may be applied or not. The members it named stay counted
   * for the high watermark until the records are read again from etcd (and applied here), every
   * ISR_RESYNC_RETRY_MS until it answers or this broker no longer leads the partition at that epoch.
   */
  private settleUnknownIsrChange(state: LeaderState): void {
    const current = () => {
      for (const [log, s] of this.leaders) if (s === state) return log;
      return null;
    };
    const settle = async () => {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, ISR_RESYNC_RETRY_MS).unref());
        if (this.isrTimer === null || !current()) return;
        try {
          await this.topics.resync();
          await this.settled();
          break;
        } catch {
          // Still out of reach: try again.
        }
      }
      const log = current();
      if (!log) return;
      state.isrOutcomeUnknown = false;
      // A change in flight clears the members when its outcome is known.
      if (!state.isrChangeInFlight) state.pendingIsr = null;
      if (log.isReplicated) this.maybeIncrementHighWatermark(log, state);
      this.delayedProduces.notify(partitionWaitKey(log.topic, log.partition));
    };
    if (state.resyncing) return;
    state.resyncing = true;
    void settle().finally(() => {
      state.resyncing = false;
    });
  }

  /**
   * Resolves with Kafka's answer to an acks=all produce whose records end before `requiredOffset`, once the high
   * watermark passes them: NONE, or NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below
   * `minInsyncReplicas` meanwhile; NOT_LEADER_OR_FOLLOWER when this broker stopped leading the partition;
   * REQUEST_TIMED_OUT after `timeoutMs`.
   */
  async waitForHighWatermark(
    log: PartitionLog,
    requiredOffset: number,
    minInsyncReplicas: number,
    timeoutMs: number,
  ): Promise<number> {
    let errorCode: number = ErrorCode.REQUEST_TIMED_OUT;
    const state = this.leaders.get(log);
    const done = await this.delayedProduces.wait([partitionWaitKey(log.topic, log.partition)], timeoutMs, () => {
      if (this.fenced || this.leaders.get(log) !== state || !state) {
        errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
        return true;
      }
      if (log.highWatermark < requiredOffset) return false;
      errorCode = state.isr.length >= minInsyncReplicas ? ErrorCode.NONE : ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND;
      return true;
    });
    return done ? errorCode : ErrorCode.REQUEST_TIMED_OUT;
  }

  /**
   * Kafka's leader epoch check of a client's or follower's request that names the epoch it knows (-1: none):
   * FENCED_LEADER_EPOCH when older than the partition's, UNKNOWN_LEADER_EPOCH when newer.
   */
  static leaderEpochError(assignment: PartitionAssignment, currentLeaderEpoch: number): number {
    if (currentLeaderEpoch < 0 || currentLeaderEpoch === assignment.leaderEpoch) return ErrorCode.NONE;
    return currentLeaderEpoch < assignment.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
  }

  /**
   * Appends to a partition led here carry its leader epoch. A log already holding a later epoch than the
   * metadata (data brought from elsewhere) keeps its own: an epoch never goes back in a log.
   */
  private becomeLeader(log: PartitionLog, leaderEpoch: number): void {
    if (leaderEpoch === log.leaderEpoch) return;
    if (leaderEpoch < log.leaderEpoch) {
      this.logger.warn('the log holds a later leader epoch than the metadata: appends keep the later one', {
        topic: log.topic,
        partition: log.partition,
        metadataLeaderEpoch: leaderEpoch,
        logLeaderEpoch: log.leaderEpoch,
      });
      return;
    }
    log.becomeLeader(leaderEpoch);
  }

  /**
   * Stops leading every partition: the broker's registration lease is lost, so the cluster counts it as dead and
   * may give its partitions to another broker; acknowledging a write here then could make two leaders. Every
   * later lookup answers NOT_LEADER_OR_FOLLOWER, until unfence() (the broker registered again).
   */
  fence(): void {
    this.fenced = true;
    // acks=all writes waiting for the replicas end now, NOT_LEADER_OR_FOLLOWER: this broker may no longer lead.
    for (const log of this.leaders.keys()) this.delayedProduces.notify(partitionWaitKey(log.topic, log.partition));
  }

  /** Registered again: lookups answer from the topic records again (which say who leads each partition). */
  unfence(): void {
    this.fenced = false;
  }

  /** Whether the broker is fenced (fence() without a later unfence()). */
  get isFenced(): boolean {
    return this.fenced;
  }

  /** The log of a partition led here, or Kafka's error for it. */
  lookup(topicName: string, partition: number): PartitionLookup {
    if (this.fenced) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    const topic = this.topics.get(topicName);
    if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    // Partitions are numbered from 0 without gaps, so the assignment of partition p is at index p.
    const assignment = topic.partitions[partition];
    if (assignment?.partition !== partition) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (assignment.leader !== this.nodeId) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    const log = this.logManager.getLog(topicName, partition);
    // The topic exists but its log is still being created by reconciliation.
    if (!log) return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE };
    // The record names this broker, but it has not taken the leadership at that epoch yet (it is truncating or
    // still fetching as a follower of the previous epoch).
    if (this.leaders.get(log)?.leaderEpoch !== assignment.leaderEpoch) {
      return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    }
    return { log, topic, assignment };
  }

  /**
   * A partition's log for a consumer that may read from followers (Fetch v11+, KIP-392): its log where this broker
   * leads it (as `lookup`) or holds one of its replicas, reads then stopping at the high watermark the leader
   * passed on. Kafka's errors otherwise.
   */
  lookupForConsumer(topicName: string, partition: number): PartitionLookup & { follower?: boolean } {
    const found = this.lookup(topicName, partition);
    if (!('errorCode' in found) || found.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER || this.fenced) return found;
    const topic = this.topics.get(topicName)!;
    const assignment = topic.partitions[partition]!;
    // A broker named leader that has not taken the leadership yet is no follower either.
    if (assignment.leader === this.nodeId || !assignment.replicas.includes(this.nodeId)) return found;
    const log = this.logManager.getLog(topicName, partition);
    if (!log || this.leaders.has(log)) return found;
    return { log, topic, assignment, follower: true };
  }

  /**
   * The followers a consumer could read a partition led here from, at `fetchOffset` (Kafka's
   * findPreferredReadReplica): those in the ISR (a lagging follower would hold the consumer back, KAFKA-14372)
   * whose log, as of their last fetch, holds that offset. Empty when this broker does not lead the partition.
   */
  readReplicaCandidates(
    log: PartitionLog,
    fetchOffset: number,
  ): Array<{ nodeId: number; logEndOffset: number; timeSinceLastCaughtUpMs: number }> {
    const state = this.leaders.get(log);
    if (!state) return [];
    const now = this.now();
    const candidates = [];
    for (const [nodeId, f] of state.followers) {
      if (!state.isr.includes(nodeId) || f.logEndOffset < fetchOffset || f.logStartOffset > fetchOffset) continue;
      if (f.logStartOffset < 0) continue;
      candidates.push({ nodeId, logEndOffset: f.logEndOffset, timeSinceLastCaughtUpMs: now - f.lastCaughtUpTimeMs });
    }
    return candidates;
  }

  /**
   * For /metrics (Kafka's ReplicaManager gauges): the partitions this broker leads, and those it leads with a
   * smaller ISR than replica set.
   */
  replicationCounts(): { leaders: number; underReplicated: number } {
    let underReplicated = 0;
    for (const state of this.leaders.values()) if (state.isr.length < state.replicas.length) underReplicated++;
    return { leaders: this.leaders.size, underReplicated };
  }

  /**
   * Stops copying from leaders, for good: a broker shutting down must not catch up and be taken back into an ISR
   * it is leaving (as KIP-841 keeps a broker in controlled shutdown out of ISR expansions).
   */
  async stopFetching(): Promise<void> {
    await this.replication.fetchers?.stop();
  }

  /** Stops following the topic changes, the fetchers and the ISR checks; waiting operations end now. */
  async stop(): Promise<void> {
    this.stopWatching?.();
    if (this.isrTimer) clearInterval(this.isrTimer);
    this.isrTimer = null;
    for (const off of this.unsubscribes.values()) off();
    this.unsubscribes.clear();
    this.delayedFetches.cancelAll();
    this.delayedProduces.cancelAll();
    await this.reconciling;
    await this.replication.fetchers?.stop();
  }
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
