import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { AppendValidationError, type ClientAppendOptions, PartitionLog } from '../../src/storage/partition-log.js';
import { ProducerStateError } from '../../src/storage/producer-state.js';
import { makeBatch, testLogConfig, withProducer, withTempDir } from './helpers.js';

const checks: ClientAppendOptions = { maxMessageBytes: 1 << 20, timestampType: 'CreateTime', codec: null };

/** A batch of `count` real records (the validator walks them), as a producer sends it. */
function clientBatch(count: number, valueBytes = 10): Buffer {
  return buildRecordBatch(
    Array.from({ length: count }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.alloc(valueBytes, 0x61),
      timestamp: 1000n,
    })),
  );
}

function open(dir: string) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: testLogConfig(),
    cleanShutdown: true,
  });
}

test('a client append is validated by the log: a damaged batch never reaches it', () =>
  withTempDir(async (dir) => {
    const log = await open(dir);
    const damaged = clientBatch(2);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
    await assert.rejects(
      log.appendAsLeader(damaged, { origin: 'client', sync: false, validation: checks }),
      (e: unknown) => e instanceof AppendValidationError && e.errorCode === ErrorCode.CORRUPT_MESSAGE,
    );
    await assert.rejects(
      log.appendAsLeader(clientBatch(2, 100), {
        origin: 'client',
        sync: false,
        validation: { ...checks, maxMessageBytes: 100 },
      }),
      (e: unknown) => e instanceof AppendValidationError && e.errorCode === ErrorCode.MESSAGE_TOO_LARGE,
    );
    assert.equal(log.logEndOffset, 0);
    const ok = await log.appendAsLeader(clientBatch(2), { origin: 'client', sync: false, validation: checks });
    assert.deepEqual([ok.baseOffset, ok.lastOffset, ok.logAppendTimeMs], [0, 1, -1]);
    await log.close();
  }));

test('a client transactional batch is checked against its transaction; the topic codec is applied', () =>
  withTempDir(async (dir) => {
    const log = await open(dir);
    const asked: unknown[] = [];
    const transactions = {
      transactionalWriteError(id: string | null, producerId: bigint, epoch: number, topic: string, partition: number) {
        asked.push([id, producerId, epoch, topic, partition]);
        return ErrorCode.INVALID_TXN_STATE;
      },
    };
    const txnBatch = withProducer(clientBatch(1), 4n, 2, 0, true);
    await assert.rejects(
      log.appendAsLeader(txnBatch, {
        origin: 'client',
        sync: false,
        validation: checks,
        transactions,
        transactionalId: 'tx',
      }),
      (e: unknown) => e instanceof AppendValidationError && e.errorCode === ErrorCode.INVALID_TXN_STATE,
    );
    assert.deepEqual(asked, [['tx', 4n, 2, 'events', 0]]);

    const plain = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'.repeat(100)), timestamp: 1000n }]);
    await log.appendAsLeader(plain, {
      origin: 'client',
      sync: false,
      validation: { ...checks, codec: CompressionType.Gzip },
    });
    const read = await log.read(0, 1 << 20, true);
    assert.equal(readBatches(read!.records).batches[0]!.compression, CompressionType.Gzip, 'stored in the topic codec');
    await log.close();
  }));

test("a coordinator's append checks only the producer epoch, not sequences", () =>
  withTempDir(async (dir) => {
    const log = await open(dir);
    await log.appendAsLeader(withProducer(makeBatch(1, 1000), 5n, 1, -1), { origin: 'coordinator', sync: false });
    await log.appendAsLeader(withProducer(makeBatch(1, 1000), 5n, 1, -1), { origin: 'coordinator', sync: false });
    assert.equal(log.logEndOffset, 2);
    await assert.rejects(
      log.appendAsLeader(withProducer(makeBatch(1, 1000), 5n, 0, -1), { origin: 'coordinator', sync: false }),
      ProducerStateError,
    );
    await log.close();
  }));
