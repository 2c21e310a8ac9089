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

  constructor(
    private readonly nodeId: number,
    private readonly logManager: LogManager,
    private readonly topics: TopicMetadata,
    private readonly logger: Logger,
  ) {}

  /** Brings the logs in line with the metadata, then follows its changes. */
  async start(): Promise<void> {
    for (const log of [...this.logManager.allLogs()]) {
      const topic = this.topics.get(log.topic);
      const topicId = await this.logManager.topicIdOf(log.topic, log.partition);
      if (!topic || (topicId !== undefined && topicId !== topic.id) || !this.hostsPartition(topic, log.partition)) {
        this.logger.info('deleting log of a partition no longer here', { topic: log.topic, partition: log.partition });
        await this.logManager.deleteLog(log.topic, log.partition);
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

  private hostsPartition(topic: TopicRecord, partition: number): boolean {
    return topic.partitions.some((p) => p.partition === partition && p.replicas.includes(this.nodeId));
  }

  private async reconcile(name: string): Promise<void> {
    try {
      const topic = this.topics.get(name);
      for (const log of [...this.logManager.allLogs()]) {
        if (log.topic !== name) continue;
        if (
          !topic ||
          !this.hostsPartition(topic, log.partition) ||
          (await this.logManager.topicIdOf(name, log.partition)) !== topic.id
        ) {
          const key = partitionWaitKey(name, log.partition);
          this.unsubscribes.get(key)?.();
          // Forgotten too, so that a log re-created under this name gets its own subscription.
          this.unsubscribes.delete(key);
          await this.logManager.deleteLog(name, log.partition);
        }
      }
      if (!topic) return;
      this.logManager.refreshConfig(name);
      for (const p of topic.partitions) {
        if (!p.replicas.includes(this.nodeId)) continue;
        const log =
          this.logManager.getLog(name, p.partition) ?? (await this.logManager.createLog(name, p.partition, topic.id));
        const key = partitionWaitKey(name, p.partition);
        if (!this.unsubscribes.has(key)) {
          this.unsubscribes.set(
            key,
            log.onAppend(() => this.delayedFetches.notify(key)),
          );
        }
      }
    } catch (error) {
      this.logger.error('could not apply topic change', { topic: name, error: error as Error });
    }
  }

  /** The log of a partition led here, or Kafka's error for it. */
  lookup(topicName: string, partition: number): PartitionLookup {
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
