import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { samsa } from './cli.js';

let broker: Broker;
let dir: string;

before(async () => {
  broker = await startBroker();
  dir = await mkdtemp(join(tmpdir(), 'samsa-perf-'));
});

after(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

const NUMBER = '\\d+';
const DECIMAL = (digits: number) => `\\d+\\.\\d{${digits}}`;
/** Kafka's ProducerPerformance summary: "%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, ...". */
const PRODUCER_SUMMARY = new RegExp(
  `^(${NUMBER}) records sent, ${DECIMAL(6)} records/sec \\(${DECIMAL(2)} MB/sec\\), ${DECIMAL(2)} ms avg latency, ` +
    `${DECIMAL(2)} ms max latency, ${NUMBER} ms 50th, ${NUMBER} ms 95th, ${NUMBER} ms 99th, ${NUMBER} ms 99.9th\\.$`,
);
/** Kafka's ConsumerPerformance result line: "%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f". */
const DATE = '\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}:\\d{3}';
const CONSUMER_RESULT = new RegExp(
  `^${DATE}, ${DATE}, (${DECIMAL(4)}), ${DECIMAL(4)}, (${NUMBER}), ${DECIMAL(4)}, ${NUMBER}, -?${NUMBER}, ` +
    `(?:-?${DECIMAL(4)}|Infinity|NaN), (?:-?${DECIMAL(4)}|Infinity|NaN)$`,
);
const CONSUMER_HEADER =
  'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec';

test('samsa producer-perf-test sends --num-records records and prints Kafka summary line; consumer-perf-test reads them', async () => {
  const produced = await samsa([
    'producer-perf-test',
    '--topic',
    'perf',
    '--num-records',
    '3000',
    '--record-size',
    '100',
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${broker.bootstrap}`,
    'acks=all',
    'compression.type=lz4',
  ]);
  assert.equal(produced.code, 0, produced.stderr);
  const lines = produced.stdout.trimEnd().split('\n');
  const summary = PRODUCER_SUMMARY.exec(lines.at(-1)!);
  assert.ok(summary, produced.stdout);
  assert.equal(summary[1], '3000');
  // Progress lines, if the run lasted 5 s, have Kafka's form too.
  for (const line of lines.slice(0, -1))
    assert.match(
      line,
      /^\d+ records sent, \d+\.\d records\/sec \(\d+\.\d{2} MB\/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$/,
    );

  // The records are on the broker: exactly 3000, each 100 bytes of capital letters.
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('perf');
  await admin.disconnect();
  assert.equal(
    offsets.reduce((sum, p) => sum + Number(p.high), 0),
    3000,
  );

  const consumed = await samsa([
    'consumer-perf-test',
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    'perf',
    '--messages',
    '3000',
    '--group',
    'perf-group',
  ]);
  assert.equal(consumed.code, 0, consumed.stderr);
  const [head, result, ...rest] = consumed.stdout.trimEnd().split('\n');
  assert.equal(head, CONSUMER_HEADER);
  assert.deepEqual(rest, []);
  const m = CONSUMER_RESULT.exec(result!);
  assert.ok(m, result);
  assert.equal(m[2], '3000');
  assert.equal(m[1], (300_000 / (1024 * 1024)).toFixed(4));
});

test('samsa producer-perf-test: payload file, transactions and a throughput limit', async () => {
  const payloads = join(dir, 'payloads.txt');
  await writeFile(payloads, 'alpha;beta;gamma');
  const produced = await samsa([
    'producer-perf-test',
    '--topic',
    'perf-tx',
    '--num-records',
    '40',
    '--payload-file',
    payloads,
    '--payload-delimiter',
    ';',
    '--throughput',
    '100',
    '--transactional-id',
    'perf-tx-id',
    '--transaction-duration-ms',
    '100',
    '--producer-props',
    `bootstrap.servers=${broker.bootstrap}`,
  ]);
  assert.equal(produced.code, 0, produced.stderr);
  const lines = produced.stdout.trimEnd().split('\n');
  assert.equal(lines[0], `Reading payloads from: ${payloads}`);
  assert.equal(lines[1], 'Number of messages read: 3');
  const summary = PRODUCER_SUMMARY.exec(lines.at(-1)!);
  assert.ok(summary, produced.stdout);
  assert.equal(summary[1], '40');
  // At 100 records/sec, 40 records take at least about 0.39 s: the rate printed cannot be far above 100.
  const rate = Number(/, (\d+\.\d+) records\/sec/.exec(lines.at(-1)!)![1]);
  assert.ok(rate < 150, lines.at(-1));

  // Every record is committed: a read_committed consumer sees all 40, each one of the payloads.
  const consumed = await samsa([
    'console-consumer',
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    'perf-tx',
    '--from-beginning',
    '--isolation-level',
    'read_committed',
    '--max-messages',
    '40',
  ]);
  assert.equal(consumed.code, 0, consumed.stderr);
  const values = consumed.stdout.trimEnd().split('\n');
  assert.equal(values.length, 40);
  for (const v of values) assert.ok(['alpha', 'beta', 'gamma'].includes(v), v);
});

test('samsa consumer-perf-test: detailed stats, hidden header, the timeout warning; refused flags exit 1', async () => {
  await samsa([
    'producer-perf-test',
    '--topic',
    'perf-detail',
    '--num-records',
    '10',
    '--payload-monotonic',
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${broker.bootstrap}`,
  ]);
  const run = await samsa([
    'consumer-perf-test',
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    'perf-detail',
    '--messages',
    '20',
    '--timeout',
    '1000',
    '--hide-header',
    '--show-detailed-stats',
    '--date-format',
    'yyyy',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(
    lines.at(-1),
    'WARNING: Exiting before consuming the expected number of messages: timeout (1000 ms) exceeded. You can use the --timeout option to increase the timeout.',
  );
  for (const line of lines.slice(0, -1))
    assert.match(line, /^\d{4}, 0, \d+\.\d{4}, \d+\.\d{4}, \d+, \d+\.\d{4}, \d+, -?\d+, -?\d+\.\d{4}, -?\d+\.\d{4}$/);

  const metrics = await samsa([
    'consumer-perf-test',
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    't',
    '--messages',
    '1',
    '--print-metrics',
  ]);
  assert.equal(metrics.code, 1);
  assert.match(metrics.stderr, /--print-metrics is not available/);
  const noProps = await samsa([
    'producer-perf-test',
    '--topic',
    't',
    '--num-records',
    '1',
    '--record-size',
    '1',
    '--throughput',
    '-1',
  ]);
  assert.equal(noProps.code, 1);
  assert.match(noProps.stderr, /Either --producer-props or --producer.config must be specified\./);
});
