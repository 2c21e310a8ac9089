import type { ReplicationSettings } from '../config/broker-settings.js';
import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { fetchApi } from '../protocol/generated/apis/fetch.js';
import { offsetForLeaderEpochApi } from '../protocol/generated/apis/offset-for-leader-epoch.js';
import { defaultFetchRequest } from '../protocol/generated/messages/fetch-request.js';
import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from '../storage/leader-epoch-cache.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { InterBrokerAuthenticationError, type InterBrokerConnection } from './inter-broker-client.js';
import type { ReplicationQuotaManager } from './replication-quota.js';

/** The Fetch version followers send: v12 carries the replica id, leader epochs and KIP-951's leader hints. */
const REPLICA_FETCH_VERSION = 12;
/** The OffsetForLeaderEpoch version followers send (v3+ carries the replica id; v4 is flexible). */
const OFFSET_FOR_LEADER_EPOCH_VERSION = 4;
/** An answer later than the fetch's own wait by this much counts as lost, and the connection is dropped. */
const REQUEST_TIMEOUT_MARGIN_MS = 30_000;

/** A partition this broker follows, as the topic record says. */
export interface FollowedPartition {
  topic: string;
  partition: number;
  log: PartitionLog;
  leader: number;
  leaderEpoch: number;
}

/**
 * Where a followed partition is (Kafka's PartitionFetchState): truncating (asks its leader where its last epoch
 * ends before fetching: KIP-101/279) or fetching.
 */
type FetchState = 'truncating' | 'fetching';

interface FetchEntry extends FollowedPartition {
  state: FetchState;
  /** Not before this time (Date.now()) is the partition asked for again: backoff after an error. */
  delayedUntil: number;
  /**
   * Its log end reached the leader's high watermark at its last fetch (Kafka's PartitionFetchState.isReplicaInSync:
   * no lag): such a partition is never follower-throttled.
   */
  caughtUp: boolean;
}

/**
 * The replica fetchers of this broker: one per leader broker (num.replica.fetchers=1), each with one connection,
 * fetching every partition this broker follows on that leader (Kafka's ReplicaFetcherManager).
 */
export class ReplicaFetcherManager {
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private readonly leaderOf = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly nodeId: number,
    private readonly settings: ReplicationSettings,
    private readonly connect: (leaderId: number) => InterBrokerConnection,
    private readonly logger: Logger,
    /** Told the record bytes each fetch brought (the ReplicationBytesIn metric). */
    private readonly onBytesIn: (bytes: number) => void = () => {},
    /** KIP-73's follower quota (null: none). */
    private readonly quota: ReplicationQuotaManager | null = null,
  ) {}

  /**
   * Follows `p` from its leader at its epoch: nothing changes when it is followed there already; otherwise it
   * moves (off its previous leader's fetcher) and truncates first, as after every leader change.
   */
  async follow(p: FollowedPartition): Promise<void> {
    if (this.stopped) return;
    const key = keyOf(p.topic, p.partition);
    const previous = this.leaderOf.get(key);
    if (previous !== undefined) {
      const current = this.fetchers.get(previous)?.entry(key);
      if (previous === p.leader && current?.leaderEpoch === p.leaderEpoch && current.log === p.log) return;
      await this.unfollow(p.topic, p.partition);
    }
    let fetcher = this.fetchers.get(p.leader);
    if (!fetcher) {
      fetcher = new ReplicaFetcher(
        p.leader,
        this.nodeId,
        this.settings,
        this.connect,
        this.logger,
        this.onBytesIn,
        this.quota,
      );
      this.fetchers.set(p.leader, fetcher);
    }
    this.leaderOf.set(key, p.leader);
    fetcher.add(key, p);
  }

  /** Stops fetching a partition; resolves once nothing more is written to its log by the fetcher. */
  async unfollow(topic: string, partition: number): Promise<void> {
    const key = keyOf(topic, partition);
    const leader = this.leaderOf.get(key);
    if (leader === undefined) return;
    this.leaderOf.delete(key);
    const fetcher = this.fetchers.get(leader);
    if (!fetcher) return;
    await fetcher.remove(key);
    if (fetcher.isEmpty) {
      this.fetchers.delete(leader);
      await fetcher.stop();
    }
  }

  /** Whether a partition is followed (from any leader). */
  isFollowing(topic: string, partition: number): boolean {
    return this.leaderOf.has(keyOf(topic, partition));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const fetchers = [...this.fetchers.values()];
    this.fetchers.clear();
    this.leaderOf.clear();
    await Promise.all(fetchers.map((f) => f.stop()));
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Fetches the partitions this broker follows on one leader (Kafka's ReplicaFetcherThread), in a loop: first the
 * truncation of those that need it (OffsetForLeaderEpoch for their latest epoch, cut to the leader's answer),
 * then one Fetch for the others with replica_id = this broker, appending what comes as it is and taking the
 * leader's high watermark.
 */
class ReplicaFetcher {
  private readonly partitions = new Map<string, FetchEntry>();
  private connection: InterBrokerConnection | null = null;
  private running: Promise<void> | null = null;
  /** The answer being applied to the logs: a partition removed meanwhile waits for it (see remove()). */
  private applying: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The last round failed (its failure was logged). */
  private failing = false;
  /**
   * This broker could not authenticate to the leader, or the leader refused it CLUSTER_ACTION, and said so in the
   * log: a configuration error, logged once until a round succeeds rather than at every retry.
   */
  private authenticationFailed = false;
  private authorizationFailed = false;
  /** Wakes the loop's pause when a partition is added. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly leaderId: number,
    private readonly nodeId: number,
    private readonly settings: ReplicationSettings,
    private readonly connect: (leaderId: number) => InterBrokerConnection,
    private readonly logger: Logger,
    /** Told the record bytes each fetch brought (the ReplicationBytesIn metric). */
    private readonly onBytesIn: (bytes: number) => void = () => {},
    private readonly quota: ReplicationQuotaManager | null = null,
  ) {}

  get isEmpty(): boolean {
    return this.partitions.size === 0;
  }

  entry(key: string): FetchEntry | undefined {
    return this.partitions.get(key);
  }

  add(key: string, p: FollowedPartition): void {
    this.partitions.set(key, { ...p, state: 'truncating', delayedUntil: 0, caughtUp: false });
    this.wake?.();
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
  }

  /** Removes a partition; resolves once an answer being applied can no longer write to its log. */
  async remove(key: string): Promise<void> {
    this.partitions.delete(key);
    await this.applying;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.connection?.close();
    await this.running;
    await this.applying;
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.partitions.size > 0) {
      try {
        const now = Date.now();
        const ready = [...this.partitions.entries()].filter(([, e]) => e.delayedUntil <= now);
        const truncating = ready.filter(([, e]) => e.state === 'truncating');
        const fetching = this.unthrottled(ready.filter(([, e]) => e.state === 'fetching'));
        if (truncating.length > 0) await this.truncate(truncating);
        else if (fetching.length > 0) await this.fetch(fetching);
        else await this.pause(this.settings.replicaFetchBackoffMs);
        this.failing = false;
        this.authenticationFailed = false;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof InterBrokerAuthenticationError) {
          if (!this.authenticationFailed)
            this.logger.error(
              'replica fetcher cannot authenticate to its leader (inter-broker listener security); retrying after replica.fetch.backoff.ms',
              { leader: this.leaderId, error: error.message },
            );
          this.authenticationFailed = true;
          this.connection?.close();
          this.connection = null;
          await this.pause(this.settings.replicaFetchBackoffMs);
          continue;
        }
        // The leader is down or restarting, or the connection broke: try again after the backoff. Told once per
        // run of failures: a leader down stays down for a while.
        this.logger.log(
          this.failing ? 'debug' : 'warn',
          'replica fetch failed; retrying after replica.fetch.backoff.ms',
          {
            leader: this.leaderId,
            error: (error as Error).message,
          },
        );
        this.failing = true;
        this.connection?.close();
        this.connection = null;
        await this.pause(this.settings.replicaFetchBackoffMs);
      }
    }
  }

  /**
   * KIP-73 (Kafka's shouldFollowerThrottle): while the follower quota is exceeded, the throttled partitions that
   * are behind their leader are left out of the fetch. With nothing left the loop pauses for the backoff, as
   * Kafka's fetcher does on an empty fetch.
   */
  private unthrottled(entries: Array<[string, FetchEntry]>): Array<[string, FetchEntry]> {
    const quota = this.quota;
    if (!quota || entries.length === 0) return entries;
    let exceeded: boolean | undefined;
    return entries.filter(([, e]) => {
      if (e.caughtUp || !quota.isThrottled(e.topic, e.partition)) return true;
      exceeded ??= quota.isQuotaExceeded();
      if (exceeded) quota.recordThrottled();
      return !exceeded;
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private open(): InterBrokerConnection {
    this.connection ??= this.connect(this.leaderId);
    return this.connection;
  }

  /**
   * KIP-101/279: asks the leader where this log's latest epoch ends there; the log is cut to the smaller of that
   * and its own end of the epoch the leader answered (the leader may not know the follower's latest epoch and
   * answer an earlier one). An empty log, or one without epochs, starts fetching at its end.
   */
  private async truncate(entries: Array<[string, FetchEntry]>): Promise<void> {
    const asked: Array<[string, FetchEntry, number]> = [];
    const byTopic = new Map<string, Array<{ partition: number; currentLeaderEpoch: number; leaderEpoch: number }>>();
    for (const [key, e] of entries) {
      const latest = e.log.leaderEpochEntries().at(-1)?.epoch ?? UNDEFINED_EPOCH;
      if (latest === UNDEFINED_EPOCH) {
        e.state = 'fetching';
        continue;
      }
      asked.push([key, e, latest]);
      const list = byTopic.get(e.topic) ?? [];
      list.push({ partition: e.partition, currentLeaderEpoch: e.leaderEpoch, leaderEpoch: latest });
      byTopic.set(e.topic, list);
    }
    if (asked.length === 0) return;
    const response = await this.open().request(
      offsetForLeaderEpochApi,
      OFFSET_FOR_LEADER_EPOCH_VERSION,
      {
        replicaId: this.nodeId,
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      },
      REQUEST_TIMEOUT_MARGIN_MS,
    );
    const answers = new Map<string, { errorCode: number; leaderEpoch: number; endOffset: bigint }>();
    for (const t of response.topics) for (const p of t.partitions) answers.set(keyOf(t.topic, p.partition), p);
    const applying = (async () => {
      for (const [key, e] of asked) {
        if (this.partitions.get(key) !== e) continue;
        const answer = answers.get(key);
        if (!answer) continue;
        if (answer.errorCode !== ErrorCode.NONE) {
          this.onPartitionError(e, answer.errorCode);
          continue;
        }
        let target = e.log.logEndOffset;
        if (answer.leaderEpoch !== UNDEFINED_EPOCH && answer.endOffset !== BigInt(UNDEFINED_EPOCH_OFFSET)) {
          const own = e.log.endOffsetForEpoch(answer.leaderEpoch);
          target = Math.min(Number(answer.endOffset), own.endOffset, target);
        } else {
          // The leader knows no epoch up to this log's latest (its log starts later, or holds none): as Kafka,
          // everything past the high watermark goes, since it cannot be shown to be the leader's.
          target = Math.min(e.log.highWatermark, target);
        }
        if (target < e.log.logEndOffset) {
          this.logger.info('follower truncating its log to its leader', {
            topic: e.topic,
            partition: e.partition,
            leader: this.leaderId,
            from: e.log.logEndOffset,
            to: target,
          });
          await e.log.truncateTo(target);
        }
        e.state = 'fetching';
      }
    })();
    this.applying = applying.catch(() => {});
    await applying;
  }

  private async fetch(entries: Array<[string, FetchEntry]>): Promise<void> {
    const byTopic = new Map<string, Array<{ entry: FetchEntry; fetchOffset: number }>>();
    for (const [, e] of entries) {
      const list = byTopic.get(e.topic) ?? [];
      list.push({ entry: e, fetchOffset: e.log.logEndOffset });
      byTopic.set(e.topic, list);
    }
    const request = defaultFetchRequest();
    request.replicaId = this.nodeId;
    request.maxWaitMs = this.settings.replicaFetchWaitMaxMs;
    request.minBytes = this.settings.replicaFetchMinBytes;
    request.maxBytes = this.settings.replicaFetchResponseMaxBytes;
    request.topics = [...byTopic].map(([topic, list]) => ({
      topic,
      topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
      partitions: list.map(({ entry, fetchOffset }) => ({
        partition: entry.partition,
        currentLeaderEpoch: entry.leaderEpoch,
        fetchOffset: BigInt(fetchOffset),
        lastFetchedEpoch: -1,
        logStartOffset: BigInt(entry.log.logStartOffset),
        partitionMaxBytes: this.settings.replicaFetchMaxBytes,
        replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
      })),
    }));
    const response = await this.open().request(
      fetchApi,
      REPLICA_FETCH_VERSION,
      request,
      this.settings.replicaFetchWaitMaxMs + REQUEST_TIMEOUT_MARGIN_MS,
    );
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`leader answered fetch error ${response.errorCode}`);
    const asked = new Map<string, { entry: FetchEntry; fetchOffset: number }>();
    for (const [topic, list] of byTopic) for (const x of list) asked.set(keyOf(topic, x.entry.partition), x);
    const applying = (async () => {
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const key = keyOf(t.topic, p.partitionIndex);
          const x = asked.get(key);
          if (!x || this.partitions.get(key) !== x.entry) continue;
          const e = x.entry;
          if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
            await this.onOutOfRange(e, x.fetchOffset, Number(p.logStartOffset));
            continue;
          }
          if (p.errorCode !== ErrorCode.NONE) {
            this.onPartitionError(e, p.errorCode);
            continue;
          }
          this.authorizationFailed = false;
          // The log moved under this fetch (a truncation elsewhere): its answer no longer follows on.
          if (e.log.logEndOffset !== x.fetchOffset) continue;
          if (p.records && p.records.length > 0) {
            // The frame is dropped after this answer: the log keeps its own copy of what it appends.
            await e.log.appendAsFollower(Buffer.from(p.records));
            this.onBytesIn(p.records.length);
            if (this.quota?.isThrottled(e.topic, e.partition)) this.quota.record(p.records.length);
          }
          const leaderLogStart = Number(p.logStartOffset);
          if (leaderLogStart > e.log.logStartOffset && leaderLogStart <= e.log.logEndOffset) {
            e.log.advanceLogStartOffset(leaderLogStart);
          }
          e.log.updateHighWatermark(Number(p.highWatermark));
          e.caughtUp = e.log.logEndOffset >= Number(p.highWatermark);
        }
      }
    })();
    this.applying = applying.catch(() => {});
    await applying;
  }

  /**
   * The leader has no such offset: below its log start (it deleted what this follower has not copied yet), the log
   * starts over at the leader's log start (Kafka's truncateFullyAndStartAt); past its end, the follower truncates
   * again by epochs.
   */
  private async onOutOfRange(e: FetchEntry, fetchOffset: number, leaderLogStartOffset: number): Promise<void> {
    if (leaderLogStartOffset >= 0 && fetchOffset < leaderLogStartOffset) {
      this.logger.info('follower behind its leader log start: starting its log over there', {
        topic: e.topic,
        partition: e.partition,
        leader: this.leaderId,
        from: fetchOffset,
        to: leaderLogStartOffset,
      });
      await e.log.truncateFullyAndStartAt(leaderLogStartOffset);
      return;
    }
    e.state = 'truncating';
    e.delayedUntil = Date.now() + this.settings.replicaFetchBackoffMs;
  }

  /**
   * The leader refused the partition: its epoch is fenced or unknown there, or it no longer leads. The record is
   * about to change (and `follow` be called again with the new leader or epoch); until then the partition is asked
   * again after the backoff, from its truncation when the leader changed under it.
   */
  private onPartitionError(e: FetchEntry, errorCode: number): void {
    if (errorCode === ErrorCode.TOPIC_AUTHORIZATION_FAILED || errorCode === ErrorCode.CLUSTER_AUTHORIZATION_FAILED) {
      // Kafka's leader answers a follower without CLUSTER_ACTION on the cluster so: a missing ACL or super user.
      if (!this.authorizationFailed)
        this.logger.error(
          "the leader refused this broker's replica fetch: its inter-broker principal needs CLUSTER_ACTION on the cluster (super.users or an ACL)",
          { leader: this.leaderId, topic: e.topic, partition: e.partition, errorCode },
        );
      this.authorizationFailed = true;
    }
    if (errorCode === ErrorCode.FENCED_LEADER_EPOCH || errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
      e.state = 'truncating';
    }
    e.delayedUntil = Date.now() + this.settings.replicaFetchBackoffMs;
  }
}
