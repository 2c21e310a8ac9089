import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdir, readdir, readFile, readlink, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogManager } from '../../src/storage/log-manager.js';
import { OffsetIndex } from '../../src/storage/offset-index.js';
import {
  type LogConfig,
  OffsetOutOfRangeError,
  PartitionLog,
  WRITEBACK_BYTES,
} from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withTempDir } from './helpers.js';

const config = testLogConfig();

async function openLog(dir: string, overrides: Partial<LogConfig> = {}, cleanShutdown = true, now?: () => number) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: { ...config, ...overrides },
    cleanShutdown,
    ...(now ? { now } : {}),
  });
}

test('appends get consecutive offsets and read back byte for byte', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    const a = makeBatch(3, 1000);
    const b = makeBatch(2, 2000);
    const ra = await log.append(Buffer.from(a), { sync: false, recordCount: 3 });
    const rb = await log.append(Buffer.from(b), { sync: true, recordCount: 2 });
    assert.deepEqual([ra.baseOffset, ra.lastOffset, rb.baseOffset, rb.lastOffset], [0, 2, 3, 4]);
    assert.equal(log.logEndOffset, 5);
    assert.equal(log.highWatermark, 5);

    const all = await log.read(0, 1 << 20, true);
    assert.ok(all);
    assert.deepEqual(batchOffsets(all.records), [0, 3]);
    // Only the base offset and the partition leader epoch were patched: the rest is the producer's bytes.
    assert.deepEqual(all.records.subarray(8, 12), a.subarray(8, 12));
    assert.equal(all.records.readInt32BE(12), 0, 'stamped with the leader epoch');
    assert.deepEqual(all.records.subarray(16, a.length), a.subarray(16));

    const fromMiddle = await log.read(4, 1 << 20, true);
    assert.deepEqual(batchOffsets(fromMiddle!.records), [3], 'the batch holding the offset comes back whole');
    assert.equal(await log.read(5, 1 << 20, true), null, 'at the end: nothing yet');
    await assert.rejects(log.read(6, 100, true), OffsetOutOfRangeError);
    await log.close();
  }));

test('concurrent appends are group-committed in arrival order', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        log.append(makeBatch(i + 1, 1000 + i), { sync: i % 2 === 0, recordCount: i + 1 }),
      ),
    );
    let expected = 0;
    for (let i = 0; i < results.length; i++) {
      assert.equal(results[i]!.baseOffset, expected);
      expected += i + 1;
    }
    assert.equal(log.logEndOffset, expected);
    await log.close();
  }));

test('max bytes returns whole batches, and at least one when asked', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    const size = makeBatch(10, 1, 100).length;
    for (let i = 0; i < 5; i++) await log.append(makeBatch(10, i, 100), { sync: false, recordCount: 10 });
    const two = await log.read(0, size * 2 + Math.floor(size / 2), false);
    assert.deepEqual(batchOffsets(two!.records), [0, 10]);
    assert.equal(await log.read(0, 10, false), null, 'a limit below one batch and no minimum: nothing');
    const one = await log.read(0, 10, true);
    assert.deepEqual(batchOffsets(one!.records), [0]);
    await log.close();
  }));

test('segments roll by size, reads cross segments, and the index finds offsets', () =>
  withTempDir(async (dir) => {
    const batchBytes = makeBatch(5, 1, 200).length;
    const log = await openLog(dir, { segmentBytes: batchBytes * 4, indexIntervalBytes: batchBytes });
    for (let i = 0; i < 20; i++) await log.append(makeBatch(5, 1000 + i, 200), { sync: false, recordCount: 5 });
    assert.equal(log.segmentCount, 5);
    const files = (await readdir(join(dir, 'events-0'))).filter((f) => f.endsWith('.log')).sort();
    assert.deepEqual(files.slice(0, 2), ['00000000000000000000.log', '00000000000000000020.log']);
    for (const offset of [0, 7, 19, 20, 57, 99]) {
      const r = await log.read(offset, 1, true);
      const [base] = batchOffsets(r!.records);
      assert.equal(base, offset - (offset % 5), `offset ${offset}`);
    }
    await log.close();
    const index = OffsetIndex.fromBuffer(20, await readFile(join(dir, 'events-0', '00000000000000000020.index')));
    assert.ok(index.entries >= 1, 'the offset index on disk has entries');
  }));

test('after a clean shutdown, a corrupt index file is rebuilt from the log instead of trusted', () =>
  withTempDir(async (dir) => {
    const batchBytes = makeBatch(5, 1, 200).length;
    const log = await openLog(dir, { indexIntervalBytes: batchBytes });
    for (let i = 0; i < 8; i++) await log.append(makeBatch(5, 1000 + i, 200), { sync: false, recordCount: 5 });
    await log.close();
    // Entries out of order: the second entry points before the first.
    const indexFile = join(dir, 'events-0', '00000000000000000000.index');
    const original = await readFile(indexFile);
    assert.ok(original.length >= 16, 'the log has index entries to lose');
    const bad = Buffer.alloc(16);
    bad.writeInt32BE(10, 0);
    bad.writeInt32BE(5000, 4);
    bad.writeInt32BE(5, 8);
    bad.writeInt32BE(100, 12);
    await writeFile(indexFile, bad);
    const reopened = await openLog(dir, { indexIntervalBytes: batchBytes });
    assert.equal(reopened.logEndOffset, 40);
    for (const offset of [0, 12, 27, 39]) {
      const r = await reopened.read(offset, 1, true);
      assert.equal(batchOffsets(r!.records)[0], offset - (offset % 5), `offset ${offset}`);
    }
    await reopened.close();
    assert.deepEqual(await readFile(indexFile), original, 'the index on disk was written again from the log');
  }));

test('the active segment appends its index entries to the files in batches, all at a close; after a stop without the close its indexes are rebuilt from the log', () =>
  withTempDir(async (dir) => {
    const batchBytes = makeBatch(5, 1, 200).length;
    const log = await openLog(dir, { indexIntervalBytes: batchBytes });
    for (let i = 0; i < 20; i++) await log.append(makeBatch(5, 1000 + i, 200), { sync: true, recordCount: 5 });
    const indexFile = (d: string) => join(d, 'events-0', '00000000000000000000.index');
    // The files as a crash would leave them now: the log written and synced, the index entries still in memory.
    const crashed = join(dir, 'crashed');
    await mkdir(join(crashed, 'events-0'), { recursive: true });
    for (const name of await readdir(join(dir, 'events-0')))
      await copyFile(join(dir, 'events-0', name), join(crashed, 'events-0', name));
    const before = (await readFile(indexFile(dir))).length;
    await log.close();
    const closed = await readFile(indexFile(dir));
    assert.ok(closed.length >= 8 * 8, `the log has index entries (${closed.length} bytes)`);
    assert.equal(before, 0, 'the index file waits for a batch of entries; the close writes them');

    const recovered = await openLog(crashed, { indexIntervalBytes: batchBytes }, false);
    assert.equal(recovered.logEndOffset, 100);
    for (const offset of [0, 33, 99]) {
      const r = await recovered.read(offset, 1, true);
      assert.equal(batchOffsets(r!.records)[0], offset - (offset % 5), `offset ${offset}`);
    }
    await recovered.close();
    assert.deepEqual(await readFile(indexFile(crashed)), closed, 'the index rebuilt from the log');
  }));

test('a clean restart keeps every offset; nothing is rescanned', () =>
  withTempDir(async (dir) => {
    const manager = new LogManager({ logDirs: [dir], configFor: () => config });
    await manager.startup();
    const log = await manager.createLog('events', 0, 'AAAAAAAAAAAAAAAAAAAAAA');
    for (let i = 0; i < 10; i++) await log.append(makeBatch(3, 5000 + i), { sync: false, recordCount: 3 });
    await manager.shutdown();
    // Flip a byte inside the first batch: only a rescan (CRC check) would notice it.
    const file = join(dir, 'events-0', '00000000000000000000.log');
    const bytes = await readFile(file);
    bytes[70] = bytes[70]! ^ 0xff;
    await writeFile(file, bytes);

    const again = new LogManager({ logDirs: [dir], configFor: () => config });
    await again.startup();
    assert.equal(again.hadCleanShutdown.get(dir), true);
    const reopened = again.getLog('events', 0)!;
    assert.equal(reopened.logEndOffset, 30, 'not rescanned: the corrupt batch went unnoticed');
    assert.equal(await again.topicIdOf('events', 0), 'AAAAAAAAAAAAAAAAAAAAAA');
    const r = await reopened.append(makeBatch(1, 9999), { sync: true, recordCount: 1 });
    assert.equal(r.baseOffset, 30);
    await again.shutdown();
  }));

test('after an unclean stop a torn tail is truncated to the last valid batch', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    for (let i = 0; i < 4; i++) await log.append(makeBatch(2, 100 + i), { sync: true, recordCount: 2 });
    await log.close();
    const file = join(dir, 'events-0', '00000000000000000000.log');
    const good = (await stat(file)).size;

    // Half a batch written when the power went.
    await appendFile(file, makeBatch(2, 200).subarray(0, 30));
    let reopened = await openLog(dir, {}, false);
    assert.equal(reopened.logEndOffset, 8);
    assert.equal((await stat(file)).size, good);
    await reopened.close();

    // Garbage with a plausible length, and a flipped byte in the last batch (CRC mismatch).
    const bad = makeBatch(2, 300);
    bad[70] = bad[70]! ^ 0xff;
    await appendFile(file, bad);
    reopened = await openLog(dir, {}, false);
    assert.equal(reopened.logEndOffset, 8, 'the corrupt batch is dropped');
    const r = await reopened.append(makeBatch(1, 400), { sync: true, recordCount: 1 });
    assert.equal(r.baseOffset, 8);
    await reopened.close();

    // Truncated in the middle of the second batch: only the first survives.
    const batchBytes = makeBatch(2, 1).length;
    await truncate(file, batchBytes + 20);
    reopened = await openLog(dir, {}, false);
    assert.equal(reopened.logEndOffset, 2);
    await reopened.close();
  }));

test('retention by size and by time deletes old segments and moves the log start offset', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const batchBytes = makeBatch(1, 0, 100).length;
    const log = await openLog(dir, { segmentBytes: batchBytes * 2 }, true, () => now);
    for (let i = 0; i < 10; i++) await log.append(makeBatch(1, now - 1000 + i, 100), { sync: false, recordCount: 1 });
    assert.equal(log.segmentCount, 5);

    log.config = { ...log.config, retentionBytes: batchBytes * 5 };
    assert.equal(await log.deleteOldSegments(), 2);
    assert.equal(log.logStartOffset, 4);
    await assert.rejects(log.read(0, 100, true), OffsetOutOfRangeError);

    log.config = { ...log.config, retentionBytes: -1, retentionMs: 60_000 };
    now += 120_000;
    assert.equal(await log.deleteOldSegments(), 2, 'all but the active segment expired');
    assert.equal(log.logStartOffset, 8);
    const r = await log.read(8, 1 << 20, true);
    assert.deepEqual(batchOffsets(r!.records), [8, 9]);
    await log.close();
  }));

test('reads never return batches at or past the high watermark, even while an append waits for its fsync', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir);
    let appending = true;
    const writes = (async () => {
      for (let i = 0; i < 200; i++) await log.append(makeBatch(2, 1000 + i), { sync: true, recordCount: 2 });
      appending = false;
    })();
    let reads = 0;
    while (appending) {
      const result = await log.read(0, 1 << 20, true);
      if (result) {
        for (const offset of batchOffsets(result.records)) assert.ok(offset < result.highWatermark, `${offset}`);
        reads++;
      }
      await new Promise((r) => setImmediate(r));
    }
    await writes;
    assert.ok(reads > 0);
    await log.close();
  }));

test('unsynced appends start a write-back of the active segment every WRITEBACK_BYTES without waiting for it; a synced round starts the count again', () =>
  withTempDir(async (dir) => {
    // Small enough that rolls happen with write-backs in flight, and the close comes right after one starts.
    const log = await openLog(dir, { segmentBytes: 3 * WRITEBACK_BYTES });
    const batch = makeBatch(64, 1000, 1024);
    const perWriteBack = Math.ceil(WRITEBACK_BYTES / batch.length);
    const appendUnsynced = async (n: number) => {
      for (let i = 0; i < n; i++) await log.append(Buffer.from(batch), { sync: false, recordCount: 64 });
    };
    await appendUnsynced(perWriteBack - 1);
    assert.equal(log.writeBacks, 0, 'not yet WRITEBACK_BYTES');
    await appendUnsynced(1);
    assert.equal(log.writeBacks, 1);
    // A synced round wrote everything back: the count starts again from it.
    await appendUnsynced(perWriteBack - 2);
    await log.append(Buffer.from(batch), { sync: true, recordCount: 64 });
    await appendUnsynced(perWriteBack - 1);
    assert.equal(log.writeBacks, 1, 'the synced round reset the count');
    await appendUnsynced(1 + 2 * perWriteBack);
    assert.ok(log.writeBacks >= 2, `${log.writeBacks} write-backs`);
    assert.ok(!log.isOffline);
    const end = log.logEndOffset;
    await log.close();

    const reopened = await openLog(dir, { segmentBytes: 3 * WRITEBACK_BYTES });
    assert.equal(reopened.logEndOffset, end);
    let offsets = 0;
    for (let at = 0; at < end; ) {
      const read = await reopened.read(at, 1 << 20, true);
      const bases = batchOffsets(read!.records);
      offsets += bases.length;
      at = bases.at(-1)! + 64;
    }
    assert.equal(offsets * 64, end, 'every batch reads back');
    await reopened.close();
  }));

/** This process's open files under `dir`: path -> whether any handle on it was opened with O_DSYNC. */
async function openFilesUnder(dir: string): Promise<Map<string, boolean>> {
  const O_DSYNC = 0o10000;
  const found = new Map<string, boolean>();
  for (const fd of await readdir('/proc/self/fd')) {
    let path: string;
    let flags: number;
    try {
      path = await readlink(`/proc/self/fd/${fd}`);
      flags = Number.parseInt(/flags:\s+(\d+)/.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    } catch {
      continue; // closed meanwhile (the readdir's own handle, a pool thread's file)
    }
    if (path.startsWith(dir)) found.set(path, (found.get(path) ?? false) || (flags & O_DSYNC) !== 0);
  }
  return found;
}

test(
  'a synced round after rounds all on disk is written through an O_DSYNC handle on the active segment, closed when it rolls and at the close; mixed rounds and rolls keep every record',
  {
    skip: process.platform !== 'linux' && 'reads /proc/self/fdinfo',
  },
  () =>
    withTempDir(async (dir) => {
      const log = await openLog(dir, { segmentBytes: 64 * 1024 });
      const partitionDir = join(dir, 'events-0');
      const durableFiles = async () =>
        [...(await openFilesUnder(partitionDir))].filter(([, dsync]) => dsync).map(([path]) => path);
      const append = (sync: boolean) => log.append(makeBatch(4, 1000, 1000), { sync, recordCount: 4 });

      // At open the log does not know what is on disk: the first synced round writes and then syncs.
      await append(true);
      assert.deepEqual(await durableFiles(), []);
      await append(true);
      assert.deepEqual(await durableFiles(), [join(partitionDir, '00000000000000000000.log')]);
      assert.equal(log.recoveryPoint, log.logEndOffset);
      // After an unsynced round, the next synced one syncs the whole file again.
      await append(false);
      await append(true);
      assert.equal(log.recoveryPoint, log.logEndOffset);
      // Rolls: the old segment's handle closes, the new one's opens on its first durable round.
      while (log.segmentCount < 3) await append(true);
      await append(true);
      const durable = await durableFiles();
      assert.equal(durable.length, 1, durable.join(', '));
      assert.ok(!durable[0]!.endsWith('00000000000000000000.log'), durable[0]);
      const end = log.logEndOffset;
      await log.close();
      assert.deepEqual([...(await openFilesUnder(partitionDir)).keys()], [], 'nothing left open');

      const reopened = await openLog(dir, { segmentBytes: 64 * 1024 });
      assert.equal(reopened.logEndOffset, end);
      let records = 0;
      for (let at = 0; at < end; ) {
        const bases = batchOffsets((await reopened.read(at, 1 << 20, true))!.records);
        records += bases.length * 4;
        at = bases.at(-1)! + 4;
      }
      assert.equal(records, end, 'every record reads back');
      await reopened.close();
    }),
);
