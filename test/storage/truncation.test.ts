import assert from 'node:assert/strict';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LEADER_EPOCH_CHECKPOINT_FILE } from '../../src/storage/leader-epoch-cache.js';
import { PartitionLog, type TruncationStep } from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withProducer, withTempDir } from './helpers.js';

/** Small segments: a truncation to the middle deletes some and cuts one. */
const config = testLogConfig({ segmentBytes: 400, indexIntervalBytes: 64 });
const IDEMPOTENT = 7n;
const TRANSACTIONAL = 9n;

function open(dir: string, cleanShutdown: boolean) {
  return PartitionLog.open({ dir, topic: 'events', partition: 0, config, cleanShutdown });
}

/**
 * A log of 24 batches over several segments and two leader epochs: an idempotent producer's batches (2 records
 * each) between a transactional producer's, whose transactions alternate abort and commit. Returns the offset
 * of the start of the 13th batch, the middle.
 */
async function fill(log: PartitionLog): Promise<number> {
  // Recent timestamps: producers idle past producer.id.expiration.ms are not reloaded from a snapshot.
  const now = Date.now();
  let sequence = 0;
  let txnSequence = 0;
  let middle = -1;
  for (let i = 0; i < 12; i++) {
    if (i === 6) log.becomeLeader(2);
    const r = await log.append(withProducer(makeBatch(2, now + i, 20), IDEMPOTENT, 0, sequence), {
      sync: false,
      recordCount: 2,
    });
    sequence += 2;
    if (i === 6) middle = r.baseOffset;
    await log.append(withProducer(makeBatch(1, now + i, 20), TRANSACTIONAL, 0, txnSequence, true), {
      sync: false,
      recordCount: 1,
    });
    txnSequence += 1;
    await log.appendMarker(
      { producerId: TRANSACTIONAL, producerEpoch: 0, coordinatorEpoch: 0, aborted: i % 2 === 0 },
      { sync: false },
    );
  }
  return middle;
}

/** What the log says about itself: every part a truncation must keep in step. */
async function describe(log: PartitionLog) {
  const offsets: number[] = [];
  for (let offset = log.logStartOffset; offset < log.highWatermark; ) {
    const read = await log.read(offset, 1, true);
    assert.ok(read, `offset ${offset} readable`);
    const [base] = batchOffsets(read.records);
    offsets.push(base!);
    offset = base! + read.records.readInt32BE(23) + 1;
  }
  const producers = [...log.producerState.activeProducers()]
    .map((p) => ({
      producerId: p.producerId,
      producerEpoch: p.producerEpoch,
      // A snapshot keeps the producer's last timestamp for its batches: only their offsets and sequences compare.
      lastBatch: p.batches.map((b) => [b.firstSeq, b.lastSeq, b.lastOffset]).at(-1) ?? null,
      currentTxnFirstOffset: p.currentTxnFirstOffset,
    }))
    .sort((a, b) => Number(a.producerId - b.producerId));
  return {
    logEndOffset: log.logEndOffset,
    highWatermark: log.highWatermark,
    batchOffsets: offsets,
    leaderEpochs: log.leaderEpochEntries(),
    producers,
    aborted: log.abortedTransactions(0, Number.MAX_SAFE_INTEGER),
    lastStableOffset: log.lastStableOffset,
  };
}

/** The state rebuilt from the `.log` files alone: indexes, snapshots, transaction indexes and epochs removed. */
async function rebuiltFromSegments(dir: string, copy: string) {
  await cp(dir, copy, { recursive: true });
  for (const name of await readdir(copy)) {
    if (!name.endsWith('.log')) await rm(join(copy, name));
  }
  const log = await open(copy, false);
  try {
    return await describe(log);
  } finally {
    await log.close();
  }
}

test('truncateTo cuts the log in the middle and brings indexes, producers, aborts and epochs back with it', () =>
  withTempDir(async (root) => {
    const dir = join(root, 'events-0');
    const log = await open(dir, true);
    const middle = await fill(log);
    assert.ok(log.segmentCount > 3);
    const end = await log.truncateTo(middle + 1);
    assert.equal(end, middle, 'cut at the start of the batch holding the target');
    const state = await describe(log);
    assert.equal(state.logEndOffset, middle);
    assert.equal(state.highWatermark, middle);
    assert.ok(state.aborted.every((a) => a.lastOffset < middle));
    assert.ok(state.producers.every((p) => (p.lastBatch?.[2] ?? -1) < middle));
    assert.deepEqual(state.leaderEpochs, [{ epoch: 0, startOffset: 0 }], 'epoch 2 started at the cut: gone');
    assert.deepEqual(state, await rebuiltFromSegments(dir, join(root, 'copy')), 'agrees with its own batches');

    // The producer goes on from its last kept sequence; the log takes appends at the new end.
    const next = await log.append(withProducer(makeBatch(2, Date.now(), 20), IDEMPOTENT, 0, 12), {
      sync: true,
      recordCount: 2,
    });
    assert.equal(next.baseOffset, middle);
    assert.deepEqual(log.leaderEpochEntries().at(-1), { epoch: 2, startOffset: middle });
    const after = await describe(log);
    await log.close();
    const reopened = await open(dir, true);
    assert.deepEqual(await describe(reopened), after, 'the same after a clean restart');
    await reopened.close();
  }));

test('truncateFullyAndStartAt empties the log and starts it at the offset given', () =>
  withTempDir(async (root) => {
    const dir = join(root, 'events-0');
    const log = await open(dir, true);
    await fill(log);
    await log.truncateFullyAndStartAt(1000);
    const state = await describe(log);
    assert.deepEqual(
      [state.logEndOffset, state.highWatermark, log.logStartOffset, log.segmentCount],
      [1000, 1000, 1000, 1],
    );
    assert.deepEqual([state.producers, state.aborted, state.leaderEpochs], [[], [], []]);
    const r = await log.append(makeBatch(1, 1), { sync: true, recordCount: 1 });
    assert.equal(r.baseOffset, 1000);
    await log.close();
    const reopened = await PartitionLog.open({
      dir,
      topic: 'events',
      partition: 0,
      config,
      cleanShutdown: true,
      logStartOffset: 1000,
    });
    assert.deepEqual([reopened.logStartOffset, reopened.logEndOffset], [1000, 1001]);
    await reopened.close();
  }));

const STEPS: TruncationStep[] = [
  'segments-deleted',
  'segment-truncated',
  'indexes-rebuilt',
  'leader-epochs',
  'producer-state',
];

for (const crashAfter of STEPS) {
  test(`a crash during truncateTo after "${crashAfter}": the log reopens consistent with its own batches`, () =>
    withTempDir(async (root) => {
      const dir = join(root, 'events-0');
      const log = await open(dir, true);
      const middle = await fill(log);
      const before = log.logEndOffset;
      // The producer snapshot a roll wrote past the cut must not be believed after the crash.
      assert.ok((await readdir(dir)).some((n) => n.endsWith('.snapshot')));
      await assert.rejects(
        log.truncateTo(middle, {
          afterStep: (step) => {
            if (step === crashAfter) throw new Error(`crash after ${step}`);
          },
        }),
        /crash after/,
      );
      assert.ok(log.isOffline, 'nothing more is written by this process');
      // No close: the process died here. The next start is unclean.
      const reopened = await open(dir, false);
      const state = await describe(reopened);
      assert.ok(state.logEndOffset >= middle && state.logEndOffset < before, 'cut somewhere at or after the target');
      if (crashAfter !== 'segments-deleted') assert.equal(state.logEndOffset, middle);
      assert.ok(state.aborted.every((a) => a.lastOffset < state.logEndOffset));
      assert.ok(state.leaderEpochs.every((e) => e.startOffset < state.logEndOffset));
      assert.deepEqual(state, await rebuiltFromSegments(dir, join(root, 'copy')));
      await reopened.close();
      assert.ok(
        (await readdir(dir)).includes(LEADER_EPOCH_CHECKPOINT_FILE),
        'the epoch checkpoint is there after the restart',
      );
    }));
}
