import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import {
  BATCHES_RETAINED_PER_PRODUCER,
  decodeSnapshot,
  encodeSnapshot,
  type ProducerBatch,
  ProducerStateError,
  ProducerStateManager,
} from '../../src/storage/producer-state.js';
import { batchOffsets, makeBatch, testLogConfig, withProducer, withTempDir } from './helpers.js';

const config = testLogConfig();

function openLog(dir: string, cleanShutdown: boolean, overrides: Partial<LogConfig> = {}) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: { ...config, ...overrides },
    cleanShutdown,
  });
}

function batch(producerId: bigint, epoch: number, firstSeq: number, count: number): ProducerBatch {
  return {
    producerId,
    producerEpoch: epoch,
    firstSeq,
    lastSeq: firstSeq + count - 1,
    offsetDelta: count - 1,
    maxTimestamp: Date.now(),
    isTransactional: false,
  };
}

function errorCodeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProducerStateError) return e.errorCode;
    throw e;
  }
  return ErrorCode.NONE;
}

test('sequence rules: in order, duplicates, gaps, fenced and new epochs, unknown producers', () =>
  withTempDir(async (dir) => {
    const state = new ProducerStateManager(dir);
    const pid = 7n;
    assert.deepEqual(state.check(batch(pid, 0, 42, 3)), { duplicate: null }, 'an unknown producer may start anywhere');
    state.update(batch(pid, 0, 0, 3), 2);
    state.update(batch(pid, 0, 3, 2), 4);
    assert.deepEqual(state.check(batch(pid, 0, 5, 1)), { duplicate: null }, 'the next sequence');
    const dup = state.check(batch(pid, 0, 0, 3));
    assert.ok(dup.duplicate);
    assert.equal(dup.duplicate.lastOffset - dup.duplicate.offsetDelta, 0, 'a retry gets its first offset back');
    assert.equal(
      errorCodeOf(() => state.check(batch(pid, 0, 7, 1))),
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    assert.equal(
      errorCodeOf(() => state.check(batch(pid, 0, 1, 2))),
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      'overlap',
    );
    assert.equal(
      errorCodeOf(() => state.check(batch(pid, 1, 5, 1))),
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      'a new epoch starts at 0',
    );
    assert.equal(
      errorCodeOf(() => state.check(batch(pid, 1, 0, 1))),
      ErrorCode.NONE,
    );
    state.update(batch(pid, 1, 0, 1), 5);
    assert.equal(
      errorCodeOf(() => state.check(batch(pid, 0, 5, 1))),
      ErrorCode.INVALID_PRODUCER_EPOCH,
      'the old epoch is fenced',
    );
    assert.equal(
      errorCodeOf(() => state.check(batch(pid, 0, 0, 3))),
      ErrorCode.INVALID_PRODUCER_EPOCH,
      'even for a retry',
    );
  }));

test('only the last five batches are remembered; an older retry is out of order, as in Kafka', () =>
  withTempDir(async (dir) => {
    const state = new ProducerStateManager(dir);
    for (let i = 0; i < BATCHES_RETAINED_PER_PRODUCER + 1; i++) state.update(batch(1n, 0, i, 1), i);
    assert.equal(
      errorCodeOf(() => state.check(batch(1n, 0, 0, 1))),
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    assert.ok(state.check(batch(1n, 0, 1, 1)).duplicate);
  }));

test('sequences wrap from 2^31-1 to 0', () =>
  withTempDir(async (dir) => {
    const state = new ProducerStateManager(dir);
    state.update(batch(1n, 0, 0x7ffffffe, 2), 1);
    assert.equal(
      errorCodeOf(() => state.check(batch(1n, 0, 0, 1))),
      ErrorCode.NONE,
    );
  }));

test('snapshot files round-trip in Kafka layout and a damaged one is refused', () => {
  const entries = [
    {
      producerId: 1234567890123n,
      producerEpoch: 3,
      batches: [{ firstSeq: 10, lastSeq: 14, lastOffset: 99, offsetDelta: 4, timestamp: 1700000000000 }],
      lastTimestamp: 1700000000000,
      coordinatorEpoch: -1,
      currentTxnFirstOffset: -1,
    },
  ];
  const bytes = encodeSnapshot(entries);
  assert.equal(bytes.length, 2 + 4 + 4 + 46);
  assert.equal(bytes.readInt16BE(0), 1, 'version 1');
  assert.deepEqual(decodeSnapshot(bytes), entries);
  const damaged = Buffer.from(bytes);
  damaged[20]! ^= 1;
  assert.equal(decodeSnapshot(damaged), null);
  assert.equal(decodeSnapshot(bytes.subarray(0, 20)), null);
});

test('a retried batch is not written twice and gets its original offsets', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, true);
    const first = withProducer(makeBatch(3, 1000), 5n, 0, 0);
    const a = await log.append(Buffer.from(first), { sync: false, recordCount: 3 });
    const b = await log.append(withProducer(makeBatch(2, 1000), 5n, 0, 3), { sync: false, recordCount: 2 });
    const retry = await log.append(Buffer.from(first), { sync: false, recordCount: 3 });
    assert.deepEqual([a.baseOffset, b.baseOffset], [0, 3]);
    assert.equal(retry.duplicate, true);
    assert.deepEqual([retry.baseOffset, retry.lastOffset], [0, 2]);
    assert.equal(log.logEndOffset, 5, 'nothing appended for the retry');
    await assert.rejects(
      log.append(withProducer(makeBatch(1, 1000), 5n, 0, 9), { sync: false, recordCount: 1 }),
      (e: unknown) => e instanceof ProducerStateError && e.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    // A refused batch does not disturb the others of the same group commit.
    const [refused, accepted] = await Promise.allSettled([
      log.append(withProducer(makeBatch(1, 1000), 5n, 0, 9), { sync: false, recordCount: 1 }),
      log.append(withProducer(makeBatch(1, 1000), 5n, 0, 5), { sync: false, recordCount: 1 }),
    ]);
    assert.equal(refused.status, 'rejected');
    assert.equal(accepted.status === 'fulfilled' && accepted.value.baseOffset, 5);
    const all = await log.read(0, 1 << 20, true);
    assert.deepEqual(batchOffsets(all!.records), [0, 3, 5]);
    await log.close();
  }));

test('duplicates are still detected after a clean restart (snapshot) and after a crash (log replay)', () =>
  withTempDir(async (dir) => {
    const first = withProducer(makeBatch(3, Date.now()), 9n, 2, 0);
    const second = withProducer(makeBatch(1, Date.now()), 9n, 2, 3);
    let log = await openLog(dir, true);
    await log.append(Buffer.from(first), { sync: true, recordCount: 3 });
    await log.append(Buffer.from(second), { sync: true, recordCount: 1 });
    await log.close();
    const files = await readdir(join(dir, 'events-0'));
    assert.ok(files.includes('00000000000000000004.snapshot'), `a snapshot at the log end: ${files}`);

    log = await openLog(dir, true);
    const retry = await log.append(Buffer.from(second), { sync: true, recordCount: 1 });
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, 3);
    // Not closed: as after kill -9. The snapshot at 4 is older than the log end after this append.
    await log.append(withProducer(makeBatch(2, Date.now()), 9n, 2, 4), { sync: true, recordCount: 2 });
    await log.drain();

    const recovered = await openLog(dir, false);
    const again = await recovered.append(withProducer(makeBatch(2, Date.now()), 9n, 2, 4), {
      sync: true,
      recordCount: 2,
    });
    assert.equal(again.duplicate, true, 'the batch after the snapshot was replayed from the log');
    assert.equal(again.baseOffset, 4);
    await assert.rejects(
      recovered.append(withProducer(makeBatch(1, Date.now()), 9n, 1, 0), { sync: true, recordCount: 1 }),
      (e: unknown) => e instanceof ProducerStateError && e.errorCode === ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    await recovered.close();
    await log.close().catch(() => {});
  }));

test('after a crash with no snapshot at all the whole log is replayed', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, true);
    await log.append(withProducer(makeBatch(2, Date.now()), 4n, 0, 0), { sync: true, recordCount: 2 });
    await log.append(makeBatch(1, Date.now()), { sync: true, recordCount: 1 });
    await log.drain();
    assert.deepEqual(
      (await readdir(join(dir, 'events-0'))).filter((f) => f.endsWith('.snapshot')),
      [],
    );
    const recovered = await openLog(dir, false);
    const retry = await recovered.append(withProducer(makeBatch(2, Date.now()), 4n, 0, 0), {
      sync: true,
      recordCount: 2,
    });
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, 0);
    await recovered.close();
    await log.close().catch(() => {});
  }));

test('a corrupt snapshot is dropped and recovery falls back to an older one plus the log', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, true, { segmentBytes: 200 });
    for (let i = 0; i < 6; i++) {
      await log.append(withProducer(makeBatch(2, Date.now()), 3n, 0, i * 2), { sync: true, recordCount: 2 });
    }
    await log.drain();
    const files = (await readdir(join(dir, 'events-0'))).filter((f) => f.endsWith('.snapshot'));
    assert.ok(files.length >= 2, `a snapshot per rolled segment: ${files}`);
    // Damage the newest snapshot: recovery must fall back and still know the producer's last batch.
    await writeFile(join(dir, 'events-0', files.at(-1)!), 'garbage');
    const recovered = await openLog(dir, false, { segmentBytes: 200 });
    const retry = await recovered.append(withProducer(makeBatch(2, Date.now()), 3n, 0, 10), {
      sync: true,
      recordCount: 2,
    });
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, 10);
    assert.equal(recovered.producerState.entry(3n)?.batches.at(-1)?.lastSeq, 11);
    await recovered.close();
    await log.close().catch(() => {});
  }));

test('producers idle past producer.id.expiration.ms are forgotten', () =>
  withTempDir(async (dir) => {
    const state = new ProducerStateManager(dir);
    state.update({ ...batch(1n, 0, 0, 1), maxTimestamp: 1000 }, 0);
    state.update({ ...batch(2n, 0, 0, 1), maxTimestamp: 5000 }, 1);
    assert.equal(state.removeExpired(6000, 2000), 1);
    assert.equal(state.entry(1n), undefined);
    assert.ok(state.entry(2n));
  }));

test('transactions: the last stable offset holds read_committed back; aborts are indexed and survive a crash', () =>
  withTempDir(async (dir) => {
    const log = await openLog(dir, true);
    const opts = { sync: true, recordCount: 2 };
    await log.append(withProducer(makeBatch(2, Date.now()), 1n, 0, 0, true), opts); // 0-1, txn of producer 1
    await log.append(makeBatch(2, Date.now()), opts); // 2-3, plain
    await log.append(withProducer(makeBatch(2, Date.now()), 2n, 0, 0, true), opts); // 4-5, txn of producer 2
    assert.equal(log.highWatermark, 6);
    assert.equal(log.lastStableOffset, 0);
    assert.equal(await log.read(0, 1 << 20, true, true), null, 'nothing is stable yet');
    await assert.rejects(
      log.append(withProducer(makeBatch(1, Date.now()), 1n, 0, 2), opts),
      (e: unknown) => e instanceof ProducerStateError && e.errorCode === ErrorCode.INVALID_TXN_STATE,
    );

    const abort = await log.appendMarker(
      { producerId: 1n, producerEpoch: 0, coordinatorEpoch: 0, aborted: true },
      opts,
    );
    assert.equal(abort.baseOffset, 6);
    assert.equal(log.lastStableOffset, 4, 'producer 2 is still open');
    const committed = await log.read(0, 1 << 20, true, true);
    assert.deepEqual(batchOffsets(committed!.records), [0, 2], 'up to the last stable offset only');
    assert.deepEqual(
      committed!.abortedTransactions?.map((t) => [t.producerId, t.firstOffset]),
      [[1n, 0]],
    );
    await log.appendMarker({ producerId: 2n, producerEpoch: 0, coordinatorEpoch: 0, aborted: false }, opts);
    assert.equal(log.lastStableOffset, 8);
    const all = await log.read(0, 1 << 20, true, true);
    assert.deepEqual(batchOffsets(all!.records), [0, 2, 4, 6, 7]);
    assert.deepEqual(
      (await log.read(7, 1 << 20, true, true))!.abortedTransactions,
      [],
      'the abort lies before offset 7',
    );
    await assert.rejects(
      log.appendMarker({ producerId: 2n, producerEpoch: 0, coordinatorEpoch: -5, aborted: false }, opts),
      (e: unknown) => e instanceof ProducerStateError && e.errorCode === ErrorCode.TRANSACTION_COORDINATOR_FENCED,
    );
    // A third transaction left open at the crash keeps the last stable offset after recovery.
    await log.append(withProducer(makeBatch(1, Date.now()), 3n, 0, 0, true), opts);
    await log.drain();
    assert.ok((await readdir(join(dir, 'events-0'))).includes('00000000000000000000.txnindex'));

    const recovered = await openLog(dir, false);
    assert.equal(recovered.lastStableOffset, 8);
    const again = await recovered.read(0, 1 << 20, true, true);
    assert.deepEqual(
      again!.abortedTransactions?.map((t) => [t.producerId, t.firstOffset, t.lastOffset]),
      [[1n, 0, 6]],
    );
    await recovered.close();
    await log.close().catch(() => {});
  }));
