import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { PartitionCoordinatorLog } from '../../../src/coordinator/runtime/coordinator-log.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ErrorCode, KafkaError } from '../../../src/protocol/errors.js';
import { buildRecordBatch } from '../../../src/protocol/records/record-batch-builder.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { testLogConfig, withTempDir } from '../../storage/helpers.js';

/**
 * A coordinator partition newly led here: its log holds two records the previous leader acknowledged, its high
 * watermark (learnt from the previous leader's fetch answers) is still below them.
 */
async function newLeaderLog(dir: string): Promise<PartitionLog> {
  const log = await PartitionLog.open({
    dir: join(dir, '__consumer_offsets-0'),
    topic: '__consumer_offsets',
    partition: 0,
    config: testLogConfig(),
    cleanShutdown: true,
  });
  log.setReplicated(true);
  for (const key of ['commit-1', 'commit-2']) {
    const batch = buildRecordBatch([{ key: Buffer.from(key), value: Buffer.from('v'), timestamp: 0n }]);
    await log.appendAsLeader(batch, { origin: 'coordinator', sync: false });
  }
  assert.deepEqual([log.highWatermark, log.logEndOffset], [0, 2]);
  return log;
}

const logger = silentLogger;

async function replayed(coordinatorLog: PartitionCoordinatorLog): Promise<string[]> {
  const keys: string[] = [];
  await coordinatorLog.replay((key) => keys.push(key.toString()));
  return keys;
}

test('a load waits for the high watermark to reach the log end, then replays every record the previous leader acknowledged', () =>
  withTempDir(async (dir) => {
    const log = await newLeaderLog(dir);
    // Without the wait the load would replay nothing of them: the last commits would be lost to the new coordinator.
    assert.deepEqual(await replayed(new PartitionCoordinatorLog(log, { sync: false, logger, now: Date.now })), []);
    const waitedFor: number[] = [];
    const caughtUp = async (endOffset: number) => {
      waitedFor.push(endOffset);
      // The followers fetch: the high watermark reaches the log end.
      log.updateHighWatermark(endOffset);
      return true;
    };
    const loading = new PartitionCoordinatorLog(log, { sync: false, logger, now: Date.now, caughtUp });
    assert.deepEqual(await replayed(loading), ['commit-1', 'commit-2']);
    assert.deepEqual(waitedFor, [2]);
    await log.close();
  }));

test('a load whose high watermark does not catch up (leadership lost, wait ran out) fails, replaying nothing', () =>
  withTempDir(async (dir) => {
    const log = await newLeaderLog(dir);
    const keys: string[] = [];
    const notCaughtUp = new PartitionCoordinatorLog(log, {
      sync: false,
      logger,
      now: Date.now,
      caughtUp: async () => false,
    });
    await assert.rejects(
      notCaughtUp.replay((key) => keys.push(key.toString())),
      (e: unknown) => e instanceof KafkaError && e.code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    );
    assert.deepEqual(keys, []);
    await log.close();
  }));
