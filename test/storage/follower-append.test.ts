import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withProducer, withTempDir } from './helpers.js';

function open(dir: string, name: string) {
  return PartitionLog.open({
    dir: join(dir, `${name}-0`),
    topic: name,
    partition: 0,
    config: testLogConfig(),
    cleanShutdown: true,
  });
}

/** Everything up to the log end, as a follower fetching from `log` would get it. */
async function allBatches(log: PartitionLog): Promise<Buffer> {
  return (await log.readForFollower(log.logStartOffset, 1 << 20, true))?.records ?? Buffer.alloc(0);
}

test('a follower copies its leader batches as they are: offsets, leader epochs and producer state', () =>
  withTempDir(async (dir) => {
    const leader = await open(dir, 'leader');
    const follower = await open(dir, 'follower');
    leader.setReplicated(true);
    follower.setReplicated(true);
    leader.becomeLeader(3);
    await leader.appendAsLeader(withProducer(makeBatch(2, 1000), 7n, 0, 0), { origin: 'coordinator', sync: false });
    leader.becomeLeader(5);
    await leader.appendAsLeader(makeBatch(3, 1001), { origin: 'coordinator', sync: false });
    // Replicated: the leader's high watermark waits for its followers; followers read up to the log end.
    assert.equal(leader.logEndOffset, 5);
    assert.equal(leader.highWatermark, 0);
    assert.equal(await leader.read(0, 1 << 20, true), null);
    const fetched = await allBatches(leader);
    assert.deepEqual(batchOffsets(fetched), [0, 2]);

    await follower.appendAsFollower(Buffer.from(fetched));
    assert.equal(follower.logEndOffset, 5);
    assert.deepEqual(follower.leaderEpochEntries(), [
      { epoch: 3, startOffset: 0 },
      { epoch: 5, startOffset: 2 },
    ]);
    assert.deepEqual(follower.endOffsetForEpoch(3), leader.endOffsetForEpoch(3));
    assert.equal(follower.producerState.entry(7n)?.batches.at(-1)?.lastSeq, 1);
    // Byte for byte: offsets, epochs and CRCs as the leader wrote them.
    assert.deepEqual(await allBatches(follower), fetched);
    // A follower's high watermark is its leader's, never past its own log end.
    assert.equal(follower.updateHighWatermark(9), true);
    assert.equal(follower.highWatermark, 5);
    assert.equal(follower.updateHighWatermark(2), false);
    assert.equal(follower.highWatermark, 5);
    // A batch before the log end is not a leader's next batch.
    await assert.rejects(follower.appendAsFollower(Buffer.from(fetched)));
    await leader.close();
    await follower.close().catch(() => {});
  }));

test('a follower with a divergent tail truncates to where its epoch ended on the leader, then copies the rest', () =>
  withTempDir(async (dir) => {
    const leader = await open(dir, 'leader');
    const follower = await open(dir, 'follower');
    leader.setReplicated(true);
    follower.setReplicated(true);
    // Both hold epoch 1's first two records; the follower then led epoch 2 alone and wrote three more that
    // never reached anyone, while the leader of epoch 3 wrote four of its own.
    leader.becomeLeader(1);
    await leader.appendAsLeader(makeBatch(2, 1000), { origin: 'coordinator', sync: false });
    await follower.appendAsFollower(Buffer.from(await allBatches(leader)));
    follower.becomeLeader(2);
    await follower.appendAsLeader(makeBatch(3, 1001), { origin: 'coordinator', sync: false });
    leader.becomeLeader(3);
    await leader.appendAsLeader(makeBatch(4, 1002), { origin: 'coordinator', sync: false });

    // KIP-279: the follower asks for its latest epoch (2); the leader never had it and answers the end of the
    // largest epoch below it (1, ending at 2); the follower truncates to min(that, its own end of epoch 1).
    const answer = leader.endOffsetForEpoch(follower.leaderEpoch);
    assert.deepEqual(answer, { epoch: 1, endOffset: 2 });
    const own = follower.endOffsetForEpoch(answer.epoch);
    await follower.truncateTo(Math.min(answer.endOffset, own.endOffset, follower.logEndOffset));
    assert.equal(follower.logEndOffset, 2);
    const rest = await leader.readForFollower(follower.logEndOffset, 1 << 20, true);
    await follower.appendAsFollower(Buffer.from(rest!.records));
    assert.deepEqual(await allBatches(follower), await allBatches(leader));
    assert.deepEqual(follower.leaderEpochEntries(), leader.leaderEpochEntries());
    await leader.close();
    await follower.close();
  }));

test('a single-replica log keeps its high watermark at its log end, as before', () =>
  withTempDir(async (dir) => {
    const log = await open(dir, 'single');
    await log.appendAsLeader(makeBatch(2, 1000), { origin: 'coordinator', sync: false });
    assert.equal(log.highWatermark, 2);
    log.setReplicated(true);
    await log.appendAsLeader(makeBatch(2, 1000), { origin: 'coordinator', sync: false });
    assert.equal(log.highWatermark, 2);
    // Back to one replica: nothing else to wait for.
    log.setReplicated(false);
    assert.equal(log.highWatermark, 4);
    await log.close();
  }));
