import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { Registry } from 'prom-client';
import { Broker, defaultBrokerSettings, startBroker } from '../../src/broker/broker.js';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../../src/config/broker-config.js';
import { HttpEndpoint } from '../../src/observability/http-endpoint.js';
import { Logger } from '../../src/observability/logger.js';

const { Kafka, logLevel } = kafkajs;

/** One sample of the exposition text. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus' text format (what /metrics serves): one sample per line, comments skipped. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels, undefined when there is none. */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted)?.value;
}

/** Sum of the samples of `name` whose labels include `labels`. */
function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(port: number): Promise<Sample[]> {
  const res = await get(port, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body);
}

const silent = () => new Logger('broker', { level: 'error', sink: { write: () => {} } });

test('samsa.http.listener: host:port parsed, unset means none, a bad value stops start-up', () => {
  const parse = (entries: Record<string, string>) =>
    toBrokerSettings(parseBrokerConfig(new Map(Object.entries(entries))).values);
  assert.equal(parse({}).httpListener, undefined);
  assert.deepEqual(parse({ 'samsa.http.listener': '127.0.0.1:9404' }).httpListener, { host: '127.0.0.1', port: 9404 });
  assert.deepEqual(parse({ 'samsa.http.listener': ':0' }).httpListener, { host: '', port: 0 });
  assert.deepEqual(parse({ 'samsa.http.listener': '[::1]:9404' }).httpListener, { host: '::1', port: 9404 });
  assert.throws(() => parse({ 'samsa.http.listener': '9404' }), ConfigError);
  assert.throws(() => parse({ 'samsa.http.listener': 'localhost:99999' }), ConfigError);
});

test('HTTP endpoint: live always, ready 503 until ready, 404 elsewhere, 405 for writes', async () => {
  let ready = false;
  const endpoint = new HttpEndpoint({
    host: '127.0.0.1',
    port: 0,
    registry: async () => new Registry(),
    ready: () => ready,
    onError: () => {},
  });
  const port = await endpoint.listen();
  try {
    assert.equal((await get(port, '/health/live')).status, 200);
    assert.equal((await get(port, '/health/ready')).status, 503);
    ready = true;
    assert.equal((await get(port, '/health/ready')).status, 200);
    assert.equal((await get(port, '/health/ready', 'HEAD')).status, 200);
    assert.equal((await get(port, '/')).status, 404);
    assert.equal((await get(port, '/metrics', 'POST')).status, 405);
  } finally {
    await endpoint.close();
  }
});

test('without samsa.http.listener no HTTP port is bound and nothing is counted', async () => {
  const broker = await startBroker();
  try {
    assert.equal(broker.httpPort, 0);
    assert.equal(broker.metrics.enabled, false);
  } finally {
    await broker.stop();
  }
});

test('readiness: 503 before the broker serves and during its stop, live until the HTTP listener closes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-health-'));
  let reachedEndOfStop!: () => void;
  const endOfStop = new Promise<void>((resolve) => (reachedEndOfStop = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const broker = new Broker(
    {
      ...defaultBrokerSettings(),
      port: 0,
      advertisedHost: '127.0.0.1',
      advertisedPort: 0,
      logDirs: [dir],
      httpListener: { host: '127.0.0.1', port: 0 },
    },
    silent(),
    async () => {
      reachedEndOfStop();
      await released;
    },
  );
  try {
    assert.equal(broker.ready, false);
    await broker.start();
    assert.ok(broker.httpPort > 0);
    assert.notEqual(broker.httpPort, broker.port);
    assert.equal((await get(broker.httpPort, '/health/ready')).status, 200);
    assert.equal((await get(broker.httpPort, '/health/live')).status, 200);
    const stopped = broker.stop();
    await endOfStop;
    assert.equal((await get(broker.httpPort, '/health/ready')).status, 503);
    assert.equal((await get(broker.httpPort, '/health/live')).status, 200);
    release();
    await stopped;
    await assert.rejects(get(broker.httpPort, '/health/live'), { code: 'ECONNREFUSED' });
  } finally {
    release();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('/metrics after KafkaJS traffic: messages and bytes in and out, requests, errors, logs, lag, connections', async () => {
  const broker = await startBroker({
    httpListener: { host: '127.0.0.1', port: 0 },
    groups: { offsetsTopicNumPartitions: 1 },
  });
  const kafka = new Kafka({ clientId: 'metrics-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: 'metrics-group', maxWaitTimeInMs: 5000 });
  const topic = 'metrics-topic';
  try {
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }), true);
    // A second creation: one TOPIC_ALREADY_EXISTS in the CreateTopics response.
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }), false);

    await producer.connect();
    // Four produce requests: 20 records to partition 0 and 10 to partition 1; the third writes to both.
    const sends = [
      [{ partition: 0, count: 8 }],
      [{ partition: 1, count: 6 }],
      [
        { partition: 0, count: 12 },
        { partition: 1, count: 3 },
      ],
      [{ partition: 1, count: 1 }],
    ];
    let partitionWrites = 0;
    for (const [i, send] of sends.entries()) {
      await producer.sendBatch({
        topicMessages: send.map(({ partition, count }) => ({
          topic,
          messages: Array.from({ length: count }, (_, j) => ({ partition, key: `k${j}`, value: `request ${i} #${j}` })),
        })),
      });
      partitionWrites += send.length;
    }
    const produced = 30;

    // A group consumer reads everything, then commits 15 of partition 0 and all 10 of partition 1.
    let consumed = 0;
    let allRead!: () => void;
    const done = new Promise<void>((resolve) => (allRead = resolve));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async () => {
        if (++consumed === produced) allRead();
      },
    });
    await done;
    await consumer.commitOffsets([
      { topic, partition: 0, offset: '15' },
      { topic, partition: 1, offset: '10' },
    ]);

    // The consumer, caught up, long-polls: its Fetch waits in the fetch purgatory.
    let samples = await scrape(broker.httpPort);
    while (
      sampleValue(samples, 'kafka_server_delayedoperationpurgatory_purgatorysize', { delayedOperation: 'Fetch' })! < 1
    )
      samples = await scrape(broker.httpPort);
    assert.equal(
      sampleValue(samples, 'kafka_server_delayedoperationpurgatory_purgatorysize', { delayedOperation: 'Produce' }),
      0,
    );

    // Messages and bytes in: exactly what was produced; the batches are stored as sent, so bytes in = log size.
    const messagesIn = 'kafka_server_brokertopicmetrics_messagesin_total';
    assert.equal(sampleValue(samples, messagesIn, { topic }), produced);
    assert.equal(sampleValue(samples, messagesIn), produced, 'all topics (offset commits are not produced)');
    const logSize = sumOf(samples, 'kafka_log_log_size', { topic });
    assert.ok(logSize > 0);
    assert.equal(sampleValue(samples, 'kafka_server_brokertopicmetrics_bytesin_total', { topic }), logSize);
    assert.equal(sampleValue(samples, 'kafka_server_brokertopicmetrics_bytesin_total'), logSize);
    // Bytes out: the consumer read every batch once.
    assert.equal(sampleValue(samples, 'kafka_server_brokertopicmetrics_bytesout_total', { topic }), logSize);

    // Requests per API and version; errors per API and code; latency histograms per API.
    const requests = 'kafka_network_requestmetrics_requests_total';
    assert.equal(sumOf(samples, requests, { request: 'Produce' }), sends.length);
    const produceVersions = samples.filter((s) => s.name === requests && s.labels.request === 'Produce');
    assert.ok(produceVersions.every((s) => /^\d+$/.test(s.labels.version!)));
    assert.ok(sumOf(samples, requests, { request: 'Metadata' }) >= 1);
    assert.ok(sumOf(samples, requests, { request: 'ApiVersions' }) >= 1);
    assert.equal(sumOf(samples, requests, { request: 'OffsetCommit' }), 1);
    assert.equal(sumOf(samples, requests, { request: 'CreateTopics' }), 2);
    assert.ok(sumOf(samples, requests, { request: 'Fetch' }) >= 1);
    assert.equal(
      sumOf(samples, requests, { request: 'FetchConsumer' }),
      sumOf(samples, requests, { request: 'Fetch' }),
    );
    const errors = 'kafka_network_requestmetrics_errors_total';
    assert.equal(sampleValue(samples, errors, { request: 'Produce', error: 'NONE' }), partitionWrites);
    assert.equal(sampleValue(samples, errors, { request: 'CreateTopics', error: 'TOPIC_ALREADY_EXISTS' }), 1);
    assert.equal(sampleValue(samples, errors, { request: 'CreateTopics', error: 'NONE' }), 1);
    const latency = 'kafka_network_requestmetrics_totaltimems';
    assert.equal(sampleValue(samples, `${latency}_count`, { request: 'Produce' }), sends.length);
    assert.equal(sampleValue(samples, `${latency}_bucket`, { request: 'Produce', le: '+Inf' }), sends.length);
    assert.ok(sampleValue(samples, `${latency}_sum`, { request: 'Produce' })! > 0);

    // Logs: this topic's two partitions and the one of __consumer_offsets; one segment each.
    assert.equal(sampleValue(samples, 'kafka_server_replicamanager_partitioncount'), 3);
    assert.equal(sampleValue(samples, 'kafka_log_log_numlogsegments', { topic, partition: '0' }), 1);
    assert.equal(sampleValue(samples, 'kafka_log_log_logendoffset', { topic, partition: '0' }), 20);
    assert.equal(sampleValue(samples, 'kafka_log_log_logendoffset', { topic, partition: '1' }), 10);

    // Lag = end offset - committed offset, per group and partition.
    const lag = 'kafka_consumergroup_lag';
    assert.equal(sampleValue(samples, lag, { consumergroup: 'metrics-group', topic, partition: '0' }), 5);
    assert.equal(sampleValue(samples, lag, { consumergroup: 'metrics-group', topic, partition: '1' }), 0);
    assert.equal(sampleValue(samples, 'kafka_consumergroup_lag_truncated'), 0);

    // Connections per listener (admin, producer and consumer are connected); Node's process metrics.
    assert.ok(
      sampleValue(samples, 'kafka_server_socket_server_metrics_connection_count', { listener: 'PLAINTEXT' })! >= 3,
    );
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds'])
      assert.ok(
        samples.some((s) => s.name === name),
        name,
      );
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
    await broker.stop();
  }
});

test('an HTTP port in use stops start-up with a line naming samsa.http.listener, and releases the Kafka port', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    await assert.rejects(startBroker({ httpListener: { host: '127.0.0.1', port } }), (e: Error) => {
      assert.match(e.message, new RegExp(`^samsa\\.http\\.listener: cannot listen on 127\\.0\\.0\\.1:${port}`));
      return true;
    });
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test("a deleted topic's counts leave /metrics, as Kafka removes its topic metrics", async () => {
  const broker = await startBroker({ httpListener: { host: '127.0.0.1', port: 0 } });
  const kafka = new Kafka({ clientId: 'metrics-delete', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kept' }, { topic: 'gone' }] });
    await producer.connect();
    await producer.send({ topic: 'kept', messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.send({ topic: 'gone', messages: [{ value: 'c' }] });
    let samples = await scrape(broker.httpPort);
    const messagesIn = 'kafka_server_brokertopicmetrics_messagesin_total';
    assert.equal(sampleValue(samples, messagesIn, { topic: 'gone' }), 1);
    await admin.deleteTopics({ topics: ['gone'] });
    samples = await scrape(broker.httpPort);
    assert.equal(sampleValue(samples, messagesIn, { topic: 'gone' }), undefined);
    assert.equal(sampleValue(samples, 'kafka_log_log_size', { topic: 'gone', partition: '0' }), undefined);
    assert.equal(sampleValue(samples, messagesIn, { topic: 'kept' }), 2);
    assert.equal(sampleValue(samples, messagesIn), 3, 'all topics keeps what was counted');
  } finally {
    await producer.disconnect();
    await admin.disconnect();
    await broker.stop();
  }
});
