import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { RECORD_BATCH_OVERHEAD } from '../../src/protocol/records/batch-header.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { RecordBatch } from '../../src/protocol/records/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { testLogConfig, withTempDir } from './helpers.js';

async function openLog(dir: string, overrides: Partial<LogConfig> = {}) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: testLogConfig(overrides),
    cleanShutdown: true,
  });
}

/** One batch of records with the given timestamps, in that order, as a producer sends it. */
function batchOf(timestamps: number[], compression = CompressionType.None): Buffer {
  return buildRecordBatch(
    timestamps.map((t, i) => ({ key: null, value: Buffer.from(`record-${i}`), timestamp: BigInt(t) })),
    { compression },
  );
}

async function append(log: PartitionLog, batch: Buffer): Promise<void> {
  await log.append(batch, { sync: false, recordCount: new RecordBatch(batch).recordCount });
}

const CODECS = [
  CompressionType.None,
  CompressionType.Gzip,
  CompressionType.Snappy,
  CompressionType.Lz4,
  CompressionType.Zstd,
] as const;

for (const codec of CODECS) {
  test(`by timestamp: the first record at or after the time inside one batch (${CompressionType[codec]})`, () =>
    withTempDir(async (dir) => {
      const log = await openLog(dir);
      // Timestamps out of order within the batch, as producers may send them.
      await append(log, batchOf([1000, 3000, 2000, 4000], codec));
      assert.deepEqual(await log.offsetForTimestamp(0), { offset: 0, timestamp: 1000 });
      assert.deepEqual(await log.offsetForTimestamp(1000), { offset: 0, timestamp: 1000 });
      assert.deepEqual(await log.offsetForTimestamp(1001), { offset: 1, timestamp: 3000 });
      // The first record at or after 2500 is offset 1 (3000), not offset 2 (2000 is earlier than asked).
      assert.deepEqual(await log.offsetForTimestamp(2500), { offset: 1, timestamp: 3000 });
      assert.deepEqual(await log.offsetForTimestamp(3001), { offset: 3, timestamp: 4000 });
      assert.equal(await log.offsetForTimestamp(4001), null);
      assert.deepEqual(await log.maxTimestampAndOffset(), { offset: 3, timestamp: 4000 });
      await log.close();
    }));
}

test('by timestamp: under LogAppendTime every record has the batch timestamp', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    const first = batchOf([5, 6, 7], CompressionType.Lz4);
    new RecordBatch(first).setLogAppendTime(2000n);
    const second = batchOf([1, 9000]);
    new RecordBatch(second).setLogAppendTime(3000n);
    await append(log, first);
    await append(log, second);
    assert.deepEqual(await log.offsetForTimestamp(6), { offset: 0, timestamp: 2000 });
    assert.deepEqual(await log.offsetForTimestamp(2001), { offset: 3, timestamp: 3000 });
    assert.equal(await log.offsetForTimestamp(3001), null, 'the create times inside are not what counts');
    assert.deepEqual(await log.maxTimestampAndOffset(), { offset: 3, timestamp: 3000 });
    await log.close();
  }));

test('by timestamp: across batches and segments, through the time index, and after a reopen', () =>
  withTempDir(async (dir) => {
    const sample = batchOf([0, 0, 0]);
    const overrides = { indexIntervalBytes: 1, segmentBytes: sample.length * 4 };
    let log = await openLog(dir, overrides);
    // Batch i holds offsets 3i..3i+2 with timestamps 1000+100i, +50, +20 (the max in the middle).
    for (let i = 0; i < 10; i++) {
      const t = 1000 + i * 100;
      await append(log, batchOf([t, t + 50, t + 20], i % 2 ? CompressionType.Gzip : CompressionType.None));
    }
    const check = async () => {
      assert.deepEqual(await log.offsetForTimestamp(0), { offset: 0, timestamp: 1000 });
      assert.deepEqual(await log.offsetForTimestamp(1230), { offset: 7, timestamp: 1250 });
      assert.deepEqual(await log.offsetForTimestamp(1260), { offset: 9, timestamp: 1300 });
      assert.deepEqual(await log.offsetForTimestamp(1530), { offset: 16, timestamp: 1550 });
      assert.deepEqual(await log.offsetForTimestamp(1551), { offset: 18, timestamp: 1600 });
      assert.deepEqual(await log.offsetForTimestamp(1950), { offset: 28, timestamp: 1950 });
      assert.equal(await log.offsetForTimestamp(1951), null);
      assert.deepEqual(await log.maxTimestampAndOffset(), { offset: 28, timestamp: 1950 });
    };
    await check();
    await log.close();
    log = await openLog(dir, overrides);
    await check();
    await log.close();
  }));

test('by timestamp: records below the log start offset are not answers', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    await append(log, batchOf([1000, 3000, 2000, 4000]));
    await append(log, batchOf([5000]));
    log.advanceLogStartOffset(2);
    assert.deepEqual(await log.offsetForTimestamp(0), { offset: 2, timestamp: 2000 });
    assert.deepEqual(await log.offsetForTimestamp(2500), { offset: 3, timestamp: 4000 });
    log.advanceLogStartOffset(4);
    assert.deepEqual(await log.offsetForTimestamp(2500), { offset: 4, timestamp: 5000 });
    await log.close();
  }));

test('by timestamp: batches whose max timestamp is below the time are not decompressed', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    // The first batch's compressed records are garbage: decoding it would throw.
    const broken = batchOf([1000, 1100], CompressionType.Gzip);
    broken.fill(0xee, RECORD_BATCH_OVERHEAD);
    await append(log, broken);
    await append(log, batchOf([2000, 2100], CompressionType.Gzip));
    assert.deepEqual(await log.offsetForTimestamp(1101), { offset: 2, timestamp: 2000 });
    await assert.rejects(log.offsetForTimestamp(1050), 'the broken batch is read when it may hold the answer');
    await log.close();
  }));
