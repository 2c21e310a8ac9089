/**
 * A failed write to `__transaction_state` on a running broker: the coordinator reloads the partition from its
 * log, the client is answered with a retriable error, and the transaction ends as the client asked once it
 * retries, its records read once under read_committed. The failure is injected into the partition log's append,
 * before or after the records reach the file (a failed fsync after a successful write).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/broker/broker.js';
import { TRANSACTION_STATE_TOPIC } from '../../src/cluster/topic-name.js';
import {
  readTransactionLogRecord,
  TransactionState,
} from '../../src/coordinator/transaction/transaction-log-records.js';
import { Logger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { RecordBatch } from '../../src/protocol/records/record-batch.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { consumeWithKcat, createTopics, PYTHON } from './clients.js';

const run = promisify(execFile);

type Fault = 'before-write' | 'after-write';

/** The next append to `__transaction_state` writing this state fails. */
let armed: { fault: Fault; state: TransactionState } | null = null;
let faultsHit = 0;
const originalAppend = PartitionLog.prototype.append;

function stateWritten(records: Buffer): number | undefined {
  for (const record of new RecordBatch(records).records()) {
    if (record.key === null) continue;
    return readTransactionLogRecord(record.key, record.value)?.value?.transactionStatus;
  }
  return undefined;
}

let broker: Broker;
let kafka: Kafka;
const logLines: string[] = [];
const reloads = () => logLines.filter((l) => l.includes('coordinator append failed')).length;

before(async () => {
  PartitionLog.prototype.append = async function (this: PartitionLog, records, options) {
    const hit = this.topic === TRANSACTION_STATE_TOPIC && armed !== null && stateWritten(records) === armed.state;
    if (!hit || !armed) return originalAppend.call(this, records, options);
    const { fault } = armed;
    armed = null;
    faultsHit++;
    if (fault === 'after-write') await originalAppend.call(this, records, options);
    throw new Error(`injected I/O error (${fault})`);
  };
  broker = await startBroker({
    transactions: { abortTimedOutIntervalMs: 100 },
    logger: new Logger('broker', { level: 'warn', sink: { write: (line) => void logLines.push(line) } }),
  });
  kafka = new Kafka({
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 50 },
  });
});

after(async () => {
  await broker.stop();
  PartitionLog.prototype.append = originalAppend;
});

async function committedValues(topic: string): Promise<Array<string | null>> {
  return (await consumeWithKcat(broker.bootstrap, topic, 0, 'read_committed')).map((r) => r.value);
}

for (const fault of ['before-write', 'after-write'] as const) {
  test(`KafkaJS: a failed AddPartitionsToTxn write (${fault}) is retried and the transaction commits once`, async () => {
    const topic = `txn-fault-add-${fault}`;
    await createTopics(kafka, [{ topic, numPartitions: 1 }]);
    const producer = kafka.producer({ transactionalId: topic, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const [hitBefore, reloadsBefore] = [faultsHit, reloads()];
    const txn = await producer.transaction();
    armed = { fault, state: TransactionState.Ongoing };
    await txn.send({ topic, messages: [{ value: 'one', partition: 0 }] });
    await txn.commit();
    assert.equal(faultsHit, hitBefore + 1, 'the fault was injected');
    assert.equal(reloads(), reloadsBefore + 1, 'the partition was reloaded');
    const second = await producer.transaction();
    await second.send({ topic, messages: [{ value: 'two', partition: 0 }] });
    await second.commit();
    await producer.disconnect();
    assert.deepEqual(await committedValues(topic), ['one', 'two']);
  });

  test(`confluent-kafka-python: a failed EndTxn write (${fault}) is retried and the transaction commits once`, async () => {
    const topic = `txn-fault-end-${fault}`;
    await createTopics(kafka, [{ topic, numPartitions: 1 }]);
    const [hitBefore, reloadsBefore] = [faultsHit, reloads()];
    armed = { fault, state: TransactionState.PrepareCommit };
    const script = join(import.meta.dirname, 'python', 'transactional_producer.py');
    const { stdout } = await run(PYTHON, [script, broker.bootstrap, topic, topic, 'commit:a1,a2', 'commit:b1'], {
      timeout: 60_000,
    });
    assert.equal(stdout.trim(), 'done');
    assert.equal(faultsHit, hitBefore + 1, 'the fault was injected');
    assert.equal(reloads(), reloadsBefore + 1, 'the partition was reloaded');
    assert.deepEqual(await committedValues(topic), ['a1', 'a2', 'b1']);
  });
}

test('KafkaJS, which does not retry EndTxn: the commit fails retriable, and a Prepare record written before the failure is completed by the reload', async () => {
  const topic = 'txn-fault-end-kafkajs';
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = kafka.producer({ transactionalId: topic, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic, messages: [{ value: 'one', partition: 0 }] });
  armed = { fault: 'after-write', state: TransactionState.PrepareCommit };
  await assert.rejects(txn.commit(), (error: { retriable?: boolean; code?: number }) => {
    assert.equal(error.code, ErrorCode.NOT_COORDINATOR);
    assert.equal(error.retriable, true);
    return true;
  });
  // The decision was in the log: the reload writes the markers, and read_committed sees the record.
  let values = await committedValues(topic);
  while (values.length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    values = await committedValues(topic);
  }
  assert.deepEqual(values, ['one']);
  await producer.disconnect();
});
