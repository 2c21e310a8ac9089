import assert from 'node:assert/strict';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis, defaultFetchRequest } from '../../src/protocol/generated/index.js';
import { readLegacyRecords } from '../../src/protocol/records/legacy-message-set.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { withTempDir } from '../storage/helpers.js';
import { createTopics } from './clients.js';
import { RawClient } from './raw-client.js';

/** Small segments with an index entry about every batch: the start-up check covers only a segment's last batches. */
const SEGMENT_BYTES = 4096;
const INDEX_INTERVAL_BYTES = 128;
const MAGIC_OFFSET = 16;
/** A record batch's record count field: damaging it leaves the header walkable but the records undecodable. */
const RECORDS_COUNT_OFFSET = 57;

interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

const started: Broker[] = [];
test.afterEach(async () => {
  for (const b of started.splice(0)) await b.stop().catch(() => {});
});

async function brokerOn(dir: string, lines: LogLine[]): Promise<Broker> {
  const logger = new Logger('broker', {
    level: 'info',
    format: 'json',
    sink: { write: (line) => lines.push(JSON.parse(line) as LogLine) },
  });
  const broker = await startBroker({
    logDirs: [dir],
    logger,
    logDefaults: { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: INDEX_INTERVAL_BYTES },
    groups: { offsetsTopicNumPartitions: 1 },
    transactions: { stateLogNumPartitions: 1 },
  });
  started.push(broker);
  return broker;
}

/** One Fetch v11 of partition 0 of `topic` from `offset`: its error code and the base offsets of its batches. */
async function fetchFrom(client: RawClient, topic: string, offset: number) {
  const r = await client.request(apis.Fetch, 11, {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    maxBytes: 1 << 20,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: BigInt(offset),
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
  });
  const p = r.responses[0]!.partitions[0]!;
  const batches = readBatches(p.records ?? Buffer.alloc(0)).batches;
  return {
    errorCode: p.errorCode,
    highWatermark: Number(p.highWatermark),
    bases: batches.map((b) => Number(b.baseOffset)),
  };
}

/** Writes 60 records, one batch each (offsets 0-59, several segments), and stops the broker. */
async function writeOrders(dir: string, lines: LogLine[]): Promise<void> {
  const broker = await brokerOn(dir, lines);
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  await createTopics(kafka, [{ topic: 'orders', numPartitions: 1 }]);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 60; i++) {
    await producer.send({ topic: 'orders', acks: -1, messages: [{ value: `order-${i}`.padEnd(100, '.') }] });
  }
  await producer.disconnect();
  await broker.stop();
}

/** Overwrites bytes of the batch at offset 3 (the fourth) of the first segment; returns the file and its position. */
async function damageFourthBatch(dir: string, at: number, bytes: Buffer): Promise<{ file: string; position: number }> {
  const partitionDir = join(dir, 'orders-0');
  assert.ok((await readdir(partitionDir)).filter((n) => n.endsWith('.log')).length >= 3);
  const file = join(partitionDir, '00000000000000000000.log');
  const content = await readFile(file);
  let position = 0;
  for (let i = 0; i < 3; i++) position += 12 + content.readInt32BE(position + 8);
  assert.equal(Number(content.readBigInt64BE(position)), 3);
  const handle = await open(file, 'r+');
  await handle.write(bytes, 0, bytes.length, position + at);
  await handle.close();
  return { file, position };
}

test('a Fetch meeting a damaged batch gets the batches before it, then CORRUPT_MESSAGE; the connection stays', () =>
  withTempDir(async (dir) => {
    const lines: LogLine[] = [];
    await writeOrders(dir, lines);
    // The fourth batch of the first segment (offset 3) gets a bad magic byte.
    const { file, position } = await damageFourthBatch(dir, MAGIC_OFFSET, Buffer.from([0x63]));

    lines.length = 0;
    const broker = await brokerOn(dir, lines);
    const client = await RawClient.connect(broker.port);
    try {
      const before = await fetchFrom(client, 'orders', 0);
      assert.equal(before.errorCode, ErrorCode.NONE);
      assert.deepEqual(before.bases, [0, 1, 2], 'the batches before the damage, and nothing after it');
      for (let i = 0; i < 2; i++) {
        const at = await fetchFrom(client, 'orders', 3);
        assert.equal(at.errorCode, ErrorCode.CORRUPT_MESSAGE);
        assert.deepEqual(at.bases, []);
        assert.equal(at.highWatermark, 60);
      }
      // The same connection goes on serving: other requests, and the records past the damage by offset.
      const after = await fetchFrom(client, 'orders', 30);
      assert.equal(after.errorCode, ErrorCode.NONE);
      assert.equal(after.bases[0], 30);
      const versions = await client.request(apis.ApiVersions, 3, {
        clientSoftwareName: 'test',
        clientSoftwareVersion: '1',
      });
      assert.equal(versions.errorCode, ErrorCode.NONE);
    } finally {
      client.close();
    }
    const errors = lines.filter((l) => l.message.startsWith('corrupt batch in the log'));
    assert.equal(errors.length, 1, 'told once, however many fetches meet it');
    assert.equal(errors[0]!.level, 'error');
    assert.equal(errors[0]!.topic, 'orders');
    assert.equal(errors[0]!.file, file);
    assert.equal(errors[0]!.position, position);
    assert.equal(errors[0]!.reason, 'bad magic');
  }));

test('Fetch v0-3: a batch that cannot be converted ends the answer before it, or gets CORRUPT_MESSAGE', () =>
  withTempDir(async (dir) => {
    const lines: LogLine[] = [];
    await writeOrders(dir, lines);
    // A record count larger than the batch: the header walks, the records do not decode (the CRC fails too).
    await damageFourthBatch(dir, RECORDS_COUNT_OFFSET, Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    const broker = await brokerOn(dir, lines);
    const client = await RawClient.connect(broker.port);
    try {
      const fetchV3 = async (offset: number) => {
        const r = await client.request(apis.Fetch, 3, {
          ...defaultFetchRequest(),
          replicaId: -1,
          maxWaitMs: 0,
          maxBytes: 1 << 20,
          topics: [
            {
              topic: 'orders',
              topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
              partitions: [
                {
                  partition: 0,
                  currentLeaderEpoch: -1,
                  fetchOffset: BigInt(offset),
                  lastFetchedEpoch: -1,
                  logStartOffset: -1n,
                  partitionMaxBytes: 1 << 20,
                  replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
                },
              ],
            },
          ],
        });
        const p = r.responses[0]!.partitions[0]!;
        return {
          errorCode: p.errorCode,
          offsets: readLegacyRecords(p.records ?? Buffer.alloc(0)).map((m) => Number(m.offset)),
        };
      };
      assert.deepEqual(await fetchV3(0), { errorCode: ErrorCode.NONE, offsets: [0, 1, 2] });
      assert.deepEqual(await fetchV3(3), { errorCode: ErrorCode.CORRUPT_MESSAGE, offsets: [] });
      assert.deepEqual((await fetchV3(4)).offsets.slice(0, 2), [4, 5], 'the same connection goes on');
    } finally {
      client.close();
    }
  }));
