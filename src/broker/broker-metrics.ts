import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { ErrorCode, errorInfo } from '../protocol/errors.js';

/**
 * The broker's metrics, named as Prometheus' JMX exporter names Kafka's MBeans (docs/METRICS.md has the table).
 *
 * The hot paths (produce, fetch, every request) only add to plain numbers held in objects cached per topic and
 * per API: prom-client's labelled children hash their labels into a string on every increment, which is an
 * allocation per call. The prom-client metrics are filled from these numbers when /metrics is scraped, and the
 * gauges (log sizes, purgatory sizes, group lag) are computed then too, so that an idle broker pays nothing.
 */

/** Counts of one topic, or of all topics together (Kafka's BrokerTopicMetrics). */
interface TopicStats {
  messagesIn: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Upper bounds of the request latency buckets, in milliseconds (Kafka's TotalTimeMs is in milliseconds; the
 * exporter keeps the unit in the name).
 */
const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] as const;

/** One request API (or Kafka's FetchConsumer view of Fetch): counts per version and its latency histogram. */
interface ApiStats {
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

/**
 * Consumer group lag series at most, per scrape: a broker with many groups and partitions answers a bounded
 * scrape (the rest is left out, and `kafka_consumergroup_lag_truncated` says so).
 */
export const MAX_LAG_SERIES = 10_000;

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
  connections(): Iterable<{ listener: string; count: number }>;
  /** Long-polling fetches waiting (Kafka's fetch purgatory). */
  delayedFetches(): number;
  /** Whether a topic still exists: counts of deleted topics are dropped, as Kafka removes their metrics. */
  topicExists(name: string): boolean;
}

export class BrokerMetrics {
  /** Off (no samsa.http.listener): every hook returns at once. */
  readonly enabled: boolean;
  private readonly topics = new Map<string, TopicStats>();
  private readonly allTopics: TopicStats = { messagesIn: 0, bytesIn: 0, bytesOut: 0 };
  /** By api key. */
  private readonly apis: Array<ApiStats | undefined> = [];
  /** Kafka counts a consumer's Fetch also as FetchConsumer (a follower's as FetchFollower; none here). */
  private readonly fetchConsumer = newApiStats('FetchConsumer');
  /** Produce requests waiting for their appends to be durable (acks=all): Kafka's produce purgatory. */
  private delayedProduces = 0;
  private registry: Registry | null = null;

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

  /** Record bytes of a topic sent in a Fetch response. */
  bytesOut(topic: string, bytes: number): void {
    if (!this.enabled || bytes === 0) return;
    this.topicStats(topic).bytesOut += bytes;
    this.allTopics.bytesOut += bytes;
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

  private topicStats(topic: string): TopicStats {
    let stats = this.topics.get(topic);
    if (!stats) {
      stats = { messagesIn: 0, bytesIn: 0, bytesOut: 0 };
      this.topics.set(topic, stats);
    }
    return stats;
  }

  /**
   * The registry /metrics is served from, made on first use: Node's process metrics (event-loop lag, heap,
   * RSS, GC) from prom-client, and the broker's, filled from `sources` and the counts above at each scrape.
   */
  registryFor(sources: MetricSources): Registry {
    if (this.registry) return this.registry;
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    this.registerTopicMetrics(registry, sources);
    this.registerRequestMetrics(registry);
    registerLogMetrics(registry, sources);
    registerGroupMetrics(registry, sources);
    const delayedProduces = () => this.delayedProduces;
    new Gauge({
      name: 'kafka_server_delayedoperationpurgatory_purgatorysize',
      help: 'Requests waiting in a purgatory: Produce (acks=all waiting for fsync), Fetch (long polls).',
      labelNames: ['delayedOperation'],
      registers: [registry],
      collect() {
        this.set({ delayedOperation: 'Produce' }, delayedProduces());
        this.set({ delayedOperation: 'Fetch' }, sources.delayedFetches());
      },
    });
    new Gauge({
      name: 'kafka_server_socket_server_metrics_connection_count',
      help: 'Open connections per listener.',
      labelNames: ['listener'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { listener, count } of sources.connections()) this.set({ listener }, count);
      },
    });
    this.registry = registry;
    return registry;
  }

  private registerTopicMetrics(registry: Registry, sources: MetricSources): void {
    const { topics, allTopics } = this;
    const pruneDeleted = () => {
      for (const name of topics.keys()) if (!sources.topicExists(name)) topics.delete(name);
    };
    const topicCounter = (name: string, help: string, value: (s: TopicStats) => number, prune = false) =>
      new Counter({
        name,
        help,
        labelNames: ['topic'],
        registers: [registry],
        collect() {
          if (prune) pruneDeleted();
          this.reset();
          // Without a topic label: all topics, as the MBean without topic= in Kafka.
          this.inc(value(allTopics));
          for (const [topic, stats] of topics) this.inc({ topic }, value(stats));
        },
      });
    topicCounter(
      'kafka_server_brokertopicmetrics_messagesin_total',
      'Records appended by producers, per topic and for all topics.',
      (s) => s.messagesIn,
      true,
    );
    topicCounter(
      'kafka_server_brokertopicmetrics_bytesin_total',
      'Record bytes received from producers, per topic and for all topics.',
      (s) => s.bytesIn,
    );
    topicCounter(
      'kafka_server_brokertopicmetrics_bytesout_total',
      'Record bytes sent to consumers, per topic and for all topics.',
      (s) => s.bytesOut,
    );
  }

  private registerRequestMetrics(registry: Registry): void {
    const apis = (): ApiStats[] => {
      const all = this.apis.filter((a): a is ApiStats => a !== undefined);
      if (this.fetchConsumer.latencyCount > 0) all.push(this.fetchConsumer);
      return all;
    };
    new Counter({
      name: 'kafka_network_requestmetrics_requests_total',
      help: 'Requests answered, per API and version (Fetch also counted as FetchConsumer).',
      labelNames: ['request', 'version'],
      registers: [registry],
      collect() {
        this.reset();
        for (const api of apis()) {
          api.requests.forEach((count, version) => {
            if (count) this.inc({ request: api.name, version: String(version) }, count);
          });
        }
      },
    });
    const fetchConsumer = this.fetchConsumer;
    new Counter({
      name: 'kafka_network_requestmetrics_errors_total',
      help: 'Error codes in responses, per API and error (error="NONE": successes); every error field counts.',
      labelNames: ['request', 'error'],
      registers: [registry],
      collect() {
        this.reset();
        for (const api of apis()) {
          if (api === fetchConsumer) continue;
          for (const [code, count] of api.errors) this.inc({ request: api.name, error: errorName(code) }, count);
        }
      },
    });
    registry.registerMetric(new LatencyHistogramMetric(apis) as unknown as Counter);
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

function errorName(code: number): string {
  return errorInfo(code)?.name ?? String(code);
}

/**
 * `kafka_network_requestmetrics_totaltimems`, a Prometheus histogram per API, built from the bucket counts kept
 * by the request hook (prom-client's Histogram would hash its labels on every observation). Registered with
 * prom-client's registry, which writes the exposition text.
 */
class LatencyHistogramMetric {
  readonly name = 'kafka_network_requestmetrics_totaltimems';
  readonly help =
    'Time from a request being read to its response being ready, in milliseconds, per API (Kafka: TotalTimeMs).';
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly apis: () => ApiStats[]) {}

  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }>;
  } {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const api of this.apis()) {
      let cumulative = 0;
      for (let i = 0; i <= LATENCY_BUCKETS_MS.length; i++) {
        cumulative += api.latencyBuckets[i]!;
        const le = i < LATENCY_BUCKETS_MS.length ? String(LATENCY_BUCKETS_MS[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { request: api.name, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { request: api.name }, value: api.latencySumMs });
      values.push({ metricName: `${this.name}_count`, labels: { request: api.name }, value: api.latencyCount });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

function registerLogMetrics(registry: Registry, sources: MetricSources): void {
  // One pass over the logs, in the partition count's collect, fills the four per-partition gauges: they are
  // registered after it, as the registry reads the metrics in registration order.
  const partitionGauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['topic', 'partition'], registers: [] });
  const size = partitionGauge('kafka_log_log_size', 'Bytes of all segments of a partition (Kafka: Log Size).');
  const segments = partitionGauge('kafka_log_log_numlogsegments', 'Segments of a partition (Kafka: NumLogSegments).');
  const start = partitionGauge('kafka_log_log_logstartoffset', 'First offset of a partition (Kafka: LogStartOffset).');
  const end = partitionGauge('kafka_log_log_logendoffset', 'Offset after the last record (Kafka: LogEndOffset).');
  new Gauge({
    name: 'kafka_server_replicamanager_partitioncount',
    help: 'Partitions hosted by this broker (Kafka: ReplicaManager PartitionCount).',
    registers: [registry],
    collect() {
      size.reset();
      segments.reset();
      start.reset();
      end.reset();
      let count = 0;
      for (const log of sources.logs()) {
        const labels = { topic: log.topic, partition: String(log.partition) };
        size.set(labels, log.sizeInBytes);
        segments.set(labels, log.segmentCount);
        start.set(labels, log.logStartOffset);
        end.set(labels, log.logEndOffset);
        count++;
      }
      this.set(count);
    },
  });
  for (const gauge of [size, segments, start, end]) registry.registerMetric(gauge);
}

function registerGroupMetrics(registry: Registry, sources: MetricSources): void {
  let cut = false;
  // Registered first: the registry collects in registration order, so the flag below is this scrape's.
  new Gauge({
    name: 'kafka_consumergroup_lag',
    help: 'High watermark minus the committed offset, per group and partition (as kafka_exporter names it).',
    labelNames: ['consumergroup', 'topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      let series = 0;
      cut = false;
      for (const group of sources.groups()) {
        for (const { topic, partition, offset } of group.offsets) {
          if (series >= MAX_LAG_SERIES) {
            cut = true;
            break;
          }
          const highWatermark = sources.highWatermark(topic, partition);
          if (highWatermark === null || offset < 0) continue;
          this.set(
            { consumergroup: group.groupId, topic, partition: String(partition) },
            Math.max(highWatermark - offset, 0),
          );
          series++;
        }
        if (cut) break;
      }
    },
  });
  new Gauge({
    name: 'kafka_consumergroup_lag_truncated',
    help: `1 when kafka_consumergroup_lag left series out (more than ${MAX_LAG_SERIES} group partitions).`,
    registers: [registry],
    collect() {
      this.set(cut ? 1 : 0);
    },
  });
}
