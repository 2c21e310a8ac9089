import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { ErrorCode } from '../protocol/errors.js';
import type { ConnectionThrottleStats } from '../server/connection-quotas.js';
import type { ReplicationQuotas } from './replication-quota.js';

/**
 * The broker's metrics, named as Prometheus' JMX exporter names Kafka's MBeans (docs/METRICS.md has the table).
 *
 * The hot paths (produce, fetch, every request) only add to plain numbers held in objects cached per topic and
 * per API: prom-client's labelled children hash their labels into a string on every increment, which is an
 * allocation per call. The prom-client metrics are filled from these numbers when /metrics is scraped, and the
 * gauges (log sizes, purgatory sizes, group lag) are computed then too, so that an idle broker pays nothing.
 * prom-client itself is loaded on the first scrape (metrics-registry.ts): a broker without samsa.http.listener
 * never loads it.
 */

/** Counts of one topic, or of all topics together (Kafka's BrokerTopicMetrics). */
export interface TopicStats {
  messagesIn: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Upper bounds of the request latency buckets, in milliseconds (Kafka's TotalTimeMs is in milliseconds; the
 * exporter keeps the unit in the name).
 */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] as const;

/** One request API (or Kafka's FetchConsumer view of Fetch): counts per version and its latency histogram. */
export interface ApiStats {
  name: string;
  /** Requests by version. */
  requests: number[];
  /** Errors in responses by error code, NONE included (Kafka counts every error field of a response). */
  errors: Map<number, number>;
  /** Counts per bucket of LATENCY_BUCKETS_MS, the last one +Inf. */
  latencyBuckets: Float64Array;
  latencySumMs: number;
  latencyCount: number;
}

function newApiStats(name: string): ApiStats {
  return {
    name,
    requests: [],
    errors: new Map(),
    latencyBuckets: new Float64Array(LATENCY_BUCKETS_MS.length + 1),
    latencySumMs: 0,
    latencyCount: 0,
  };
}

/** Kafka's api keys of the two APIs counted in detail. */
const PRODUCE_KEY = 0;
const FETCH_KEY = 1;

/** A partition log as the scrape reads it. */
export interface PartitionLogView {
  topic: string;
  partition: number;
  sizeInBytes: number;
  segmentCount: number;
  logStartOffset: number;
  logEndOffset: number;
}

/** Committed offsets of one group, by partition. */
export interface GroupOffsetsView {
  groupId: string;
  offsets: Iterable<{ topic: string; partition: number; offset: number }>;
}

/** What a scrape reads from the running broker. */
export interface MetricSources {
  logs(): Iterable<PartitionLogView>;
  /** The high watermark of a partition hosted here, or null. */
  highWatermark(topic: string, partition: number): number | null;
  groups(): Iterable<GroupOffsetsView>;
  /** Connections open on each Kafka listener, by listener name. */
  connections(): Iterable<{ listener: string; count: number; throttles: ConnectionThrottleStats }>;
  /** Long-polling fetches waiting (Kafka's fetch purgatory). */
  delayedFetches(): number;
  /** The partitions led here, and those led here with a smaller ISR than replica set. */
  replication(): { leaders: number; underReplicated: number };
  /** Whether a topic still exists: counts of deleted topics are dropped, as Kafka removes their metrics. */
  topicExists(name: string): boolean;
  /** KIP-73's replication quotas (null until the broker is started). */
  replicationQuotas(): ReplicationQuotas | null;
}

/** The counts the hooks below keep, as a scrape reads them. */
export interface MetricCounts {
  topics: Map<string, TopicStats>;
  allTopics: TopicStats;
  apis: ReadonlyArray<ApiStats | undefined>;
  fetchConsumer: ApiStats;
  delayedProduces(): number;
  /** Record bytes between replicas (Kafka's ReplicationBytesInPerSec / ReplicationBytesOutPerSec, broker-wide). */
  replication: { bytesIn: number; bytesOut: number };
}

export class BrokerMetrics {
  /** Off (no samsa.http.listener): every hook returns at once. */
  readonly enabled: boolean;
  private readonly topics = new Map<string, TopicStats>();
  private readonly allTopics: TopicStats = { messagesIn: 0, bytesIn: 0, bytesOut: 0 };
  /** Replication traffic, kept out of the topics' bytes in and out as Kafka keeps it. */
  private readonly replication = { bytesIn: 0, bytesOut: 0 };
  /** By api key. */
  private readonly apis: Array<ApiStats | undefined> = [];
  /** Kafka counts a consumer's Fetch also as FetchConsumer (a follower's as FetchFollower; none here). */
  private readonly fetchConsumer = newApiStats('FetchConsumer');
  /** Produce requests waiting for their appends to be durable (acks=all): Kafka's produce purgatory. */
  private delayedProduces = 0;
  private registry: Promise<Registry> | null = null;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  /** Messages in, bytes in and bytes out over all topics since start-up (the web console's rates). */
  throughputTotals(): { messagesIn: number; bytesIn: number; bytesOut: number } {
    return { ...this.allTopics };
  }

  /** Records appended to a topic's log, and the bytes the client sent for them. */
  messagesIn(topic: string, records: number, bytes: number): void {
    if (!this.enabled) return;
    const stats = this.topicStats(topic);
    stats.messagesIn += records;
    stats.bytesIn += bytes;
    this.allTopics.messagesIn += records;
    this.allTopics.bytesIn += bytes;
  }

  /** Record bytes of a topic sent to consumers in a Fetch response. */
  bytesOut(topic: string, bytes: number): void {
    if (!this.enabled || bytes === 0) return;
    this.topicStats(topic).bytesOut += bytes;
    this.allTopics.bytesOut += bytes;
  }

  /** Record bytes sent to a follower in a Fetch response. */
  replicationBytesOut(bytes: number): void {
    this.replication.bytesOut += bytes;
  }

  /** Record bytes a follower fetched from its leader. */
  replicationBytesIn(bytes: number): void {
    this.replication.bytesIn += bytes;
  }

  delayedProduceStarted(): void {
    this.delayedProduces++;
  }

  delayedProduceEnded(): void {
    this.delayedProduces--;
  }

  /** performance.now() when a request arrives (0 when off), for requestCompleted. */
  requestStarted(): number {
    return this.enabled ? performance.now() : 0;
  }

  /** A request answered (response null: sent no answer, acks=0); counts it, its errors and its latency. */
  requestCompleted(apiKey: number, apiName: string, apiVersion: number, response: unknown, startedMs: number): void {
    if (!this.enabled) return;
    const elapsedMs = performance.now() - startedMs;
    let api = this.apis[apiKey];
    if (!api) {
      api = newApiStats(apiName);
      this.apis[apiKey] = api;
    }
    countRequest(api, apiVersion, elapsedMs);
    if (apiKey === FETCH_KEY) countRequest(this.fetchConsumer, apiVersion, elapsedMs);
    if (response !== null) countErrors(api.errors, apiKey, response);
  }

  /** The registry /metrics is written from, built (and prom-client loaded) on first use. */
  registryFor(sources: MetricSources): Promise<Registry> {
    if (!this.registry) {
      const counts: MetricCounts = {
        topics: this.topics,
        allTopics: this.allTopics,
        apis: this.apis,
        fetchConsumer: this.fetchConsumer,
        delayedProduces: () => this.delayedProduces,
        replication: this.replication,
      };
      this.registry = import('./metrics-registry.js').then((m) => m.buildRegistry(counts, sources));
    }
    return this.registry;
  }

  private topicStats(topic: string): TopicStats {
    let stats = this.topics.get(topic);
    if (!stats) {
      stats = { messagesIn: 0, bytesIn: 0, bytesOut: 0 };
      this.topics.set(topic, stats);
    }
    return stats;
  }
}

function countRequest(api: ApiStats, apiVersion: number, elapsedMs: number): void {
  api.requests[apiVersion] = (api.requests[apiVersion] ?? 0) + 1;
  let bucket = 0;
  while (bucket < LATENCY_BUCKETS_MS.length && elapsedMs > LATENCY_BUCKETS_MS[bucket]!) bucket++;
  api.latencyBuckets[bucket]!++;
  api.latencySumMs += elapsedMs;
  api.latencyCount++;
}

function addError(errors: Map<number, number>, code: number, count: number): void {
  if (count > 0) errors.set(code, (errors.get(code) ?? 0) + count);
}

/**
 * Counts every error code of a response, as Kafka's errorCounts does. Produce and Fetch, answered per partition
 * at high rates, are walked by their known shape with the NONEs summed in a local; other APIs by a generic walk
 * of their `errorCode` fields.
 */
function countErrors(errors: Map<number, number>, apiKey: number, response: unknown): void {
  if (apiKey === PRODUCE_KEY) {
    const topics = (response as { responses: Array<{ partitionResponses: Array<{ errorCode: number }> }> }).responses;
    let none = 0;
    for (let t = 0; t < topics.length; t++) {
      const partitions = topics[t]!.partitionResponses;
      for (let p = 0; p < partitions.length; p++) {
        const code = partitions[p]!.errorCode;
        if (code === ErrorCode.NONE) none++;
        else addError(errors, code, 1);
      }
    }
    addError(errors, ErrorCode.NONE, none);
    return;
  }
  if (apiKey === FETCH_KEY) {
    const fetch = response as { errorCode: number; responses: Array<{ partitions: Array<{ errorCode: number }> }> };
    let none = 0;
    if (fetch.errorCode === ErrorCode.NONE) none++;
    else addError(errors, fetch.errorCode, 1);
    for (let t = 0; t < fetch.responses.length; t++) {
      const partitions = fetch.responses[t]!.partitions;
      for (let p = 0; p < partitions.length; p++) {
        const code = partitions[p]!.errorCode;
        if (code === ErrorCode.NONE) none++;
        else addError(errors, code, 1);
      }
    }
    addError(errors, ErrorCode.NONE, none);
    return;
  }
  walkErrorCodes(errors, response);
}

/** Adds every numeric `errorCode` field found in `value`, its arrays and nested objects (Buffers skipped). */
function walkErrorCodes(errors: Map<number, number>, value: unknown): void {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walkErrorCodes(errors, value[i]);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const field = record[key];
    if (key === 'errorCode' && typeof field === 'number') addError(errors, field, 1);
    else if (typeof field === 'object') walkErrorCodes(errors, field);
  }
}
