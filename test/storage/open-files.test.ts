import assert from 'node:assert/strict';
import { mkdir, open, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogSegment, segmentFileName } from '../../src/storage/log-segment.js';
import { inactiveSegmentLogs, OpenFileLru, SegmentLogFile } from '../../src/storage/open-files.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withTempDir } from './helpers.js';

/** The files under `dir` this process holds open, by name (from /proc/self/fd). */
async function openFilesUnder(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      const target = await readlink(join('/proc/self/fd', fd));
      if (target.startsWith(`${dir}/`)) names.push(target.slice(dir.length + 1));
    } catch {
      // The descriptor of the directory listing itself is gone by now.
    }
  }
  return names.sort();
}

async function openLog(dir: string, overrides: Partial<LogConfig> = {}) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: testLogConfig(overrides),
    cleanShutdown: true,
  });
}

/** A log of `segments` segments of 4 one-record batches each (base offsets 0, 4, 8, ...). */
async function logWithSegments(dir: string, segments: number) {
  const batch = makeBatch(1, 1000, 100);
  const log = await openLog(dir, { segmentBytes: batch.length * 4 });
  for (let i = 0; i < segments * 4; i++) await log.append(makeBatch(1, 1000 + i, 100), { sync: false, recordCount: 1 });
  assert.equal(log.segmentCount, segments);
  return log;
}

/** Runs `fn` with the broker-wide bound on open inactive segment logs set to `maxOpen`. */
async function withInactiveLogBound<T>(maxOpen: number, fn: () => Promise<T>): Promise<T> {
  const saved = inactiveSegmentLogs.maxOpen;
  inactiveSegmentLogs.maxOpen = maxOpen;
  try {
    return await fn();
  } finally {
    inactiveSegmentLogs.maxOpen = saved;
  }
}

test('inactive segments keep no index file open, and at most the bound of .log files', () =>
  withTempDir((dir) =>
    withInactiveLogBound(3, async () => {
      const log = await logWithSegments(dir, 12);
      const open = await openFilesUnder(dir);
      const active = segmentFileName(44, '.log').slice(0, 20);
      assert.deepEqual(
        open.filter((f) => !f.endsWith('.log')),
        [`events-0/${active}.index`, `events-0/${active}.timeindex`],
        'only the active segment holds its index files',
      );
      assert.ok(open.filter((f) => f.endsWith('.log')).length <= 1 + 3, `open: ${open.join(', ')}`);

      // Reading every old segment opens their files on demand and leaves at most the bound open.
      for (let offset = 0; offset < 48; offset += 4) {
        const read = await log.read(offset, 1 << 20, true);
        assert.equal(batchOffsets(read!.records)[0], offset);
      }
      assert.ok((await openFilesUnder(dir)).length <= 3 + 3);
      await log.close();
      assert.deepEqual(await openFilesUnder(dir), []);

      // The same after a restart: the segments loaded before the active one are closed to appends.
      const reopened = await openLog(dir, { segmentBytes: 4 * makeBatch(1, 1000, 100).length });
      assert.ok((await openFilesUnder(dir)).length <= 3 + 3);
      assert.equal(batchOffsets((await reopened.read(0, 1 << 20, true))!.records)[0], 0);
      await reopened.close();
      assert.deepEqual(await openFilesUnder(dir), []);
    }),
  ));

test('concurrent reads of old segments with a bound of one are all correct; none uses a closed file', () =>
  withTempDir((dir) =>
    withInactiveLogBound(1, async () => {
      const log = await logWithSegments(dir, 16);
      // Each read pins its segment's file; the others evict one another around it.
      const offsets = Array.from({ length: 64 }, (_, i) => (i * 7) % 64);
      const reads = await Promise.all(offsets.map((o) => log.read(o, 1 << 20, false)));
      for (let i = 0; i < offsets.length; i++) {
        const records = reads[i]!.records;
        const first = batchOffsets(records)[0]!;
        assert.equal(first, offsets[i], `read at ${offsets[i]}`);
        // The batch read is the one appended at that offset (its timestamp tells).
        assert.equal(Number(records.readBigInt64BE(35)), 1000 + offsets[i]!);
      }
      assert.ok((await openFilesUnder(dir)).filter((f) => f.endsWith('.log')).length <= 1 + 1);
      await log.close();
      assert.deepEqual(await openFilesUnder(dir), []);
    }),
  ));

test('retention waits for a read in flight before closing a segment, and leaves no file open', () =>
  withTempDir((dir) =>
    withInactiveLogBound(1, async () => {
      const log = await logWithSegments(dir, 6);
      const reading = Promise.all([0, 4, 8, 12].map((o) => log.read(o, 1 << 20, true)));
      log.advanceLogStartOffset(16);
      const deleting = log.deleteOldSegments();
      const [reads, deleted] = await Promise.all([reading, deleting]);
      assert.equal(deleted, 4);
      assert.deepEqual(
        reads.map((r) => batchOffsets(r!.records)[0]),
        [0, 4, 8, 12],
      );
      await log.close();
      assert.deepEqual(await openFilesUnder(dir), []);
    }),
  ));

test('a segment whose index cannot be opened fails to load without leaking its .log', () =>
  withTempDir(async (dir) => {
    const segmentDir = join(dir, 'events-0');
    await mkdir(segmentDir);
    await writeFile(join(segmentDir, segmentFileName(0, '.log')), makeBatch(1, 1000));
    // The .index path is a directory: opening it fails after the .log was opened.
    await mkdir(join(segmentDir, segmentFileName(0, '.index')));
    const before = (await readdir('/proc/self/fd')).length;
    await assert.rejects(LogSegment.load(segmentDir, 0, { indexIntervalBytes: 4096 }, false), /EISDIR/);
    await assert.rejects(LogSegment.load(segmentDir, 0, { indexIntervalBytes: 4096 }, true), /EISDIR/);
    assert.deepEqual(await openFilesUnder(dir), []);
    assert.equal((await readdir('/proc/self/fd')).length, before);
  }));

test('a segment whose time index cannot be created fails without leaking the two files opened before', () =>
  withTempDir(async (dir) => {
    await mkdir(join(dir, segmentFileName(0, '.timeindex')));
    const before = (await readdir('/proc/self/fd')).length;
    await assert.rejects(LogSegment.create(dir, 0, { indexIntervalBytes: 4096 }, Date.now()), /EISDIR/);
    assert.deepEqual(await openFilesUnder(dir), []);
    assert.equal((await readdir('/proc/self/fd')).length, before);
  }));

test('a log whose last segment cannot be loaded closes the segments it had loaded', () =>
  withTempDir(async (dir) => {
    const log = await logWithSegments(dir, 3);
    await log.close();
    // The active segment's time index becomes a directory: the two segments before it load, then it fails.
    const segmentDir = join(dir, 'events-0');
    const timeIndex = join(segmentDir, segmentFileName(8, '.timeindex'));
    await import('node:fs/promises').then((fs) => fs.rm(timeIndex));
    await mkdir(timeIndex);
    const before = (await readdir('/proc/self/fd')).length;
    await assert.rejects(openLog(dir, { segmentBytes: 4 * makeBatch(1, 1000, 100).length }), /EISDIR/);
    assert.deepEqual(await openFilesUnder(dir), []);
    assert.equal((await readdir('/proc/self/fd')).length, before);
  }));

test('a pinned segment file is neither evicted nor closed until its last read unpins it', () =>
  withTempDir(async (dir) => {
    const paths = [0, 1, 2].map((i) => join(dir, segmentFileName(i, '.log')));
    for (const p of paths) await writeFile(p, 'x');
    const lru = new OpenFileLru(1);
    const files = await Promise.all(paths.map(async (p) => new SegmentLogFile(p, await open(p, 'r'))));
    const [a, b, c] = files as [SegmentLogFile, SegmentLogFile, SegmentLogFile];
    await a.pin();
    for (const f of files) f.makeEvictable(lru);
    assert.ok(a.isOpen, 'pinned: kept past the bound');
    assert.ok(!b.isOpen && !c.isOpen, 'the unpinned files went, to keep the bound');
    a.unpin();
    assert.ok(a.isOpen, 'within the bound');
    // Opened again on demand, by concurrent reads sharing one open; the least recently used file goes.
    await Promise.all([b.pin(), b.pin()]);
    assert.ok(b.isOpen && !a.isOpen);
    assert.equal((await b.handle.readFile('utf8')).length, 1);
    const closing = b.close();
    assert.ok(b.isOpen, 'close waits for the reads in flight');
    b.unpin();
    assert.ok(b.isOpen);
    b.unpin();
    await closing;
    assert.ok(!b.isOpen);
    await assert.rejects(Promise.resolve(b.pin()), /closed/);
    await Promise.all([a.close(), c.close()]);
    assert.deepEqual(await openFilesUnder(dir), []);
  }));
