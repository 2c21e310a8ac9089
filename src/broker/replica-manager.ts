import type { PartitionAssignment, TopicMetadata, TopicRecord } from '../cluster/topic-metadata.js';
import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { DelayedOperations } from './delayed-operations.js';

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
  ) {}

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
        if (p.leader === this.nodeId) this.becomeLeader(log, p.leaderEpoch);
        const key = partitionWaitKey(name, p.partition);
        if (!this.unsubscribes.has(key)) {
          this.unsubscribes.set(
            key,
            log.onAppend(() => this.delayedFetches.notify(key)),
          );
        }
      }
      this.failures.delete(name);
    } catch (error) {
      this.failures.set(name, error as Error);
      this.logger.error('could not apply topic change', { topic: name, error: error as Error });
    }
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
    return { log, topic, assignment };
  }

  stop(): void {
    this.stopWatching?.();
    for (const off of this.unsubscribes.values()) off();
    this.unsubscribes.clear();
    this.delayedFetches.cancelAll();
  }
}
