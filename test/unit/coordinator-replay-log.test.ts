import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { replayCoordinatorLog } from '../../src/coordinator/replay-log.js';
import { readTransactionLogRecord } from '../../src/coordinator/transaction/transaction-log-records.js';
import { Logger } from '../../src/observability/logger.js';
import { DecodeError } from '../../src/protocol/primitives/index.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { makeBatch, testLogConfig, withTempDir } from '../storage/helpers.js';

const T0 = 1_700_000_000_000;
const BATCHES_PER_SEGMENT = 5;
const SEGMENTS = 3;

function openLog(dir: string): Promise<PartitionLog> {
  return PartitionLog.open({
    dir: join(dir, '__transaction_state-0'),
    topic: '__transaction_state',
    partition: 0,
    // An index entry per batch: the clean start then trusts the segment's tail, as with the matrix's garbage.
    config: testLogConfig({ indexIntervalBytes: 1 }),
    cleanShutdown: true,
    now: () => T0,
  });
}

interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

function recordingLogger(lines: LogLine[]): Logger {
  return new Logger('coordinator', {
    format: 'json',
    sink: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
}

/**
 * Seeds 5 and 6 of the damaged-file matrix overwrite a __transaction_state batch's length field with garbage
 * that makes it negative; a clean stop means no recovery checks the segment, so reading it threw a RangeError
 * out of the load and stopped start-up without naming any file.
 */
test('a batch length garbled after a clean stop: the load reads what it can, goes on with the later segments, and says so', () =>
  withTempDir(async (dir) => {
    let log = await openLog(dir);
    for (let s = 0; s < SEGMENTS; s++) {
      if (s > 0) await log.roll();
      for (let b = 0; b < BATCHES_PER_SEGMENT; b++) await log.append(makeBatch(1, T0), { sync: false, recordCount: 1 });
    }
    await log.close();

    const segment = join(dir, '__transaction_state-0', '00000000000000000000.log');
    const bytes = await readFile(segment);
    const batchBytes = bytes.length / BATCHES_PER_SEGMENT;
    const file = await open(segment, 'r+');
    // The third batch's length field: 0x89... is negative as an int32.
    await file.write(Buffer.from([0x89, 0x03, 0x5e, 0x6b]), 0, 4, 2 * batchBytes + 8);
    await file.close();

    log = await openLog(dir);
    const lines: LogLine[] = [];
    const replayed: number[] = [];
    try {
      const summary = await replayCoordinatorLog(
        log,
        (batch) => void replayed.push(Number(batch.baseOffset)),
        recordingLogger(lines),
      );
      assert.deepEqual(replayed, [0, 1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], 'all but the garbled segment from it on');
      assert.equal(summary.unreadableFrom, null);
      const told = lines.find((l) => l.message.startsWith('a damaged segment failed to read while loading'));
      assert.equal(told?.level, 'error', JSON.stringify(lines));
      assert.equal(told?.topic, '__transaction_state');
      // The batches before the garbled one are read whole; the read that meets it fails.
      assert.equal(told?.offset, 2);
    } finally {
      await log.close();
    }
  }));

test('garbage in a __transaction_state record is a DecodeError, never a RangeError', () => {
  let seed = 5;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 2000; i++) {
    const key = Buffer.alloc(random() % 40);
    const value = Buffer.alloc(random() % 80);
    for (let j = 0; j < key.length; j++) key[j] = random() & 0xff;
    for (let j = 0; j < value.length; j++) value[j] = random() & 0xff;
    // A known key version, so that the decoding goes on into the garbage.
    if (key.length >= 2) key.writeInt16BE(0, 0);
    if (value.length >= 2) value.writeInt16BE(i % 2, 0);
    try {
      readTransactionLogRecord(key, value);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});
