import assert from 'node:assert/strict';
import { mkdir, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { LogCleaner, UncleanablePartitionError } from '../../src/storage/log-cleaner.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { StorageLogFields, StorageLogger } from '../../src/storage/log-recovery.js';
import { CorruptBatchError } from '../../src/storage/log-segment.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withTempDir } from './helpers.js';

interface Line {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: StorageLogFields;
}

function capture(): StorageLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const add =
    (level: Line['level']) =>
    (message: string, fields: StorageLogFields = {}) =>
      lines.push({ level, message, fields });
  return { lines, info: add('info'), warn: add('warn'), error: add('error') };
}

const BATCH_RECORDS = 5;
const BATCH_BYTES = makeBatch(BATCH_RECORDS, 0, 200).length;
/** Four batches (20 offsets) per segment. */
const SEGMENT_BYTES = BATCH_BYTES * 4;

function openLog(dir: string, options: { config?: Partial<LogConfig>; clean: boolean; logger?: StorageLogger }) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: testLogConfig({ segmentBytes: SEGMENT_BYTES, indexIntervalBytes: BATCH_BYTES, ...options.config }),
    cleanShutdown: options.clean,
    // Every segment below the active one is below the recovery point: only the active one is recovered after a
    // crash, as when the damage happened long after those segments were flushed.
    recoveryPoint: Number.MAX_SAFE_INTEGER,
    logger: options.logger,
  });
}

/** A log of `batches` batches of 5 records (segments at 0, 20, 40, ...), closed cleanly. */
async function writeLog(dir: string, batches: number, config: Partial<LogConfig> = {}): Promise<void> {
  const log = await openLog(dir, { clean: true, config });
  for (let i = 0; i < batches; i++) {
    await log.append(makeBatch(BATCH_RECORDS, 1000 + i, 200), { sync: false, recordCount: BATCH_RECORDS });
  }
  await log.close();
}

function segmentPath(dir: string, base: number): string {
  return join(dir, 'events-0', `${String(base).padStart(20, '0')}.log`);
}

async function overwrite(path: string, position: number, bytes: Buffer): Promise<void> {
  const file = await open(path, 'r+');
  await file.write(bytes, 0, bytes.length, position);
  await file.close();
}

async function append(path: string, bytes: Buffer): Promise<void> {
  const file = await open(path, 'a');
  await file.write(bytes);
  await file.close();
}

/** Every offset readable from the log start, batch by batch, until the end or a read that fails. */
async function readOffsets(log: PartitionLog): Promise<{ offsets: number[]; error: unknown }> {
  const offsets: number[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
    let read: Awaited<ReturnType<PartitionLog['read']>>;
    try {
      read = await log.read(offset, 1 << 20, true);
    } catch (error) {
      return { offsets, error };
    }
    if (!read) break;
    for (const base of batchOffsets(read.records)) {
      for (let o = base; o < base + BATCH_RECORDS; o++) offsets.push(o);
      offset = base + BATCH_RECORDS;
    }
  }
  return { offsets, error: null };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function asideDirs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('-truncated'));
}

for (const clean of [true, false]) {
  const stop = clean ? 'a clean stop' : 'a crash';
  test(`after ${stop}, garbage after the whole batches of an old segment is cut and the later segments stay`, () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 12);
      await append(segmentPath(dir, 0), Buffer.alloc(64, 0xab));
      const logger = capture();
      const log = await openLog(dir, { clean, logger });
      assert.equal(log.logEndOffset, 60);
      assert.deepEqual(await readOffsets(log), { offsets: range(0, 60), error: null });
      assert.equal((await stat(segmentPath(dir, 0))).size, SEGMENT_BYTES, 'the garbage is cut');
      assert.deepEqual(await asideDirs(dir), [], 'nothing moved aside: no offset is missing');
      const warn = logger.lines.find((l) => l.message.startsWith('log truncated by recovery'));
      assert.equal(warn?.level, 'warn');
      assert.equal(warn?.fields.offset, 20);
      assert.equal(warn?.fields.nextSegment, 20);
      assert.equal(warn?.fields.bytesDropped, 64);
      assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
      await log.close();
    }));

  test(`after ${stop}, an old segment cut in a batch: the later segments are moved aside, not served past a hole`, () =>
    withTempDir(async (dir) => {
      await writeLog(dir, 12);
      await truncate(segmentPath(dir, 0), BATCH_BYTES * 2 + 30);
      const logger = capture();
      const log = await openLog(dir, { clean, logger });
      assert.equal(log.logEndOffset, 10);
      assert.deepEqual(await readOffsets(log), { offsets: range(0, 10), error: null });
      const aside = await asideDirs(dir);
      assert.equal(aside.length, 1);
      assert.deepEqual((await readdir(join(dir, aside[0]!))).filter((n) => n.endsWith('.log')).sort(), [
        '00000000000000000020.log',
        '00000000000000000040.log',
      ]);
      const error = logger.lines.find((l) => l.message.startsWith('log truncated by recovery'));
      assert.equal(error?.level, 'error');
      assert.equal(error?.fields.missingFrom, 10);
      assert.equal(error?.fields.missingTo, 19);
      assert.equal(error?.fields.movedTo, join(dir, aside[0]!));
      // New appends go on right after the cut.
      assert.equal((await log.append(makeBatch(1, 5000), { sync: true, recordCount: 1 })).baseOffset, 10);
      await log.close();
    }));
}

test('after a clean stop, an old segment cut exactly between two batches is noticed by its end offset', () =>
  withTempDir(async (dir) => {
    // No index entries: the cut leaves no entry pointing past the end, only the offsets show it.
    const config = { indexIntervalBytes: 1 << 20 };
    await writeLog(dir, 12, config);
    await truncate(segmentPath(dir, 0), BATCH_BYTES * 3);
    const logger = capture();
    const log = await openLog(dir, { clean: true, logger, config });
    assert.equal(log.logEndOffset, 15);
    assert.deepEqual(await readOffsets(log), { offsets: range(0, 15), error: null });
    assert.equal((await asideDirs(dir)).length, 1);
    const error = logger.lines.find((l) => l.message.startsWith('log truncated by recovery'));
    assert.equal(error?.level, 'error');
    assert.equal(error?.fields.reason, 'offsets missing before the next segment');
    assert.equal(error?.fields.cause, 'last batch does not end where the next segment starts');
    await log.close();
  }));

test('a compacted log keeps offset gaps between segments: its cleaner removes whole batches', () =>
  withTempDir(async (dir) => {
    const config = { indexIntervalBytes: 1 << 20, compact: true };
    await writeLog(dir, 12, config);
    await truncate(segmentPath(dir, 0), BATCH_BYTES * 3);
    const logger = capture();
    const log = await openLog(dir, { clean: true, logger, config });
    assert.equal(log.logEndOffset, 60);
    assert.deepEqual(await asideDirs(dir), []);
    assert.deepEqual(logger.lines, []);
    await log.close();
  }));

test('a damaged batch header below the recovery point: reads serve the batches before it, then fail typed', () =>
  withTempDir(async (dir) => {
    await writeLog(dir, 12);
    // The second batch of segment 20 (offsets 25-29) gets a bad magic byte; its size stays right, so the cheap
    // check at start-up (from the last index entry, at the third batch, on) does not see it.
    await overwrite(segmentPath(dir, 20), BATCH_BYTES + 16, Buffer.from([0x63]));
    const logger = capture();
    const log = await openLog(dir, { clean: true, logger });
    assert.equal(log.logEndOffset, 60, 'not noticed at start-up');

    const { offsets, error } = await readOffsets(log);
    assert.deepEqual(offsets, range(0, 25), 'every batch before the damaged one is served');
    assert.ok(error instanceof CorruptBatchError);
    assert.equal(error.reason, 'bad magic');
    assert.equal(error.position, BATCH_BYTES);
    assert.equal(error.offset, 25);
    // A read that would begin inside the damaged batch or right before it in the same read fails the same way:
    // never served past the damage, never the next segment instead (a hole).
    await assert.rejects(log.read(27, 1 << 20, true), CorruptBatchError);
    const before = await log.read(20, 1 << 20, true);
    assert.deepEqual(batchOffsets(before!.records), [20], 'a read from before the damage stops before it');
    // Later offsets past the damage remain readable when asked for by offset.
    assert.deepEqual(batchOffsets((await log.read(40, BATCH_BYTES, true))!.records), [40]);

    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, 'one ERROR line per damaged batch, however often it is read');
    assert.equal(errors[0]!.fields.file, segmentPath(dir, 20));
    assert.equal(errors[0]!.fields.position, BATCH_BYTES);
    assert.equal(errors[0]!.fields.reason, 'bad magic');
    await log.close();
  }));

test('after a crash with no producer snapshot, a damaged batch below the recovery point does not stop the log opening', () =>
  withTempDir(async (dir) => {
    await writeLog(dir, 12);
    await overwrite(segmentPath(dir, 20), BATCH_BYTES + 16, Buffer.from([0x63]));
    for (const name of await readdir(join(dir, 'events-0'))) {
      if (name.endsWith('.snapshot')) await rm(join(dir, 'events-0', name));
    }
    const logger = capture();
    // The producer state is rebuilt by reading the whole log, which meets the damaged batch.
    const log = await openLog(dir, { clean: false, logger });
    assert.equal(log.logEndOffset, 60);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.deepEqual(
      errors.map((l) => [l.fields.position, l.fields.reason]),
      [[BATCH_BYTES, 'bad magic']],
    );
    await log.close();
  }));

test('a damaged batch size in an old segment fails the read instead of skipping to the next segment', () =>
  withTempDir(async (dir) => {
    await writeLog(dir, 12);
    const size = Buffer.alloc(4);
    size.writeInt32BE(0x7fff0000);
    await overwrite(segmentPath(dir, 0), BATCH_BYTES + 8, size);
    const log = await openLog(dir, { clean: true });
    const { offsets, error } = await readOffsets(log);
    assert.deepEqual(offsets, range(0, 5));
    assert.ok(error instanceof CorruptBatchError);
    assert.equal(error.reason, 'bad batch size');
    await log.close();
  }));

test('the cleaner marks a compacted log with a corrupt batch uncleanable: told once, skipped afterwards', () =>
  withTempDir(async (dir) => {
    const T0 = 1_700_000_000_000;
    const config = testLogConfig({
      segmentBytes: 300,
      indexIntervalBytes: 100,
      compact: true,
      minCleanableDirtyRatio: 0.01,
      minCompactionLagMs: 0,
    });
    const log = await PartitionLog.open({
      dir: join(dir, 'table-0'),
      topic: 'table',
      partition: 0,
      config,
      cleanShutdown: true,
      now: () => T0,
    });
    for (let i = 0; i < 12; i++) {
      const batch = buildRecordBatch([
        { key: Buffer.from(`k${i % 3}`), value: Buffer.from(`value-${i}`.padEnd(60, '.')), timestamp: BigInt(T0) },
      ]);
      await log.append(batch, { sync: false, recordCount: 1 });
    }
    await log.drain();
    assert.ok(log.segmentCount > 2);
    // A flipped byte in a record of the first segment: header fine, CRC wrong.
    const first = join(dir, 'table-0', '00000000000000000000.log');
    await overwrite(first, 70, Buffer.from([0xff]));
    const errors: unknown[] = [];
    const cleaner = new LogCleaner(() => [log], { now: () => T0, onError: (_, e) => errors.push(e) });
    assert.equal(await cleaner.cleanAll(), 0);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof UncleanablePartitionError);
    assert.equal(errors[0].offset, 0);
    assert.ok(cleaner.isUncleanable(log));
    assert.equal(await cleaner.cleanAll(), 0);
    assert.equal(errors.length, 1, 'not told again, not retried');
    // Nothing was rewritten: the segment files are as they were.
    assert.deepEqual(
      (await readdir(join(dir, 'table-0'))).filter((n) => n.includes('.cleaned')),
      [],
    );
    await log.close();
  }));

test('the log manager leaves directories of segments moved aside alone, and says they are there', () =>
  withTempDir(async (dir) => {
    const config = testLogConfig({ segmentBytes: SEGMENT_BYTES, indexIntervalBytes: BATCH_BYTES });
    const aside = join(dir, 'events-0.0123456789abcdef0123456789abcdef-truncated');
    await mkdir(aside);
    const logger = capture();
    const manager = new LogManager({ logDirs: [dir], configFor: () => config, logger });
    await manager.startup();
    assert.deepEqual([...manager.allLogs()], []);
    const warn = logger.lines.find((l) => l.fields.path === aside);
    assert.equal(warn?.level, 'warn');
    await manager.shutdown();
    assert.ok((await stat(aside)).isDirectory(), 'kept');
  }));
