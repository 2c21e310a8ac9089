import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { errorInfo } from '../protocol/errors.js';
import {
  type ApiStats,
  LATENCY_BUCKETS_MS,
  type MetricCounts,
  type MetricSources,
  type TopicStats,
} from './broker-metrics.js';

/**
 * The prom-client registry /metrics is written from, built on the first scrape of a broker with
 * samsa.http.listener. Kept apart from broker-metrics.ts, which the request path uses, so that prom-client (and
 * the modules it loads, about 12 MB of a process's memory) is loaded only by brokers that serve metrics.
 */

/**
 * Consumer group lag series at most, per scrape: a broker with many groups and partitions answers a bounded
 * scrape (the rest is left out, and `kafka_consumergroup_lag_truncated` says so).
 */
export const MAX_LAG_SERIES = 10_000;

/**
 * Node's process metrics (event-loop lag, heap, RSS, GC) from prom-client, and the broker's, filled from
 * `sources` and the counts at each scrape.
 */
export function buildRegistry(counts: MetricCounts, sources: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerTopicMetrics(registry, counts, sources);
  registerRequestMetrics(registry, counts);
  registerLogMetrics(registry, sources);
  registerGroupMetrics(registry, sources);
  const { delayedProduces } = counts;
  new Gauge({
    name: 'kafka_server_delayedoperationpurgatory_purgatorysize',
    help: 'Requests waiting in a purgatory: Produce (acks=all waiting for fsync or replicas), Fetch (long polls).',
    labelNames: ['delayedOperation'],
    registers: [registry],
    collect() {
      this.set({ delayedOperation: 'Produce' }, delayedProduces());
      this.set({ delayedOperation: 'Fetch' }, sources.delayedFetches());
    },
  });
  const replicaGauge = (name: string, help: string, value: (r: ReturnType<MetricSources['replication']>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(sources.replication()));
      },
    });
  // KIP-73: Kafka's LeaderReplication / FollowerReplication `byte-rate` (the quota's measured rate of the throttled
  // replicas, bytes/s), and Samsa's counts of the throttled bytes and of the partition fetches left out.
  for (const type of ['leader', 'follower'] as const) {
    const group = `kafka_server_${type}replication`;
    new Gauge({
      name: `${group}_byte_rate`,
      help: `Byte rate of the ${type}-throttled replicas' replication traffic (Kafka: ${type === 'leader' ? 'Leader' : 'Follower'}Replication byte-rate).`,
      registers: [registry],
      collect() {
        this.set(sources.replicationQuotas()?.[type].byteRate() ?? 0);
      },
    });
    new Counter({
      name: `${group}_throttled_bytes_total`,
      help: `Bytes of ${type}-throttled replicas counted against the ${type} replication quota.`,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.replicationQuotas()?.[type].throttledBytes ?? 0);
      },
    });
    new Counter({
      name: `${group}_throttled_partitions_total`,
      help: `Partition fetches left out because the ${type} replication quota was exceeded.`,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.replicationQuotas()?.[type].throttledPartitionFetches ?? 0);
      },
    });
  }
  replicaGauge('kafka_server_replicamanager_leadercount', 'Partitions this broker leads.', (r) => r.leaders);
  replicaGauge(
    'kafka_server_replicamanager_underreplicatedpartitions',
    'Partitions led here whose ISR is smaller than their replica set.',
    (r) => r.underReplicated,
  );
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
  // Kafka's averages of the non-zero throttle times new connections got (KIP-612); here since start-up.
  new Gauge({
    name: 'kafka_server_socket_server_metrics_connection_accept_throttle_time',
    help: 'Average delay of connections held back by the broker or listener connection creation rate, in ms.',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { listener, throttles: t } of sources.connections())
        this.set({ listener }, t.acceptThrottled === 0 ? 0 : t.acceptThrottleMs / t.acceptThrottled);
    },
  });
  new Gauge({
    name: 'kafka_server_socket_server_metrics_ip_connection_accept_throttle_time',
    help: 'Average delay before closing connections over their address connection_creation_rate, in ms.',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { listener, throttles: t } of sources.connections())
        this.set({ listener }, t.ipThrottled === 0 ? 0 : t.ipThrottleMs / t.ipThrottled);
    },
  });
  return registry;
}

function registerTopicMetrics(registry: Registry, counts: MetricCounts, sources: MetricSources): void {
  const { topics, allTopics } = counts;
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
  const { replication } = counts;
  for (const [name, help, value] of [
    ['replicationbytesin', 'Record bytes this broker fetched from leaders as a follower.', () => replication.bytesIn],
    ['replicationbytesout', 'Record bytes this broker sent to its followers.', () => replication.bytesOut],
  ] as const) {
    new Counter({
      name: `kafka_server_brokertopicmetrics_${name}_total`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  }
}

function registerRequestMetrics(registry: Registry, counts: MetricCounts): void {
  const apis = (): ApiStats[] => {
    const all = counts.apis.filter((a): a is ApiStats => a !== undefined);
    if (counts.fetchConsumer.latencyCount > 0) all.push(counts.fetchConsumer);
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
  const fetchConsumer = counts.fetchConsumer;
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
