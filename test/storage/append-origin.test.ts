import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import {
  AppendValidationError,
  type ClientAppendOptions,
  PartitionLog,
  type TransactionVerifier,
  type TransactionWriteCheck,
} from '../../src/storage/partition-log.js';
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
      checkTransactionalWrite(
        id: string | null,
        producerId: bigint,
        epoch: number,
        topic: string,
        partition: number,
        openHere: boolean,
      ) {
        asked.push([id, producerId, epoch, topic, partition, openHere]);
        return { errorCode: ErrorCode.INVALID_TXN_STATE, message: null };
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
    assert.deepEqual(asked, [['tx', 4n, 2, 'events', 0, false]]);

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

const VERIFIED = { errorCode: ErrorCode.NONE, message: null };

/**
 * A coordinator on another broker, as the transaction coordinator asks it: a question (a promise held until the test
 * answers it) unless the producer's transaction is open in the partition already.
 */
function heldVerifier() {
  const questions: Array<{ answer: (check: TransactionWriteCheck) => void }> = [];
  const verifier: TransactionVerifier = {
    checkTransactionalWrite(_id, _producerId, _epoch, _topic, _partition, openHere) {
      if (openHere) return VERIFIED;
      return new Promise<TransactionWriteCheck>((answer) => questions.push({ answer }));
    },
  };
  return { verifier, questions };
}

/** Lets pending promise callbacks and timers run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test(
  'a transactional batch verified by another broker: later batches of its producer wait behind it and keep ' +
    'their order; a refusal, a marker meanwhile (the guard) or a lost leadership keep it out of the log',
  () =>
    withTempDir(async (dir) => {
      const log = await open(dir);
      const { verifier, questions } = heldVerifier();
      let leading = true;
      const options = {
        origin: 'client' as const,
        sync: false,
        validation: checks,
        transactions: verifier,
        transactionalId: 'tx',
        stillLeader: () => leading,
      };
      const txn = (producerId: bigint, sequence: number) => withProducer(clientBatch(1), producerId, 0, sequence, true);

      // Three pipelined batches of producer 7: one question, the others wait behind it.
      const first = log.appendAsLeader(txn(7n, 0), options);
      const second = log.appendAsLeader(txn(7n, 1), options);
      const third = log.appendAsLeader(txn(7n, 2), options);
      // Another producer is not held up by producer 7's wait.
      const other = log.appendAsLeader(txn(8n, 0), options);
      assert.equal(questions.length, 2);
      questions[1]!.answer(VERIFIED);
      assert.equal((await other).baseOffset, 0);
      questions[0]!.answer(VERIFIED);
      assert.equal((await first).baseOffset, 1);
      // The transaction is open here now: the batches behind were taken without asking again, in their order.
      assert.deepEqual([(await second).baseOffset, (await third).baseOffset], [2, 3]);
      assert.equal(questions.length, 2);

      // Refused by the coordinator: the batch is not written, and its error is the producer's.
      const refused = log.appendAsLeader(txn(9n, 0), options);
      const behind = log.appendAsLeader(txn(9n, 1), options);
      await settle();
      questions[2]!.answer({
        errorCode: ErrorCode.INVALID_TXN_STATE,
        message: 'Partition was not added to the transaction',
      });
      await assert.rejects(
        refused,
        (e: unknown) => e instanceof AppendValidationError && e.errorCode === ErrorCode.INVALID_TXN_STATE,
      );
      // The batch behind it is decided again: it asks in turn.
      await settle();
      assert.equal(questions.length, 4);
      questions[3]!.answer({ errorCode: ErrorCode.INVALID_TXN_STATE, message: null });
      await assert.rejects(behind, AppendValidationError);

      // A marker for the producer queued while its batch is verified: the transaction it was verified in has ended.
      const late = log.appendAsLeader(txn(10n, 0), options);
      await log.appendMarker(
        { producerId: 10n, producerEpoch: 0, coordinatorEpoch: 0, aborted: true },
        { sync: false },
      );
      questions[4]!.answer(VERIFIED);
      await assert.rejects(
        late,
        (e: unknown) => e instanceof AppendValidationError && e.errorCode === ErrorCode.INVALID_TXN_STATE,
      );

      // The leadership moved during the wait: nothing is appended to what is now a follower's log.
      const moved = log.appendAsLeader(txn(11n, 0), options);
      leading = false;
      questions[5]!.answer(VERIFIED);
      await assert.rejects(
        moved,
        (e: unknown) => e instanceof AppendValidationError && e.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER,
      );
      // Offsets 0-3, then the abort marker at 4: nothing else.
      assert.equal(log.logEndOffset, 5);
      await log.close();
    }),
);

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
