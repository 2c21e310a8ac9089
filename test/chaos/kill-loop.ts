import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { createTopics, PYTHON } from '../integration/clients.js';
import {
  BrokerProcess,
  freePort,
  mib,
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

interface Ack {
  partition: number;
  offset: number;
  value: string;
}

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

    const acks: Ack[] = [];
    const producerErrors: string[] = [];
    let ackWaiter: (() => void) | null = null;
    const producer = spawn(
      PYTHON,
      [
        join(import.meta.dirname, 'kill_loop_producer.py'),
        bootstrap,
        TOPIC,
        String(partitions),
        String(options.maxInFlight ?? 200),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let producerStderr = '';
    producer.stderr.on('data', (d: Buffer) => (producerStderr += d.toString()));
    let done: string | null = null;
    const producerExited = new Promise<void>((resolve) => producer.once('exit', () => resolve()));
    createInterface({ input: producer.stdout }).on('line', (line) => {
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'ack') {
        acks.push({ partition: Number(a), offset: Number(b), value: c! });
        ackWaiter?.();
      } else if (kind === 'err') {
        producerErrors.push(`${b}: ${c}`);
      } else if (kind === 'done') {
        done = line.slice(5);
      }
    });
    const nextAck = () =>
      withTimeout(
        new Promise<void>((resolve) => {
          ackWaiter = () => {
            ackWaiter = null;
            resolve();
          };
        }),
        PROGRESS_TIMEOUT_MS,
        'a write acknowledged by the restarted broker',
      );

    try {
      for (let cycle = 0; cycle < options.cycles; cycle++) {
        // Most kills land while the producer writes; some while the restarted broker is still recovering.
        if (cycle > 0 && rng.next() < 0.2) {
          await sleep(rng.int(800));
        } else {
          if (cycle > 0) await broker.waitStarted();
          await nextAck();
          await sleep(rng.int(MAX_KILL_DELAY_MS));
        }
        await broker.kill();
        peakRssBytes = Math.max(peakRssBytes, broker.peakRssBytes);
        broker = new BrokerProcess(props);
      }
      await broker.waitStarted();
      await nextAck();
      producer.stdin.end('stop\n');
      await withTimeout(producerExited, 180_000, 'the producer flush');
    } finally {
      if (producer.exitCode === null) producer.kill('SIGKILL');
    }
    if (done === null) throw new Error(`the producer ended without its summary:\n${producerStderr}`);
    const summary = JSON.parse(done) as { fatal: string[]; unflushed: number };
    producerErrors.push(...summary.fatal.map((f) => `fatal: ${f}`));
    if (summary.unflushed > 0) producerErrors.push(`${summary.unflushed} records never delivered`);

    const client = await RawClient.connect(port);
    const lost: string[] = [];
    const duplicated: string[] = [];
    const outOfOrder: string[] = [];
    const holes: string[] = [];
    try {
      for (let partition = 0; partition < partitions; partition++) {
        const read = await readPartition(client, TOPIC, partition);
        if (read.stoppedBy) holes.push(`partition ${partition}: read stopped: ${read.stoppedBy}`);
        const byOffset = new Map(read.records.map((r) => [r.offset, r.value]));
        const seen = new Set<string>();
        let previousSequence = -1;
        let expectedOffset = read.records[0]?.offset ?? 0;
        for (const r of read.records) {
          if (r.offset !== expectedOffset)
            holes.push(`partition ${partition}: offsets ${expectedOffset}..${r.offset - 1}`);
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
          const stored = byOffset.get(ack.offset);
          if (stored !== ack.value)
            lost.push(`${ack.value} acknowledged at ${partition}/${ack.offset}, stored there: ${stored ?? 'nothing'}`);
        }
      }
    } finally {
      client.close();
      await broker.stop();
      peakRssBytes = Math.max(peakRssBytes, broker.peakRssBytes);
    }
    const result: KillLoopResult = {
      seed: options.seed,
      cycles: options.cycles,
      acknowledged: acks.length,
      lost,
      duplicated,
      outOfOrder,
      holes,
      producerErrors,
      peakRssBytes,
    };
    printFigures('kill-loop', {
      seed: result.seed,
      cycles: result.cycles,
      partitions,
      acknowledged: result.acknowledged,
      lost: lost.length,
      duplicated: duplicated.length,
      outOfOrder: outOfOrder.length,
      holes: holes.length,
      producerErrors: producerErrors.length,
      peakBrokerRss: mib(peakRssBytes),
    });
    return result;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
