import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { StorageLogFields } from '../../src/storage/log-recovery.js';
import { type AppendResult, LogOfflineError, PartitionLog } from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withProducer, withTempDir } from './helpers.js';
import { copyDir, growSmallDisk, mountSmallDisk, unmountSmallDisk } from './small-disk.js';

const PRODUCER_ID = 7n;
const RECORDS = 16;
/** About 16 KiB a batch: a 2 MiB disk fills after a hundred or so. */
const VALUE_BYTES = 1000;
const CONCURRENT_APPENDS = 4;

// Synced appends (acks=all) are written through libuv's thread pool; small unsynced rounds (acks=1, two appends of
// 16 KiB here) on the event loop (LogSegment.writeLog): both paths must fail the same way.
for (const { sync, concurrent } of [
  { sync: true, concurrent: CONCURRENT_APPENDS },
  { sync: false, concurrent: 2 },
])
  test(`a full disk takes the partition offline: nothing unwritten is acknowledged, nothing is written after the failure (${sync ? 'synced appends' : 'unsynced small rounds'})`, async (t) => {
    await withTempDir(async (dir) => {
      const disk = join(dir, 'small');
      const cannot = await mountSmallDisk(disk, '2m');
      if (cannot) {
        t.skip(cannot);
        return;
      }
      const errors: Array<{ message: string; fields: StorageLogFields }> = [];
      const acked = new Map<number, Buffer>();
      /** The refused batches by sequence: the producer retries the lowest first. */
      const refusedBatches = new Map<number, Buffer>();
      let opened: PartitionLog | null = null;
      try {
        const log = await PartitionLog.open({
          dir: join(disk, 'events-0'),
          topic: 'events',
          partition: 0,
          // Small segments, so that rolls (and their producer snapshots) happen while the disk fills.
          config: testLogConfig({ segmentBytes: 256 * 1024 }),
          cleanShutdown: true,
          logger: {
            info() {},
            warn() {},
            error: (message, fields = {}) => errors.push({ message, fields }),
          },
        });
        opened = log;
        let sequence = 0;
        let refused = 0;
        while (refused < concurrent * 2) {
          const wave = Array.from({ length: concurrent }, () => {
            const batchSequence = sequence;
            const batch = withProducer(makeBatch(RECORDS, Date.now(), VALUE_BYTES), PRODUCER_ID, 0, batchSequence);
            sequence += RECORDS;
            const copy = Buffer.from(batch);
            // As the log stores it: stamped with the partition leader epoch (0), outside the CRC.
            copy.writeInt32BE(0, 12);
            return log.append(batch, { sync, recordCount: RECORDS }).then(
              (r: AppendResult) => acked.set(r.baseOffset, copy),
              (e: unknown) => {
                assert.ok(e instanceof LogOfflineError, String(e));
                refused++;
                refusedBatches.set(batchSequence, copy);
              },
            );
          });
          await Promise.all(wave);
        }
        assert.ok(acked.size > 20, `the disk took ${acked.size} batches first`);
        assert.equal(log.isOffline, true);
        assert.equal(errors.length, 1, 'going offline is told once, at ERROR');
        assert.equal(errors[0]!.fields.topic, 'events');
        assert.equal(errors[0]!.fields.code, 'ENOSPC');
        await assert.rejects(log.append(makeBatch(1, 0), { sync: false, recordCount: 1 }), LogOfflineError);
        // Space is freed before the broker stops: the offline log must still write nothing more.
        await growSmallDisk(disk, '8m');
        await log.close();
        await copyDir(join(disk, 'events-0'), join(dir, 'events-0'));
      } finally {
        if (opened && !opened.isClosed) await opened.close().catch(() => {});
        await unmountSmallDisk(disk);
      }

      const firstRefused = refusedBatches.get(Math.min(...refusedBatches.keys()))!;
      for (const cleanShutdown of [true, false]) {
        const reopened = await PartitionLog.open({
          dir: join(dir, 'events-0'),
          topic: 'events',
          partition: 0,
          config: testLogConfig({ segmentBytes: 256 * 1024 }),
          cleanShutdown,
        });
        // Every acknowledged batch is there, byte for byte apart from its base offset, and the offsets run on
        // from 0 without a hole.
        let expected = 0;
        for (let offset = 0; offset < reopened.logEndOffset; ) {
          const read = await reopened.read(offset, 1 << 20, true);
          assert.ok(read, `offset ${offset} is readable`);
          for (const base of batchOffsets(read.records)) {
            assert.equal(base, expected, 'offsets are continuous');
            expected = base + RECORDS;
          }
          offset = expected;
        }
        for (const [base, batch] of acked) {
          const read = await reopened.read(base, 1, true);
          assert.ok(read, `acknowledged offset ${base} is in the log`);
          assert.deepEqual(read.records.subarray(8, batch.length), batch.subarray(8), `batch at ${base}`);
        }
        if (cleanShutdown) {
          // The producer's retry of its first refused batch: written now, or, if its bytes did reach the log, answered
          // with offsets that are in it. Never answered from a producer state that counted an unwritten batch.
          const retry = await reopened.append(Buffer.from(firstRefused), { sync: true, recordCount: RECORDS });
          const read = await reopened.read(retry.baseOffset, 1, true);
          assert.ok(read, `the retry's offset ${retry.baseOffset} is in the log`);
          assert.deepEqual(read.records.subarray(8, firstRefused.length), firstRefused.subarray(8));
        }
        await reopened.close();
      }
    });
  });
