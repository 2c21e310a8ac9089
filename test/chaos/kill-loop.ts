import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { createTopics, PYTHON } from '../integration/clients.js';
import {
  BrokerProcess,
  freePort,
  mib,
  type PartitionRead,
  printFigures,
  RawClient,
  Rng,
  readPartition,
  withTempDir,
  withTimeout,
  writeServerProperties,
} from './harness.js';

/**
 * Probe 1: a broker killed with SIGKILL at random moments while an idempotent acks=all producer writes to
 * several partitions, restarted, N times; then every acknowledged record must be stored exactly once, at the
 * offset it was acknowledged with, in order per partition, and no record twice.
 *
 * The producer is confluent-kafka-python (librdkafka): it keeps its producer id, epoch and sequence numbers
 * across broker restarts and retries each batch until message.timeout.ms, so the records in flight at a kill
 * are retried into the restarted broker, which is exactly what must not duplicate them. KafkaJS gives up on a
 * send after its retries and starts a new sequence, which tests far less.
 */
export interface KillLoopOptions {
  cycles: number;
  seed: number;
  partitions?: number;
  /** Records the producer keeps unacknowledged at most. */
  maxInFlight?: number;
}

export interface KillLoopResult {
  seed: number;
  cycles: number;
  acknowledged: number;
  lost: string[];
  duplicated: string[];
  outOfOrder: string[];
  holes: string[];
  producerErrors: string[];
  peakRssBytes: number;
}

const TOPIC = 'chaos-kill';
/** Small segments, so that kills land in rolls and recovery crosses segment boundaries and snapshots. */
const SEGMENT_BYTES = 64 * 1024;
/** A kill comes this long after the restarted broker took its first write again, at most. */
const MAX_KILL_DELAY_MS = 1200;
/** How long the restarted broker may go without acknowledging anything before the loop counts it as stuck. */
const PROGRESS_TIMEOUT_MS = 60_000;

export async function runKillLoop(options: KillLoopOptions): Promise<KillLoopResult> {
  const rng = new Rng(options.seed);
  const partitions = options.partitions ?? 4;
  return withTempDir(async (dir) => {
    const port = await freePort();
    const props = join(dir, 'server.properties');
    await writeServerProperties(props, join(dir, 'data'), port, {
      'log.segment.bytes': SEGMENT_BYTES,
      'auto.create.topics.enable': 'false',
    });
    const bootstrap = `127.0.0.1:${port}`;
    let peakRssBytes = 0;
    let broker = new BrokerProcess(props);
    await broker.waitStarted();
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    await createTopics(kafka, [{ topic: TOPIC, numPartitions: partitions }]);

    const producer = startIdempotentProducer(bootstrap, TOPIC, partitions, options.maxInFlight ?? 200);
    let producerErrors: string[];
    try {
      for (let cycle = 0; cycle < options.cycles; cycle++) {
        // Most kills land while the producer writes; some while the restarted broker is still recovering.
        if (cycle > 0 && rng.next() < 0.2) {
          await sleep(rng.int(800));
        } else {
          if (cycle > 0) await broker.waitStarted();
          await producer.nextAck();
          await sleep(rng.int(MAX_KILL_DELAY_MS));
        }
        await broker.kill();
        peakRssBytes = Math.max(peakRssBytes, broker.peakRssBytes);
        broker = new BrokerProcess(props);
      }
      await broker.waitStarted();
      await producer.nextAck();
      producerErrors = await producer.stop();
    } finally {
      producer.kill();
    }

    const client = await RawClient.connect(port);
    let stored: StoredCheck;
    try {
      stored = await checkStored(partitions, producer.acks, (partition) => readPartition(client, TOPIC, partition));
    } finally {
      client.close();
      await broker.stop();
      peakRssBytes = Math.max(peakRssBytes, broker.peakRssBytes);
    }
    const result: KillLoopResult = {
      seed: options.seed,
      cycles: options.cycles,
      acknowledged: producer.acks.length,
      ...stored,
      producerErrors,
      peakRssBytes,
    };
    printFigures('kill-loop', {
      seed: result.seed,
      cycles: result.cycles,
      partitions,
      acknowledged: result.acknowledged,
      lost: result.lost.length,
      duplicated: result.duplicated.length,
      outOfOrder: result.outOfOrder.length,
      holes: result.holes.length,
      producerErrors: producerErrors.length,
      peakBrokerRss: mib(peakRssBytes),
    });
    return result;
  });
}

/** An acknowledged record, as kill_loop_producer.py reported it. */
export interface Ack {
  partition: number;
  offset: number;
  value: string;
  /** When the acknowledgement arrived (Date.now()). */
  atMs: number;
}

/** kill_loop_producer.py running: its acknowledgements so far, a wait for the next one, and its stop. */
export interface IdempotentProducer {
  readonly acks: Ack[];
  /** Resolves at the next acknowledgement (of `partition`, when given); fails as stuck after PROGRESS_TIMEOUT_MS. */
  nextAck(partition?: number): Promise<Ack>;
  /** Asks it to stop, waits for its flush, and returns its errors (failed deliveries, fatal errors, unflushed). */
  stop(): Promise<string[]>;
  /** Kills it if it still runs. */
  kill(): void;
}

/** Starts confluent-kafka-python's idempotent acks=all producer (kill_loop_producer.py) on `topic`. */
export function startIdempotentProducer(
  bootstrap: string,
  topic: string,
  partitions: number,
  maxInFlight: number,
): IdempotentProducer {
  const acks: Ack[] = [];
  const errors: string[] = [];
  const waiters: Array<{ partition: number | undefined; resolve: (ack: Ack) => void }> = [];
  const child = spawn(
    PYTHON,
    [join(import.meta.dirname, 'kill_loop_producer.py'), bootstrap, topic, String(partitions), String(maxInFlight)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let done: string | null = null;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'ack') {
      const ack = { partition: Number(a), offset: Number(b), value: c!, atMs: Date.now() };
      acks.push(ack);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (w.partition === undefined || w.partition === ack.partition) {
          waiters.splice(i, 1);
          w.resolve(ack);
        }
      }
    } else if (kind === 'err') {
      errors.push(`${b}: ${c}`);
    } else if (kind === 'done') {
      done = line.slice(5);
    }
  });
  return {
    acks,
    nextAck: (partition?: number) =>
      withTimeout(
        new Promise<Ack>((resolve) => waiters.push({ partition, resolve })),
        PROGRESS_TIMEOUT_MS,
        partition === undefined ? 'a write acknowledged' : `a write to partition ${partition} acknowledged`,
      ).catch((e: unknown) => {
        // Stuck: what the producer said (librdkafka's warnings, failed deliveries) is where to look first.
        const said = stderr.trim().split('\n').slice(-150).join('\n');
        throw new Error(
          `${(e as Error).message}; ${acks.length} acknowledged before, producer errors: ${
            errors.slice(-10).join('; ') || 'none'
          }; producer stderr (last lines):\n${said || '(empty)'}`,
        );
      }),
    async stop() {
      child.stdin.end('stop\n');
      await withTimeout(exited, 180_000, 'the producer flush');
      if (done === null) throw new Error(`the producer ended without its summary:\n${stderr}`);
      const summary = JSON.parse(done) as { fatal: string[]; unflushed: number };
      const all = [...errors, ...summary.fatal.map((f) => `fatal: ${f}`)];
      if (summary.unflushed > 0) all.push(`${summary.unflushed} records never delivered`);
      return all;
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export interface StoredCheck {
  lost: string[];
  duplicated: string[];
  outOfOrder: string[];
  holes: string[];
}

/**
 * Reads each partition back (with `read`) and checks it against the acknowledgements: every acknowledged record
 * at the offset it was acknowledged with, no value twice, sequences in order per partition, no hole in the offsets.
 */
export async function checkStored(
  partitions: number,
  acks: readonly Ack[],
  read: (partition: number) => Promise<PartitionRead>,
): Promise<StoredCheck> {
  const lost: string[] = [];
  const duplicated: string[] = [];
  const outOfOrder: string[] = [];
  const holes: string[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const stored = await read(partition);
    if (stored.stoppedBy) holes.push(`partition ${partition}: read stopped: ${stored.stoppedBy}`);
    const byOffset = new Map(stored.records.map((r) => [r.offset, r.value]));
    const seen = new Set<string>();
    let previousSequence = -1;
    let expectedOffset = stored.records[0]?.offset ?? 0;
    for (const r of stored.records) {
      if (r.offset !== expectedOffset) holes.push(`partition ${partition}: offsets ${expectedOffset}..${r.offset - 1}`);
      expectedOffset = r.offset + 1;
      const value = r.value ?? '';
      if (seen.has(value)) duplicated.push(`${value} (again at offset ${r.offset})`);
      seen.add(value);
      const sequence = Number(value.split('-')[1]);
      if (sequence <= previousSequence)
        outOfOrder.push(`${value} at offset ${r.offset} after sequence ${previousSequence}`);
      previousSequence = Math.max(previousSequence, sequence);
    }
    for (const ack of acks.filter((a) => a.partition === partition)) {
      const value = byOffset.get(ack.offset);
      if (value !== ack.value)
        lost.push(`${ack.value} acknowledged at ${partition}/${ack.offset}, stored there: ${value ?? 'nothing'}`);
    }
  }
  return { lost, duplicated, outOfOrder, holes };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
