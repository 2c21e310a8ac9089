import assert from 'node:assert/strict';
import { copyFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { writeOffsetCheckpoint } from '../../src/storage/checkpoint-file.js';
import { cleanLog } from '../../src/storage/log-cleaner.js';
import { CLEANER_OFFSET_CHECKPOINT_FILE, LogManager } from '../../src/storage/log-manager.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { testLogConfig, withTempDir } from './helpers.js';

const config = testLogConfig({
  indexIntervalBytes: 100,
  compact: true,
  deleteRetentionMs: 1000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
});

const T0 = 1_700_000_000_000;

function openLog(dir: string, overrides: Partial<LogConfig> = {}, cleanShutdown = true) {
  return PartitionLog.open({
    dir: join(dir, 'table-0'),
    topic: 'table',
    partition: 0,
    config: { ...config, ...overrides },
    cleanShutdown,
    now: () => T0,
  });
}

type Entry = [key: string | null, value: string | null];

function batchOf(entries: Entry[], options: Parameters<typeof buildRecordBatch>[1] = {}): Buffer {
  return buildRecordBatch(
    entries.map(([k, v]) => ({
      key: k === null ? null : Buffer.from(k),
      value: v === null ? null : Buffer.from(v),
      timestamp: BigInt(T0),
    })),
    options,
  );
}

async function put(log: PartitionLog, entries: Entry[], options: Parameters<typeof buildRecordBatch>[1] = {}) {
  return log.append(batchOf(entries, options), { sync: false, recordCount: entries.length });
}

interface Read {
  offset: number;
  key: string | null;
  value: string | null;
}

/** Every record from `from` to the end of the log, with the batches they came in. */
async function readAll(log: PartitionLog, from = 0) {
  const records: Read[] = [];
  const batches = [];
  for (let offset = from; offset < log.logEndOffset; ) {
    const got = await log.read(offset, 1 << 20, true);
    if (!got) break;
    for (const b of readBatches(got.records).batches) {
      assert.ok(b.verifyCrc(), 'every batch read back has a valid CRC');
      batches.push(b);
      for (const r of b.records()) {
        records.push({
          offset: Number(r.offset),
          key: r.key?.toString() ?? null,
          value: r.value?.toString() ?? null,
        });
      }
      offset = Number(b.lastOffset) + 1;
    }
  }
  return { records, batches };
}

test('the cleaner keeps the last record of each key, at its offset, in the inactive segments', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    await put(log, [
      ['a', 'a1'],
      ['b', 'b1'],
      ['c', 'c1'],
    ]); // 0-2
    await put(log, [
      ['a', 'a2'],
      [null, 'no key'],
    ]); // 3-4
    await log.roll();
    await put(log, [
      ['b', 'b2'],
      ['d', 'd1'],
    ]); // 5-6
    await put(log, [['a', 'a3']]); // 7
    await log.roll();
    await put(log, [['c', 'c-active']]); // 8, active: not cleaned

    const result = await cleanLog(log, T0);
    assert.ok(result);
    assert.equal(result.segmentsCleaned, 1, 'the second segment holds only last values: it is left as it is');
    assert.equal(result.recordsRemoved, 3);
    const expected: Read[] = [
      { offset: 2, key: 'c', value: 'c1' },
      { offset: 4, key: null, value: 'no key' },
      { offset: 5, key: 'b', value: 'b2' },
      { offset: 6, key: 'd', value: 'd1' },
      { offset: 7, key: 'a', value: 'a3' },
      { offset: 8, key: 'c', value: 'c-active' },
    ];
    assert.deepEqual((await readAll(log)).records, expected);
    assert.equal(log.logEndOffset, 9, 'offsets never change');
    // A read from any offset, removed or not, starts at the first record at or after it.
    for (let offset = 0; offset < 9; offset++) {
      const { records } = await readAll(log, offset);
      assert.deepEqual(
        records.filter((r) => r.offset >= offset),
        expected.filter((r) => r.offset >= offset),
        `read from ${offset}`,
      );
    }
    const batches = (await readAll(log)).batches;
    assert.deepEqual(
      batches.map((b) => [Number(b.baseOffset), Number(b.lastOffset)]),
      [
        [0, 2],
        [3, 4],
        [5, 6],
        [7, 7],
        [8, 8],
      ],
      'batches keep their base and last offsets',
    );
    assert.equal(await cleanLog(log, T0), null, 'nothing dirty: no second pass');

    // The cleaned segments are the log's files now: a restart (clean or not) reads the same records.
    await log.close();
    for (const clean of [true, false]) {
      const reopened = await openLog(dir, {}, clean);
      assert.deepEqual((await readAll(reopened)).records, expected);
      await reopened.close();
    }
    const names = await readdir(join(dir, 'table-0'));
    assert.deepEqual(
      names.filter((n) => /\.(cleaned|swap|deleted)$/.test(n)),
      [],
      'no leftovers of the swap once the log is closed',
    );
  }));

test('min.cleanable.dirty.ratio and min.compaction.lag.ms hold the cleaner back', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, { minCompactionLagMs: 60_000 });
    await put(log, [['a', 'a1']]);
    await put(log, [['a', 'a2']]);
    await log.roll();
    await put(log, [['b', 'b1']]);
    assert.equal(await cleanLog(log, T0 + 1000), null, 'records younger than min.compaction.lag.ms stay');
    const result = await cleanLog(log, T0 + 60_001);
    assert.equal(result?.recordsRemoved, 1);
    log.config = { ...log.config, minCleanableDirtyRatio: 0.9 };
    await put(log, [['a', 'a3']]);
    await log.roll();
    await put(log, [['c', 'c1']]);
    // One of the two inactive segments is dirty, and its share is below 0.9.
    assert.equal(await cleanLog(log, T0 + 60_001), null);
    await log.close();
  }));

test("the cleaner's progress survives a restart (cleaner-offset-checkpoint); an offset outside the log is forgotten", () =>
  withTempDir(async (dir) => {
    const start = async () => {
      const manager = new LogManager({ logDirs: [dir], configFor: () => config, now: () => T0 });
      await manager.startup();
      return manager;
    };
    const first = await start();
    const log = await first.createLog('table', 0, 'AAAAAAAAAAAAAAAAAAAAAA');
    await put(log, [['a', 'a1']]);
    await put(log, [['a', 'a2']]);
    await log.roll();
    await put(log, [['b', 'b1']]);
    assert.equal((await cleanLog(log, T0))?.recordsRemoved, 1);
    await first.checkpointCleanerOffsets();
    await first.shutdown();

    const second = await start();
    const restarted = second.getLog('table', 0)!;
    assert.equal(restarted.firstDirtyOffset, 2, 'clean up to the end of the cleaned segment');
    assert.equal(await cleanLog(restarted, T0), null, 'nothing dirty: the cleaned segment is not cleaned again');
    await second.shutdown();

    await writeOffsetCheckpoint(join(dir, CLEANER_OFFSET_CHECKPOINT_FILE), [
      { topic: 'table', partition: 0, offset: 999 },
    ]);
    const third = await start();
    assert.equal(third.getLog('table', 0)!.firstDirtyOffset, 0, 'past the end of the log: dirty from its start');
    await third.shutdown();
  }));

test('tombstones are kept for delete.retention.ms after their first cleaning, then removed', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, { deleteRetentionMs: 5000 });
    await put(log, [
      ['a', 'a1'],
      ['b', 'b1'],
    ]);
    await put(log, [['a', null]]);
    await log.roll();
    await put(log, [['c', 'c1']]);

    await cleanLog(log, T0);
    assert.deepEqual((await readAll(log)).records, [
      { offset: 1, key: 'b', value: 'b1' },
      { offset: 2, key: 'a', value: null },
      { offset: 3, key: 'c', value: 'c1' },
    ]);
    assert.equal(log.earliestDeleteHorizonMs, T0 + 5000);
    const tombstoneBatch = (await readAll(log)).batches[1]!;
    assert.ok(tombstoneBatch.hasDeleteHorizon);
    assert.equal([...tombstoneBatch.records()][0]!.timestamp, BigInt(T0), 'record timestamps stay exact');

    assert.equal(await cleanLog(log, T0 + 4999), null, 'before the horizon: nothing to do');
    const result = await cleanLog(log, T0 + 5000);
    assert.equal(result?.recordsRemoved, 1);
    assert.deepEqual((await readAll(log)).records, [
      { offset: 1, key: 'b', value: 'b1' },
      { offset: 3, key: 'c', value: 'c1' },
    ]);
    assert.equal(log.earliestDeleteHorizonMs, Number.POSITIVE_INFINITY);
    await log.close();
  }));

test('compressed batches are rewritten in their codec with their attributes', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    for (const compression of [CompressionType.Gzip, CompressionType.Lz4, CompressionType.Zstd]) {
      await put(
        log,
        [
          ['x', `x-${compression}`],
          ['y', `y-${compression}`],
          ['z', `z-${compression}`],
        ],
        { compression, timestampType: 'LogAppendTime' },
      );
    }
    await log.roll();
    await put(log, [['w', 'w']]);
    const result = await cleanLog(log, T0);
    assert.equal(result?.recordsRemoved, 6);
    const { batches, records } = await readAll(log);
    assert.deepEqual(
      batches.map((b) => [b.compression, b.timestampType, b.recordCount]),
      [
        [CompressionType.Gzip, 'LogAppendTime', 0],
        [CompressionType.Lz4, 'LogAppendTime', 0],
        [CompressionType.Zstd, 'LogAppendTime', 3],
        [CompressionType.None, 'CreateTime', 1],
      ].filter((b) => b[2] !== 0),
      'emptied batches without a producer go; the rest keep their codec',
    );
    assert.deepEqual(
      records.map((r) => r.value),
      [`x-${CompressionType.Zstd}`, `y-${CompressionType.Zstd}`, `z-${CompressionType.Zstd}`, 'w'],
    );
    await log.close();
  }));

test("an idempotent producer's last batch survives emptied: its retry is still detected, also after a restart", () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    const producer = { producerId: 7n, producerEpoch: 0 };
    await put(
      log,
      [
        ['a', 'a1'],
        ['b', 'b1'],
      ],
      { ...producer, baseSequence: 0 },
    ); // 0-1
    const last = await put(
      log,
      [
        ['a', 'a2'],
        ['b', 'b2'],
      ],
      { ...producer, baseSequence: 2 },
    ); // 2-3
    await log.roll();
    await put(log, [
      ['a', 'a3'],
      ['b', 'b3'],
    ]); // 4-5
    await log.roll();
    await put(log, [['c', 'c']]);
    await cleanLog(log, T0);
    const { batches, records } = await readAll(log);
    assert.deepEqual(
      records.map((r) => r.value),
      ['a3', 'b3', 'c'],
    );
    const kept = batches[0]!;
    assert.deepEqual(
      [Number(kept.baseOffset), Number(kept.lastOffset), kept.recordCount, kept.producerId, kept.baseSequence],
      [2, 3, 0, 7n, 2],
      "the producer's last batch is kept without records; its first batch is gone",
    );

    const retry = () =>
      log.append(
        batchOf(
          [
            ['a', 'a2'],
            ['b', 'b2'],
          ],
          { ...producer, baseSequence: 2 },
        ),
        { sync: true, recordCount: 2 },
      );
    const again = await retry();
    assert.deepEqual([again.duplicate, again.baseOffset, again.lastOffset], [true, last.baseOffset, last.lastOffset]);
    await log.close();

    // A restart without producer snapshots replays the log: the emptied batch restores the producer.
    for (const name of await readdir(join(dir, 'table-0'))) {
      if (name.endsWith('.snapshot')) await rm(join(dir, 'table-0', name));
    }
    const reopened = await openLog(dir, {}, false);
    const afterRestart = await reopened.append(
      batchOf(
        [
          ['a', 'a2'],
          ['b', 'b2'],
        ],
        { ...producer, baseSequence: 2 },
      ),
      { sync: true, recordCount: 2 },
    );
    assert.deepEqual([afterRestart.duplicate, afterRestart.baseOffset], [true, last.baseOffset]);
    await reopened.close();
  }));

test('records of aborted transactions are removed; markers stay', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    const txn = { producerId: 9n, producerEpoch: 0, isTransactional: true };
    await put(log, [['a', 'committed']], { ...txn, baseSequence: 0 }); // 0
    await log.appendMarker({ producerId: 9n, producerEpoch: 0, coordinatorEpoch: 0, aborted: false }, { sync: false }); // 1
    await put(log, [['a', 'aborted']], { ...txn, baseSequence: 1 }); // 2
    await put(log, [['b', 'aborted']], { ...txn, baseSequence: 2 }); // 3
    await log.appendMarker({ producerId: 9n, producerEpoch: 0, coordinatorEpoch: 0, aborted: true }, { sync: false }); // 4
    await log.roll();
    await put(log, [['c', 'c']]);
    const result = await cleanLog(log, T0);
    assert.equal(result?.recordsRemoved, 2);
    const { batches } = await readAll(log);
    const data = batches.filter((b) => !b.isControl).flatMap((b) => [...b.records()]);
    assert.deepEqual(
      data.map((r) => [Number(r.offset), r.value?.toString()]),
      [
        [0, 'committed'],
        [5, 'c'],
      ],
      'the aborted records are gone: the committed value of `a` stays',
    );
    assert.equal(batches.filter((b) => b.isControl).length, 2, 'both markers are kept');
    await log.close();
  }));

test('a crash mid-swap: a .cleaned file is discarded, a .swap file completes the swap', () =>
  withTempDir(async (dir) => {
    const fill = async (log: PartitionLog) => {
      await put(log, [
        ['a', 'a1'],
        ['b', 'b1'],
      ]);
      await put(log, [['a', 'a2']]);
      await log.roll();
      await put(log, [['c', 'c1']]);
    };
    // The same log twice: one cleaned, whose cleaned segment becomes the other's leftover swap file.
    const crashed = await openLog(dir);
    await fill(crashed);
    await crashed.close();
    const reference = await PartitionLog.open({
      dir: join(dir, 'reference-0'),
      topic: 'reference',
      partition: 0,
      config,
      cleanShutdown: true,
    });
    await fill(reference);
    await cleanLog(reference, T0);
    const cleanedRecords = (await readAll(reference)).records;
    await reference.close();

    const partitionDir = join(dir, 'table-0');
    const firstLog = '00000000000000000000.log';
    await writeFile(join(partitionDir, `${firstLog}.cleaned`), 'half written');
    let log = await openLog(dir);
    assert.deepEqual(
      (await readAll(log)).records.map((r) => r.value),
      ['a1', 'b1', 'a2', 'c1'],
      'an unfinished .cleaned file is dropped: the old segment stays',
    );
    await log.close();

    // The crash came after the old log was renamed .deleted, before the .swap file took its name.
    await copyFile(join(dir, 'reference-0', firstLog), join(partitionDir, `${firstLog}.swap`));
    await rename(join(partitionDir, firstLog), join(partitionDir, `${firstLog}.deleted`));
    log = await openLog(dir);
    assert.deepEqual((await readAll(log)).records, cleanedRecords);
    assert.deepEqual(
      (await readdir(partitionDir)).filter((n) => /\.(cleaned|swap|deleted)$/.test(n)),
      [],
    );
    for (let offset = 0; offset < log.logEndOffset; offset++) assert.ok(await log.read(offset, 1 << 20, true));
    await log.close();
  }));

test('cleaning while appends roll new segments and reads go on', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, { segmentBytes: 2000 });
    const keys = 20;
    for (let i = 0; i < 200; i++) await put(log, [[`k${i % keys}`, `v${i}`]]);
    const appends = (async () => {
      for (let i = 200; i < 400; i++) await put(log, [[`k${i % keys}`, `v${i}`]]);
    })();
    const reads = (async () => {
      for (let i = 0; i < 50; i++) await readAll(log);
    })();
    const [result] = await Promise.all([cleanLog(log, T0), appends, reads]);
    assert.ok(result && result.recordsRemoved > 0);
    await cleanLog(log, T0);
    const { records } = await readAll(log);
    const latest = new Map<string, string>();
    for (const r of records) latest.set(r.key!, r.value!);
    for (let k = 0; k < keys; k++) {
      assert.equal(latest.get(`k${k}`), `v${380 + k}`, 'the last value of each key is there');
    }
    for (let i = 1; i < records.length; i++) assert.ok(records[i]!.offset > records[i - 1]!.offset);
    assert.equal(log.logEndOffset, 400);
    await log.close();
  }));
