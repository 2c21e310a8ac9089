/**
 * Kafka's ReplicationQuotaManager (KIP-73): the byte rate of the throttled replicas' replication traffic on this
 * broker, as leader (what it sends to followers) or as follower (what its fetchers copy), against the dynamic
 * broker config `leader.replication.throttled.rate` or `follower.replication.throttled.rate`. Which partitions are
 * throttled comes from the topic configs `leader.replication.throttled.replicas` /
 * `follower.replication.throttled.replicas`: the entries naming this broker, or `*`.
 */
import { throttledPartitionsOf } from '../config/topic-config.js';
import { SampledRate } from '../security/sampled-rate.js';

export type ReplicationQuotaType = 'leader' | 'follower';

interface ParsedList {
  text: string | undefined;
  partitions: Set<number> | 'all';
}

export class ReplicationQuotaManager {
  private rate: SampledRate;
  /** The windows `rate` was made for. */
  private rateWindow: { num: number; sizeMs: number };
  private readonly parsed = new Map<string, ParsedList>();
  private readonly configKey: string;
  /** Bytes of throttled partitions recorded (sent as leader, or copied as follower), since start-up. */
  throttledBytes = 0;
  /** Partition fetches left out because the quota was exceeded, since start-up. */
  throttledPartitionFetches = 0;

  constructor(
    readonly type: ReplicationQuotaType,
    private readonly nodeId: number,
    /** The bound, bytes/s (Infinity: none), read at each check so that a dynamic change applies at once. */
    private readonly bound: () => number,
    /** The quota windows: replication.quota.window.num and .size.seconds, read as the bound is. */
    private readonly window: () => { num: number; sizeMs: number },
    /** A topic's config value of this type's throttled-replicas list (undefined: none). */
    private readonly topicConfig: (topic: string, key: string) => string | undefined,
  ) {
    this.configKey = `${type}.replication.throttled.replicas`;
    this.rateWindow = window();
    this.rate = new SampledRate(this.rateWindow.num, this.rateWindow.sizeMs);
  }

  /** Whether this partition's replication traffic here counts against the quota (Kafka's isThrottled). */
  isThrottled(topic: string, partition: number): boolean {
    const text = this.topicConfig(topic, this.configKey);
    if (text === undefined) {
      // No list (or no topic any more): nothing kept for it.
      this.parsed.delete(topic);
      return false;
    }
    let list = this.parsed.get(topic);
    if (!list || list.text !== text) {
      list = { text, partitions: throttledPartitionsOf(text, this.nodeId) };
      this.parsed.set(topic, list);
    }
    return list.partitions === 'all' || list.partitions.has(partition);
  }

  /** Whether the measured rate is over the bound (Kafka's sensor check: rate > bound). */
  isQuotaExceeded(nowMs = Date.now()): boolean {
    const bound = this.bound();
    if (!Number.isFinite(bound)) return false;
    return this.currentRate().rate(nowMs) > bound;
  }

  /** Counts bytes of throttled partitions (Kafka records them without checking the quota). */
  record(bytes: number, nowMs = Date.now()): void {
    if (bytes <= 0) return;
    this.currentRate().record(bytes, nowMs);
    this.throttledBytes += bytes;
  }

  /** A throttled partition left out of a fetch. */
  recordThrottled(): void {
    this.throttledPartitionFetches++;
  }

  /** The measured byte rate (Kafka's `byte-rate` metric of the LeaderReplication / FollowerReplication group). */
  byteRate(nowMs = Date.now()): number {
    return this.currentRate().rate(nowMs);
  }

  /** The rate over the configured windows (a changed window starts the measure over). */
  private currentRate(): SampledRate {
    const w = this.window();
    if (w.num !== this.rateWindow.num || w.sizeMs !== this.rateWindow.sizeMs) {
      this.rate = new SampledRate(w.num, w.sizeMs);
      this.rateWindow = w;
    }
    return this.rate;
  }
}

/** The two quotas of a broker (Kafka's ReplicationQuotaManagers for LeaderReplication and FollowerReplication). */
export interface ReplicationQuotas {
  leader: ReplicationQuotaManager;
  follower: ReplicationQuotaManager;
}

export function createReplicationQuotas(
  nodeId: number,
  settings: {
    leaderReplicationThrottledRate: number;
    followerReplicationThrottledRate: number;
    replicationQuotaWindowNum: number;
    replicationQuotaWindowSizeSeconds: number;
  },
  topicConfig: (topic: string, key: string) => string | undefined,
): ReplicationQuotas {
  const window = () => ({
    num: settings.replicationQuotaWindowNum,
    sizeMs: settings.replicationQuotaWindowSizeSeconds * 1000,
  });
  return {
    leader: new ReplicationQuotaManager(
      'leader',
      nodeId,
      () => settings.leaderReplicationThrottledRate,
      window,
      topicConfig,
    ),
    follower: new ReplicationQuotaManager(
      'follower',
      nodeId,
      () => settings.followerReplicationThrottledRate,
      window,
      topicConfig,
    ),
  };
}
