import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32c } from '../../src/protocol/records/crc32c.js';
import {
  formatLeaderEpochCheckpoint,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LeaderEpochCache,
  parseLeaderEpochCheckpoint,
} from '../../src/storage/leader-epoch-cache.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { makeBatch, testLogConfig, withTempDir } from './helpers.js';

async function openLog(dir: string, overrides: Partial<LogConfig> = {}, cleanShutdown = true) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: testLogConfig(overrides),
    cleanShutdown,
  });
}

function checkpointPath(dir: string): string {
  return join(dir, 'events-0', LEADER_EPOCH_CHECKPOINT_FILE);
}

/** The partition leader epoch of each batch in a buffer of whole batches, and whether each CRC still holds. */
function batchEpochs(records: Buffer): Array<{ epoch: number; crcValid: boolean }> {
  const out: Array<{ epoch: number; crcValid: boolean }> = [];
  for (let at = 0; at < records.length; ) {
    const size = 12 + records.readInt32BE(at + 8);
    const batch = records.subarray(at, at + size);
    out.push({ epoch: batch.readInt32BE(12), crcValid: crc32c(batch, 21) === batch.readUInt32BE(17) });
    at += size;
  }
  return out;
}

test('the epoch cache answers end offsets as Kafka does', () => {
  const cache = new LeaderEpochCache('/nonexistent');
  assert.equal(cache.assign(-1, 0), false, 'batches without an epoch are not recorded');
  assert.ok(cache.assign(1, 10));
  assert.equal(cache.assign(1, 12), false, 'the same epoch later on changes nothing');
  assert.ok(cache.assign(3, 20));
  assert.ok(cache.assign(6, 35));
  assert.deepEqual(cache.endOffsetFor(6, 50), { epoch: 6, endOffset: 50 }, 'the latest epoch ends at the log end');
  assert.deepEqual(cache.endOffsetFor(3, 50), { epoch: 3, endOffset: 35 });
  assert.deepEqual(cache.endOffsetFor(4, 50), { epoch: 3, endOffset: 35 }, 'an epoch without data: the one before');
  assert.deepEqual(cache.endOffsetFor(0, 50), { epoch: 0, endOffset: 10 }, 'below every epoch: the first start');
  assert.deepEqual(cache.endOffsetFor(7, 50), { epoch: -1, endOffset: -1 }, 'a future epoch is unknown');
  assert.deepEqual(cache.endOffsetFor(-1, 50), { epoch: -1, endOffset: -1 });
  assert.equal(cache.epochForOffset(9), -1);
  assert.equal(cache.epochForOffset(25), 3);

  // A new epoch starting before entries it conflicts with removes them.
  assert.ok(cache.assign(4, 30));
  assert.deepEqual(cache.epochEntries(), [
    { epoch: 1, startOffset: 10 },
    { epoch: 3, startOffset: 20 },
    { epoch: 4, startOffset: 30 },
  ]);
  assert.ok(cache.truncateFromEnd(30));
  assert.equal(cache.truncateFromEnd(30), false);
  assert.ok(cache.truncateFromStart(25));
  assert.deepEqual(cache.epochEntries(), [{ epoch: 3, startOffset: 25 }], 'the epoch holding the start is kept');
  assert.equal(cache.truncateFromStart(25), false);
});

test('the checkpoint file is in Kafka format, and a damaged one is refused', () => {
  const text = formatLeaderEpochCheckpoint([
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 57 },
  ]);
  assert.equal(text, '0\n2\n0 0\n2 57\n');
  assert.deepEqual(parseLeaderEpochCheckpoint(text), [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 57 },
  ]);
  assert.deepEqual(parseLeaderEpochCheckpoint('0\n0\n'), []);
  for (const bad of ['', '1\n0\n', '0\n2\n0 0\n', '0\n1\n0 x\n', '0\n2\n2 5\n1 9\n', '0\n2\n1 5\n2 5\n']) {
    assert.equal(parseLeaderEpochCheckpoint(bad), null, JSON.stringify(bad));
  }
});

test('appended batches carry the leader epoch with their CRC intact; each new epoch is checkpointed', () =>
  withTempDir(async (dir) => {
    // Small segments: the epochs span several, and a roll keeps them.
    const log = await openLog(dir, { segmentBytes: 200 });
    for (let i = 0; i < 3; i++) await log.append(makeBatch(2, 1000 + i, 40), { sync: false, recordCount: 2 });
    log.becomeLeader(3);
    for (let i = 0; i < 3; i++) await log.append(makeBatch(2, 2000 + i, 40), { sync: true, recordCount: 2 });
    assert.ok(log.segmentCount > 2, 'the log rolled');
    assert.equal(await readFile(checkpointPath(dir), 'utf8'), '0\n2\n0 0\n3 6\n');

    const read = await log.read(0, 1 << 20, true);
    const epochs = [];
    for (let offset = 0; offset < log.logEndOffset; ) {
      const r = await log.read(offset, 1, true);
      const [b] = batchEpochs(r!.records);
      epochs.push(b!);
      offset = Number(r!.records.readBigInt64BE(0)) + r!.records.readInt32BE(23) + 1;
    }
    assert.ok(read);
    assert.deepEqual(
      epochs.map((e) => e.epoch),
      [0, 0, 0, 3, 3, 3],
    );
    assert.ok(
      epochs.every((e) => e.crcValid),
      'the CRC does not cover the epoch',
    );
    assert.deepEqual(log.endOffsetForEpoch(0), { epoch: 0, endOffset: 6 });
    assert.deepEqual(log.endOffsetForEpoch(2), { epoch: 0, endOffset: 6 });
    assert.deepEqual(log.endOffsetForEpoch(3), { epoch: 3, endOffset: 12 });
    assert.throws(() => log.becomeLeader(2), /go back/);
    await log.close();

    const reopened = await openLog(dir, { segmentBytes: 200 });
    assert.equal(reopened.leaderEpoch, 3, 'the epoch appends carry after a restart is the latest in the log');
    assert.deepEqual(reopened.leaderEpochEntries(), [
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 6 },
    ]);
    await reopened.close();
  }));

test('retention and DeleteRecords move the first epoch entry to the new log start', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, { segmentBytes: 200 });
    for (let i = 0; i < 2; i++) await log.append(makeBatch(2, 1000 + i, 40), { sync: false, recordCount: 2 });
    log.becomeLeader(1);
    for (let i = 0; i < 4; i++) await log.append(makeBatch(2, 2000 + i, 40), { sync: false, recordCount: 2 });
    log.advanceLogStartOffset(5);
    assert.ok((await log.deleteOldSegments()) > 0);
    assert.deepEqual(log.leaderEpochEntries(), [{ epoch: 1, startOffset: 5 }]);
    assert.deepEqual(
      log.endOffsetForEpoch(0),
      { epoch: 0, endOffset: 5 },
      'an epoch now gone ends where the log starts',
    );
    await log.close();
    assert.equal(await readFile(checkpointPath(dir), 'utf8'), '0\n1\n1 5\n');
  }));

test('a missing, damaged or stale checkpoint is rebuilt from the batches at load, never refused', () =>
  withTempDir(async (dir) => {
    let log = await openLog(dir);
    await log.append(makeBatch(2, 1000), { sync: false, recordCount: 2 });
    log.becomeLeader(4);
    await log.append(makeBatch(3, 2000), { sync: true, recordCount: 3 });
    await log.close();
    const expected = '0\n2\n0 0\n4 2\n';

    await rm(checkpointPath(dir));
    log = await openLog(dir);
    assert.deepEqual(log.endOffsetForEpoch(0), { epoch: 0, endOffset: 2 });
    await log.close();
    assert.equal(await readFile(checkpointPath(dir), 'utf8'), expected, 'rebuilt when missing');

    await writeFile(checkpointPath(dir), '0\n7\ngarbage');
    log = await openLog(dir);
    await log.close();
    assert.equal(await readFile(checkpointPath(dir), 'utf8'), expected, 'rebuilt when damaged');

    // An entry past the log end (written before a crash lost its batch) is cut.
    await writeFile(checkpointPath(dir), '0\n3\n0 0\n4 2\n9 5\n');
    log = await openLog(dir);
    assert.equal(log.leaderEpoch, 4);
    await log.close();
    assert.equal(await readFile(checkpointPath(dir), 'utf8'), expected, 'an entry past the end is cut');

    // After a crash, the epochs of the batches recovery scanned are assigned again.
    await writeFile(checkpointPath(dir), '0\n1\n0 0\n');
    log = await openLog(dir, {}, false);
    assert.deepEqual(log.leaderEpochEntries(), [
      { epoch: 0, startOffset: 0 },
      { epoch: 4, startOffset: 2 },
    ]);
    await log.close();
  }));

test('a new log writes no checkpoint until its first append; an unclean start of a sound log repairs nothing', () =>
  withTempDir(async (dir) => {
    const told: string[] = [];
    const logger = { info: (m: string) => told.push(m), warn: (m: string) => told.push(m), error: () => {} };
    const openWithLogger = (cleanShutdown: boolean) =>
      PartitionLog.open({
        dir: join(dir, 'events-0'),
        topic: 'events',
        partition: 0,
        config: testLogConfig(),
        cleanShutdown,
        logger,
      });
    let log = await openWithLogger(true);
    await assert.rejects(readFile(checkpointPath(dir)), { code: 'ENOENT' });
    await log.append(makeBatch(2, 1000), { sync: true, recordCount: 2 });
    assert.equal(await readFile(checkpointPath(dir), 'utf8'), '0\n1\n0 0\n');
    await log.close();
    log = await openWithLogger(false);
    await log.close();
    assert.ok(!told.some((m) => m.startsWith('leader epoch')), told.join('; '));
  }));
