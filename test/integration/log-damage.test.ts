import assert from 'node:assert/strict';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { findCoordinator, simpleCommit } from '../broker/raw-clients.js';
import { withTempDir } from '../storage/helpers.js';
import { createTopics } from './clients.js';
import { RawClient } from './raw-client.js';

/** A record batch's record count field: damaging it makes the records undecodable (and the CRC wrong). */
const RECORDS_COUNT_OFFSET = 57;

interface LogLine {
  level: string;
  component: string;
  message: string;
  [field: string]: unknown;
}

/** Brokers a test started: stopped at its end whatever happened (stop() is idempotent). */
const started: Broker[] = [];
test.afterEach(async () => {
  for (const b of started.splice(0)) await b.stop().catch(() => {});
});

/** Starts a broker on `dir` whose log lines (JSON) are kept in `lines`. */
async function brokerOn(dir: string, lines: LogLine[]): Promise<Broker> {
  const logger = new Logger('broker', {
    level: 'info',
    format: 'json',
    sink: { write: (line) => lines.push(JSON.parse(line) as LogLine) },
  });
  const broker = await startBroker({
    logDirs: [dir],
    logger,
    groups: { offsetsTopicNumPartitions: 1 },
    transactions: { stateLogNumPartitions: 1 },
  });
  started.push(broker);
  return broker;
}

function client(broker: Broker): Kafka {
  // Few retries: a coordinator stuck loading must fail the test, not wait it out.
  return new Kafka({
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 500 },
  });
}

/** Positions and base offsets of the batches in a segment file. */
function batchesIn(bytes: Buffer): Array<{ position: number; baseOffset: number }> {
  const out: Array<{ position: number; baseOffset: number }> = [];
  for (let at = 0; at + 61 <= bytes.length; at += 12 + bytes.readInt32BE(at + 8)) {
    out.push({ position: at, baseOffset: Number(bytes.readBigInt64BE(at)) });
  }
  return out;
}

/** Overwrites the record count of the `index`-th batch of a partition's first segment; returns its base offset. */
async function damageBatch(partitionDir: string, index: number): Promise<number> {
  const file = join(partitionDir, '00000000000000000000.log');
  const batch = batchesIn(await readFile(file))[index]!;
  const handle = await open(file, 'r+');
  await handle.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]), 0, 4, batch.position + RECORDS_COUNT_OFFSET);
  await handle.close();
  return batch.baseOffset;
}

async function committedOffset(kafka: Kafka, groupId: string): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [topic] = await admin.fetchOffsets({ groupId, topics: ['orders'] });
    return topic?.partitions[0]?.offset;
  } finally {
    await admin.disconnect();
  }
}

test('a damaged __consumer_offsets batch: the groups load from what is valid, and the operator is told', () =>
  withTempDir(async (dir) => {
    const lines: LogLine[] = [];
    let broker = await brokerOn(dir, lines);
    let kafka = client(broker);
    await createTopics(kafka, [{ topic: 'orders', numPartitions: 1 }]);
    // Three commits of one group, one batch each, and one of another group after them.
    const raw = await RawClient.connect(broker.port);
    await findCoordinator(raw, 'billing');
    for (const [group, offset] of [
      ['billing', 10n],
      ['billing', 20n],
      ['billing', 30n],
      ['audit', 7n],
    ] as const) {
      const r = await simpleCommit(raw, group, 'orders', 0, offset);
      assert.equal(r.topics[0]!.partitions[0]!.errorCode, 0);
    }
    raw.close();
    await broker.stop();

    const offsetsDir = join(dir, '__consumer_offsets-0');
    const damaged = await damageBatch(offsetsDir, 1);

    // After a clean stop the log is not rescanned: the coordinator meets the bad batch and skips it.
    lines.length = 0;
    broker = await brokerOn(dir, lines);
    kafka = client(broker);
    assert.equal(await committedOffset(kafka, 'billing'), '30', 'the commits after the bad batch are loaded');
    assert.equal(await committedOffset(kafka, 'audit'), '7');
    const skipped = lines.find((l) => l.message.startsWith('skipping a corrupt batch'));
    assert.equal(skipped?.level, 'error');
    assert.equal(skipped?.topic, '__consumer_offsets');
    assert.equal(skipped?.partition, 0);
    assert.equal(skipped?.baseOffset, damaged);
    await broker.stop();

    // After a crash (no clean shutdown marker) recovery cuts the log at the bad batch: the commits after it are
    // lost, and both the log and the coordinator say so.
    await rm(join(dir, '.kafka_cleanshutdown'));
    lines.length = 0;
    broker = await brokerOn(dir, lines);
    kafka = client(broker);
    assert.equal(await committedOffset(kafka, 'billing'), '10', 'the commit before the bad batch survives');
    const truncated = lines.find((l) => l.message.startsWith('log truncated by recovery'));
    assert.equal(truncated?.level, 'warn');
    assert.equal(truncated?.component, 'log');
    assert.equal(truncated?.topic, '__consumer_offsets');
    assert.equal(truncated?.offset, damaged);
    assert.equal(truncated?.reason, 'bad CRC');
    const recovered = lines.find((l) => l.message === 'log recovered' && l.topic === '__consumer_offsets');
    assert.ok(recovered && Number(recovered.bytesScanned) > 0, 'the recovery is logged with the bytes it scanned');
    const loading = lines.find((l) => l.message.startsWith('loading from a log that recovery truncated'));
    assert.equal(loading?.level, 'warn');
    assert.equal(loading?.component, 'groups');
    await broker.stop();
  }));

test('a damaged __transaction_state batch: the broker starts, the transactional id works, the operator is told', () =>
  withTempDir(async (dir) => {
    const lines: LogLine[] = [];
    let broker = await brokerOn(dir, lines);
    let kafka = client(broker);
    await createTopics(kafka, [{ topic: 'orders', numPartitions: 1 }]);
    let producer = kafka.producer({ transactionalId: 'checkout', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 3; i++) {
      const txn = await producer.transaction();
      await txn.send({ topic: 'orders', messages: [{ value: `order-${i}` }] });
      await txn.commit();
    }
    await producer.disconnect();
    await broker.stop();

    const stateDir = join(dir, '__transaction_state-0');
    const batches = batchesIn(await readFile(join(stateDir, '00000000000000000000.log')));
    assert.ok(batches.length >= 4, `${batches.length} state batches`);
    const damaged = await damageBatch(stateDir, 1);

    lines.length = 0;
    broker = await brokerOn(dir, lines);
    kafka = client(broker);
    producer = kafka.producer({ transactionalId: 'checkout', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic: 'orders', messages: [{ value: 'order-3' }] });
    await txn.commit();
    await producer.disconnect();
    const skipped = lines.find((l) => l.message.startsWith('skipping a corrupt batch'));
    assert.equal(skipped?.level, 'error');
    assert.equal(skipped?.topic, '__transaction_state');
    assert.equal(skipped?.baseOffset, damaged);
    await broker.stop();
  }));

test('__consumer_offsets unreadable in the middle after a clean stop: the groups load up to there, and the operator is told', () =>
  withTempDir(async (dir) => {
    const lines: LogLine[] = [];
    let broker = await brokerOn(dir, lines);
    await createTopics(client(broker), [{ topic: 'orders', numPartitions: 1 }]);
    const raw = await RawClient.connect(broker.port);
    await findCoordinator(raw, 'billing');
    // Enough commits after the one to damage that the log's index covers it: a clean start does not walk there.
    for (let offset = 1n; offset <= 100n; offset++) await simpleCommit(raw, 'billing', 'orders', 0, offset * 10n);
    raw.close();
    await broker.stop();

    // The second batch's size field says 13 bytes: nothing after it can be found by walking.
    const file = join(dir, '__consumer_offsets-0', '00000000000000000000.log');
    const second = batchesIn(await readFile(file))[1]!;
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from([0, 0, 0, 1]), 0, 4, second.position + 8);
    await handle.close();

    lines.length = 0;
    broker = await brokerOn(dir, lines);
    assert.equal(await committedOffset(client(broker), 'billing'), '10', 'the commit before the damage is loaded');
    const stopped = lines.find((l) => l.message.startsWith('stopped loading at an unreadable part'));
    assert.equal(stopped?.level, 'error');
    assert.equal(stopped?.topic, '__consumer_offsets');
    assert.equal(stopped?.offset, second.baseOffset);
  }));
