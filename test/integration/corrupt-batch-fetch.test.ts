import assert from 'node:assert/strict';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis, defaultFetchRequest } from '../../src/protocol/generated/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { withTempDir } from '../storage/helpers.js';
import { createTopics } from './clients.js';
import { RawClient } from './raw-client.js';

/** Small segments with an index entry about every batch: the start-up check covers only a segment's last batches. */
const SEGMENT_BYTES = 4096;
const INDEX_INTERVAL_BYTES = 128;
const MAGIC_OFFSET = 16;

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

test('a Fetch meeting a damaged batch gets the batches before it, then CORRUPT_MESSAGE; the connection stays', () =>
  withTempDir(async (dir) => {
    const lines: LogLine[] = [];
    let broker = await brokerOn(dir, lines);
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    await createTopics(kafka, [{ topic: 'orders', numPartitions: 1 }]);
    const producer = kafka.producer();
    await producer.connect();
    // One batch per send, enough to fill a few segments.
    for (let i = 0; i < 60; i++) {
      await producer.send({ topic: 'orders', acks: -1, messages: [{ value: `order-${i}`.padEnd(100, '.') }] });
    }
    await producer.disconnect();
    await broker.stop();

    const partitionDir = join(dir, 'orders-0');
    assert.ok((await readdir(partitionDir)).filter((n) => n.endsWith('.log')).length >= 3);
    // The fourth batch of the first segment (offset 3) gets a bad magic byte.
    const file = join(partitionDir, '00000000000000000000.log');
    const bytes = await readFile(file);
    let position = 0;
    for (let i = 0; i < 3; i++) position += 12 + bytes.readInt32BE(position + 8);
    assert.equal(Number(bytes.readBigInt64BE(position)), 3);
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from([0x63]), 0, 1, position + MAGIC_OFFSET);
    await handle.close();

    lines.length = 0;
    broker = await brokerOn(dir, lines);
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
