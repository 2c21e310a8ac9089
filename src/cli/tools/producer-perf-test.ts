import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from '@platformatic/kafka';
import { FAILURE_EXIT_CODE, type ParsedFlags, parseFlags, requiredFlag, UsageError } from './args.js';
import { clientLibrary, clientOptions, describeFailure } from './client.js';
import { type ClientSecurity, clientSecurity, isSecurityProperty } from './client-security.js';
import { expandMultiValueFlag, fixed, kafkaUsageExit, loadProperties } from './perf-args.js';

const PRODUCER_PERF_USAGE = `usage: samsa producer-perf-test --topic TOPIC --num-records N (--record-size BYTES | --payload-file FILE |
       --payload-monotonic) --throughput N (--producer-props k=v [k=v ...] | --producer.config FILE) [options]

Sends records as fast as allowed and reports throughput and latency (as Kafka's kafka-producer-perf-test.sh):
a line every 5 seconds, then the summary with latency percentiles.
  --throughput N                 at most about N records per second; -1 for no limit
  --payload-delimiter D          splits --payload-file into payloads (default: a new line)
  --producer-props k=v ...       bootstrap.servers (required), acks, compression.type, batch.size, client.id,
                                 enable.idempotence, transactional.id, security.protocol, sasl.*, ssl.*;
                                 others are reported and ignored
  --transactional-id ID          send in transactions (default id with --transaction-duration-ms:
                                 performance-producer-<uuid>)
  --transaction-duration-ms MS   commit each transaction after this long (default 3000)
  --warmup-records N             leave the first N records out of a second, steady-state summary
  --print-metrics                not available: the client has no producer metrics to print`;

const FLAGS = {
  topic: 'value',
  'num-records': 'value',
  'record-size': 'value',
  'payload-file': 'value',
  'payload-delimiter': 'value',
  'payload-monotonic': 'switch',
  throughput: 'value',
  'producer-props': 'repeated',
  'producer.config': 'value',
  'print-metrics': 'switch',
  'transactional-id': 'value',
  'transaction-duration-ms': 'value',
  'warmup-records': 'value',
} as const;

/** Kafka's defaults: a transaction's length, the id prefix, the client id, the report interval. */
const DEFAULT_TRANSACTION_DURATION_MS = 3000;
const DEFAULT_TRANSACTION_ID_PREFIX = 'performance-producer-';
const DEFAULT_CLIENT_ID = 'perf-producer-client';
const REPORTING_INTERVAL_MS = 5000;
/** Latencies kept for the percentiles: every record up to this many, then a regular sample. */
const MAX_LATENCY_SAMPLES = 500_000;
/** Kafka's batch.size default: a request is sent once its records reach it. */
const DEFAULT_BATCH_BYTES = 16_384;
/** Kafka's ThroughputThrottler sleeps only once the owed time reaches this. */
const MIN_SLEEP_MS = 2;

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];
const ACKS: Readonly<Record<string, number>> = { all: -1, '-1': -1, '1': 1, '0': 0 };

interface PerfCommand {
  topic: string;
  numRecords: number;
  warmupRecords: number;
  recordSize: number | undefined;
  payloads: Buffer[];
  monotonic: boolean;
  throughput: number;
  bootstrap: string[];
  acks: number;
  compression: Codec;
  batchBytes: number;
  clientId: string;
  idempotent: boolean | undefined;
  transactionalId: string | undefined;
  transactionDurationMs: number;
  ignored: string[];
  security: ClientSecurity;
}

function numberFlag(flags: ParsedFlags, name: string): number | undefined {
  const text = flags.values.get(name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not '${text}'`);
  return n;
}

async function parseCommand(argv: string[]): Promise<PerfCommand> {
  const flags = parseFlags(expandMultiValueFlag(argv, 'producer-props'), FLAGS);
  if (flags.switches.has('print-metrics'))
    throw new UsageError('--print-metrics is not available: the client library keeps no producer metrics');
  const topic = requiredFlag(flags, 'topic');
  const numRecords = numberFlag(flags, 'num-records');
  if (numRecords === undefined) throw new UsageError('--num-records is required');
  if (!Number.isInteger(numRecords) || numRecords <= 0)
    throw new UsageError('--num-records should be greater than zero');
  const warmupRecords = Math.max(numberFlag(flags, 'warmup-records') ?? 0, 0);
  if (warmupRecords >= numRecords)
    throw new UsageError(
      'The value for --warmup-records must be strictly fewer than the number of records in the test, --num-records.',
    );
  const throughput = numberFlag(flags, 'throughput');
  if (throughput === undefined) throw new UsageError('--throughput is required');

  const recordSize = numberFlag(flags, 'record-size');
  const payloadFile = flags.values.get('payload-file');
  const monotonic = flags.switches.has('payload-monotonic');
  if ([recordSize !== undefined, payloadFile !== undefined, monotonic].filter(Boolean).length !== 1)
    throw new UsageError('exactly one of --record-size, --payload-file or --payload-monotonic must be given');
  if (recordSize !== undefined && (!Number.isInteger(recordSize) || recordSize <= 0))
    throw new UsageError('--record-size should be greater than zero');

  const pairs = flags.repeated.get('producer-props');
  const configFile = flags.values.get('producer.config');
  if (pairs === undefined && configFile === undefined)
    throw new UsageError('Either --producer-props or --producer.config must be specified.');
  const props = await loadProperties(configFile, pairs ?? []);
  const durationArg = numberFlag(flags, 'transaction-duration-ms');
  if (durationArg !== undefined && durationArg <= 0)
    throw new UsageError('--transaction-duration-ms should be greater than zero');
  const idArg = flags.values.get('transactional-id');

  const bootstrapText = props.get('bootstrap.servers');
  if (!bootstrapText) throw new UsageError('bootstrap.servers must be given in --producer-props or --producer.config');
  const command: PerfCommand = {
    topic,
    numRecords,
    warmupRecords,
    recordSize,
    payloads: [],
    monotonic,
    throughput,
    bootstrap: bootstrapText.split(',').map((s) => s.trim()),
    acks: -1,
    compression: 'none',
    batchBytes: DEFAULT_BATCH_BYTES,
    clientId: props.get('client.id') ?? DEFAULT_CLIENT_ID,
    idempotent: undefined,
    transactionalId: undefined,
    transactionDurationMs: durationArg ?? DEFAULT_TRANSACTION_DURATION_MS,
    ignored: [],
    security: await clientSecurity(props),
  };
  for (const [key, value] of props) {
    switch (key) {
      case 'bootstrap.servers':
      case 'client.id':
      case 'transactional.id':
        break;
      case 'acks': {
        const acks = ACKS[value.trim()];
        if (acks === undefined) throw new UsageError(`acks must be all, -1, 0 or 1, not '${value}'`);
        command.acks = acks;
        break;
      }
      case 'compression.type':
        if (!CODECS.includes(value as Codec)) throw new UsageError(`unknown compression.type '${value}'`);
        command.compression = value as Codec;
        break;
      case 'batch.size':
        if (!/^\d+$/.test(value)) throw new UsageError(`batch.size must be a non-negative integer, not '${value}'`);
        command.batchBytes = Number(value);
        break;
      case 'enable.idempotence':
        command.idempotent = value.trim().toLowerCase() === 'true';
        break;
      default:
        if (!isSecurityProperty(key)) command.ignored.push(key);
    }
  }
  // Kafka's rule: any of the three turns transactions on; the flag's id wins over the property's.
  if (durationArg !== undefined || idArg !== undefined || props.has('transactional.id'))
    command.transactionalId =
      idArg ?? props.get('transactional.id') ?? `${DEFAULT_TRANSACTION_ID_PREFIX}${randomUUID()}`;

  if (payloadFile !== undefined) {
    const delimiterArg = flags.values.get('payload-delimiter') ?? '\\n';
    const delimiter = delimiterArg === '\\n' ? '\n' : delimiterArg;
    const path = resolve(payloadFile);
    console.log(`Reading payloads from: ${path}`);
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size === 0) throw new UsageError('File does not exist or empty file provided.');
    const text = await readFile(path, 'utf8');
    command.payloads = text
      .split(delimiter)
      .filter((p) => p !== '')
      .map((p) => Buffer.from(p, 'utf8'));
    console.log(`Number of messages read: ${command.payloads.length}`);
  }
  return command;
}

/**
 * Kafka's producer performance statistics: counts and latencies of acknowledged records, a report line each
 * REPORTING_INTERVAL_MS, and a summary with percentiles over a regular sample of the latencies.
 */
class Stats {
  readonly #start = Date.now();
  readonly #latencies: Int32Array;
  readonly #sampling: number;
  #iteration = 0;
  #index = 0;
  #count = 0;
  #bytes = 0;
  #maxLatency = 0;
  #totalLatency = 0;
  #windowStart = Date.now();
  #windowCount = 0;
  #windowMaxLatency = 0;
  #windowTotalLatency = 0;
  #windowBytes = 0;
  #suppressed = false;

  constructor(
    numRecords: number,
    private readonly steadyState: boolean,
  ) {
    this.#sampling = Math.floor(numRecords / Math.min(numRecords, MAX_LATENCY_SAMPLES));
    this.#latencies = new Int32Array(Math.floor(numRecords / this.#sampling) + 1);
  }

  record(latency: number, bytes: number, now: number): void {
    this.#count++;
    this.#bytes += bytes;
    this.#totalLatency += latency;
    this.#maxLatency = Math.max(this.#maxLatency, latency);
    this.#windowCount++;
    this.#windowBytes += bytes;
    this.#windowTotalLatency += latency;
    this.#windowMaxLatency = Math.max(this.#windowMaxLatency, latency);
    if (this.#iteration % this.#sampling === 0 && this.#index < this.#latencies.length)
      this.#latencies[this.#index++] = latency;
    if (now - this.#windowStart >= REPORTING_INTERVAL_MS) {
      if (this.steadyState && this.#count === this.#windowCount) console.log('In steady state.');
      if (!this.#suppressed) this.#printWindow();
      this.#newWindow();
    }
    this.#iteration++;
  }

  suppressPrinting(): void {
    this.#suppressed = true;
  }

  #printWindow(): void {
    const elapsed = Date.now() - this.#windowStart;
    const recordsPerSec = (1000 * this.#windowCount) / elapsed;
    const mbPerSec = (1000 * this.#windowBytes) / elapsed / (1024 * 1024);
    console.log(
      `${this.#windowCount} records sent, ${fixed(recordsPerSec, 1)} records/sec (${fixed(mbPerSec, 2)} MB/sec), ` +
        `${fixed(this.#windowTotalLatency / this.#windowCount, 1)} ms avg latency, ` +
        `${fixed(this.#windowMaxLatency, 1)} ms max latency.`,
    );
  }

  #newWindow(): void {
    this.#windowStart = Date.now();
    this.#windowCount = 0;
    this.#windowMaxLatency = 0;
    this.#windowTotalLatency = 0;
    this.#windowBytes = 0;
  }

  printTotal(): void {
    const elapsed = Date.now() - this.#start;
    const recordsPerSec = (1000 * this.#count) / elapsed;
    const mbPerSec = (1000 * this.#bytes) / elapsed / (1024 * 1024);
    const sorted = this.#latencies.slice(0, this.#index).sort();
    const percentile = (p: number) => sorted[Math.floor(p * sorted.length)] ?? 0;
    console.log(
      `${this.#count}${this.steadyState ? ' steady state' : ''} records sent, ${fixed(recordsPerSec, 6)} records/sec ` +
        `(${fixed(mbPerSec, 2)} MB/sec), ${fixed(this.#totalLatency / this.#count, 2)} ms avg latency, ` +
        `${fixed(this.#maxLatency, 2)} ms max latency, ${percentile(0.5)} ms 50th, ${percentile(0.95)} ms 95th, ` +
        `${percentile(0.99)} ms 99th, ${percentile(0.999)} ms 99.9th.`,
    );
  }
}

/**
 * Kafka's ThroughputThrottler: once the records sent so far run ahead of the target rate, each further record
 * owes 1/throughput seconds of sleep, slept once the debt reaches MIN_SLEEP_MS. A negative target never
 * throttles; zero stops sending.
 */
class ThroughputThrottler {
  readonly #sleepPerRecordMs: number;
  #deficitMs = 0;

  constructor(
    private readonly target: number,
    private readonly startMs: number,
  ) {
    this.#sleepPerRecordMs = target > 0 ? 1000 / target : 0;
  }

  shouldThrottle(amountSoFar: number, sendStartMs: number): boolean {
    if (this.target < 0) return false;
    const elapsedSec = (sendStartMs - this.startMs) / 1000;
    return elapsedSec > 0 && amountSoFar / elapsedSec > this.target;
  }

  /** The time to sleep now, in ms (0: not yet); a target of 0 waits for ever. */
  owed(): number {
    if (this.target === 0) return Number.POSITIVE_INFINITY;
    this.#deficitMs += this.#sleepPerRecordMs;
    if (this.#deficitMs < MIN_SLEEP_MS) return 0;
    const owed = this.#deficitMs;
    this.#deficitMs = 0;
    return owed;
  }
}

interface Pending {
  value: Buffer;
  sendStartMs: number;
}

/** `samsa producer-perf-test`: Kafka's kafka-producer-perf-test.sh. Returns the exit code. */
export async function runProducerPerfTest(argv: string[]): Promise<number> {
  let c: PerfCommand;
  try {
    c = await parseCommand(argv);
  } catch (e) {
    return kafkaUsageExit('producer-perf-test', PRODUCER_PERF_USAGE, e);
  }
  for (const key of c.ignored)
    console.error(`samsa producer-perf-test: producer property ${key} has no effect here and is ignored`);

  const { Producer: ProducerClass } = await clientLibrary();
  const transactional = c.transactionalId !== undefined;
  const producer: Producer = new ProducerClass({
    ...clientOptions(c.bootstrap, c.security),
    clientId: c.clientId,
    compression: c.compression,
    acks: transactional ? -1 : c.acks,
    idempotent: transactional || (c.idempotent ?? c.acks === -1),
    ...(transactional && { transactionalId: c.transactionalId }),
    autocreateTopics: true,
  });

  let failure: unknown = null;
  if (c.warmupRecords > 0)
    console.log(
      `Warmup first ${c.warmupRecords} records. Steady state results will print after the complete test summary.`,
    );
  const stats = new Stats(c.numRecords, false);
  let steadyStats: Stats | null = null;
  const throttler = new ThroughputThrottler(c.throughput, Date.now());
  const sized = c.recordSize !== undefined ? Buffer.alloc(c.recordSize) : null;

  // Records are grouped into requests of batch.size bytes: one request in flight while the next one fills.
  let pending: Pending[] = [];
  let pendingBytes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  let transaction: Awaited<ReturnType<Producer['beginTransaction']>> | null = null;
  let transactionStartMs = 0;
  let transactionSize = 0;

  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    await inFlight;
    if (failure !== null) return;
    const target = transaction ?? producer;
    const steady = steadyStats;
    inFlight = target
      .send({ messages: batch.map((r) => ({ topic: c.topic, value: r.value })) })
      .then(() => {
        const now = Date.now();
        for (const r of batch) {
          stats.record(now - r.sendStartMs, r.value.length, now);
          steady?.record(now - r.sendStartMs, r.value.length, now);
        }
      })
      .catch((e: unknown) => {
        failure ??= e;
      });
  };

  try {
    for (let i = 0; i < c.numRecords && failure === null; i++) {
      let value: Buffer;
      if (c.payloads.length > 0) {
        // A payload picked at random for each record, as Kafka's tool does.
        value = c.payloads[Math.floor(Math.random() * c.payloads.length)]!;
      } else if (sized !== null) {
        value = Buffer.allocUnsafe(sized.length);
        for (let j = 0; j < value.length; j++) value[j] = 65 + Math.floor(Math.random() * 26);
      } else value = Buffer.from(String(i), 'utf8');

      if (transactional && transactionSize === 0) {
        transaction = await producer.beginTransaction();
        transactionStartMs = Date.now();
      }
      const sendStartMs = Date.now();
      if (c.warmupRecords > 0 && i === c.warmupRecords) {
        await flush();
        steadyStats = new Stats(c.numRecords - c.warmupRecords, true);
        stats.suppressPrinting();
      }
      pending.push({ value, sendStartMs });
      pendingBytes += value.length;
      transactionSize++;
      if (pendingBytes >= c.batchBytes) await flush();

      if (transaction !== null && c.transactionDurationMs <= sendStartMs - transactionStartMs) {
        await flush();
        await inFlight;
        if (failure === null) await transaction.commit();
        transaction = null;
        transactionSize = 0;
      }
      if (throttler.shouldThrottle(i, sendStartMs)) {
        const owed = throttler.owed();
        if (owed > 0) {
          // What was gathered leaves before the pause, as Kafka's producer sends while the tool sleeps.
          await flush();
          await sleep(owed === Number.POSITIVE_INFINITY ? 2 ** 31 - 1 : owed);
        }
      }
    }
    await flush();
    await inFlight;
    if (transaction !== null && failure === null) await transaction.commit();
  } catch (e) {
    failure ??= e;
  } finally {
    await producer.close().catch(() => {});
  }
  if (failure !== null) {
    console.error(describeFailure('producer-perf-test', c.bootstrap, failure));
    return FAILURE_EXIT_CODE;
  }
  stats.printTotal();
  steadyStats?.printTotal();
  return 0;
}
