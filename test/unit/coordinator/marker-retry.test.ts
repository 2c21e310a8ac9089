/**
 * The transaction coordinator's rules for each partition's answer to a marker (Kafka's
 * TransactionMarkerRequestCompletionHandler), on their own and driven through the coordinator on a mock clock
 * with scripted leaders: retried against the leader of the moment with a backoff from 100 ms to 1 s, dropped
 * when the topic is gone, fatal errors logged and not retried, and nothing sent once the coordinator lost its
 * `__transaction_state` partition or its coordinator epoch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MARKER_RETRY_BACKOFF_INITIAL_MS,
  MARKER_RETRY_BACKOFF_MAX_MS,
  markerOutcome,
  markerRetryBackoffMs,
  settleMarkerRound,
} from '../../../src/coordinator/transaction/marker-retry.js';
import {
  defaultTransactionSettings,
  TransactionCoordinator,
  type TransactionMarker,
} from '../../../src/coordinator/transaction/transaction-coordinator.js';
import { TransactionState } from '../../../src/coordinator/transaction/transaction-log-records.js';
import { ErrorCode, KafkaError } from '../../../src/protocol/errors.js';
import { deferred, InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

test('retriable answers are sent again, whatever the partition', () => {
  for (const code of [
    ErrorCode.NOT_LEADER_OR_FOLLOWER,
    ErrorCode.LEADER_NOT_AVAILABLE,
    ErrorCode.NOT_ENOUGH_REPLICAS,
    ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ErrorCode.REQUEST_TIMED_OUT,
    ErrorCode.KAFKA_STORAGE_ERROR,
    ErrorCode.NETWORK_EXCEPTION,
    ErrorCode.BROKER_NOT_AVAILABLE,
  ]) {
    assert.equal(markerOutcome(code, true), 'retry', `error ${code}`);
    assert.equal(markerOutcome(code, false), 'retry', `error ${code}`);
  }
});

test('UNKNOWN_TOPIC_OR_PARTITION is retried while the metadata has the partition, dropped once its topic is gone', () => {
  assert.equal(markerOutcome(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, true), 'retry');
  assert.equal(markerOutcome(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, false), 'drop');
});

test("fenced epochs stop the partition's markers; message format errors drop it; Kafka's fatal errors are fatal", () => {
  assert.equal(markerOutcome(ErrorCode.NONE, true), 'written');
  assert.equal(markerOutcome(ErrorCode.INVALID_PRODUCER_EPOCH, true), 'fenced');
  assert.equal(markerOutcome(ErrorCode.TRANSACTION_COORDINATOR_FENCED, true), 'fenced');
  assert.equal(markerOutcome(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, true), 'drop');
  assert.equal(markerOutcome(ErrorCode.UNSUPPORTED_VERSION, true), 'drop');
  for (const code of [
    ErrorCode.CORRUPT_MESSAGE,
    ErrorCode.MESSAGE_TOO_LARGE,
    ErrorCode.RECORD_LIST_TOO_LARGE,
    ErrorCode.INVALID_REQUIRED_ACKS,
    ErrorCode.UNKNOWN_SERVER_ERROR,
  ])
    assert.equal(markerOutcome(code, true), 'fatal', `error ${code}`);
});

test('the backoff starts at 100 ms, doubles each round and stays at 1 s', () => {
  assert.equal(MARKER_RETRY_BACKOFF_INITIAL_MS, 100);
  assert.equal(MARKER_RETRY_BACKOFF_MAX_MS, 1000);
  assert.deepEqual(
    Array.from({ length: 8 }, (_, round) => markerRetryBackoffMs(round)),
    [100, 200, 400, 800, 1000, 1000, 1000, 1000],
  );
  assert.equal(markerRetryBackoffMs(10_000), 1000);
});

test('a round is sorted per partition, looking up whether each unknown one still exists', () => {
  const outcome = settleMarkerRound(
    [
      { topic: 'a', partition: 0, errorCode: ErrorCode.NONE },
      { topic: 'a', partition: 1, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
      { topic: 'a', partition: 2, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      { topic: 'gone', partition: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      { topic: 'a', partition: 3, errorCode: ErrorCode.TRANSACTION_COORDINATOR_FENCED },
      { topic: 'a', partition: 4, errorCode: ErrorCode.CORRUPT_MESSAGE },
    ],
    (topic) => topic === 'a',
  );
  const names = (rs: Array<{ topic: string; partition: number }>) => rs.map((r) => `${r.topic}-${r.partition}`);
  assert.deepEqual(names(outcome.written), ['a-0']);
  assert.deepEqual(names(outcome.retry), ['a-1', 'a-2']);
  assert.deepEqual(names(outcome.dropped), ['gone-0']);
  assert.deepEqual(names(outcome.fenced), ['a-3']);
  assert.deepEqual(names(outcome.fatal), ['a-4']);
});

// ---- Through the coordinator ----

interface Sent {
  at: number;
  topic: string;
  partition: number;
  marker: TransactionMarker;
}

/** One coordinator, one `__transaction_state` partition, every data partition led by another (scripted) broker. */
class Cluster {
  readonly clock = new MockClock();
  readonly log = new InMemoryCoordinatorLog();
  readonly sent: Sent[] = [];
  /** Each partition's next answers, in order; NONE once they run out. */
  readonly answers = new Map<string, number[]>();
  readonly existing = new Set<string>(['orders-0', 'orders-1']);
  /** Partitions led by the coordinator's broker. */
  readonly local = new Set<string>();
  coordinatorEpoch = 0;
  leading = true;
  readonly errors: string[] = [];
  readonly coordinator = new TransactionCoordinator({
    settings: { ...defaultTransactionSettings(), stateLogNumPartitions: 1 },
    stateLog: () => (this.leading ? this.log : { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }),
    stateLogPartitionCount: () => 1,
    createStateTopic: async () => ErrorCode.NONE,
    // Partitions led by the coordinator's own broker: written in-process, refused with the partition's error.
    partitionLog: (topic, partition) =>
      this.local.has(`${topic}-${partition}`)
        ? {
            appendMarker: async (marker) => {
              this.sent.push({
                at: this.clock.now(),
                topic,
                partition,
                marker: { ...marker, committed: !marker.aborted },
              });
              const errorCode = this.answers.get(`${topic}-${partition}`)?.shift() ?? ErrorCode.NONE;
              if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) throw new Error('injected: the disk failed');
              if (errorCode !== ErrorCode.NONE) throw new KafkaError(errorCode);
            },
          }
        : null,
    partitionExists: (topic, partition) => this.existing.has(`${topic}-${partition}`),
    writeRemoteMarkers: async (partitions, marker) =>
      partitions.map(({ topic, partition }) => {
        this.sent.push({ at: this.clock.now(), topic, partition, marker });
        const errorCode = this.answers.get(`${topic}-${partition}`)?.shift() ?? ErrorCode.NONE;
        return { topic, partition, errorCode };
      }),
    syncWrites: false,
    coordinatorEpoch: () => this.coordinatorEpoch,
    producerIds: { nextProducerId: async () => 7n },
    onMarkerWritten: () => {},
    logger: quietLogger(this.errors),
    clock: this.clock,
  });

  /** A producer with an open transaction over `partitions`. */
  async open(
    id: string,
    partitions: Array<{ topic: string; partition: number }>,
  ): Promise<{ producerId: bigint; producerEpoch: number }> {
    await this.coordinator.start();
    const init = await this.coordinator.initProducerId(id, 60_000, { producerId: -1n, producerEpoch: -1 });
    assert.equal(init.errorCode, ErrorCode.NONE);
    assert.equal(await this.coordinator.addPartitions(id, init.producerId, init.producerEpoch, partitions), 0);
    return init;
  }

  state(id: string): TransactionState | undefined {
    return [...this.coordinator.list()].find((md) => md.transactionalId === id)?.state;
  }

  /** Moves the clock by `ms` and lets what it woke finish. */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.coordinator.idle();
  }
}

const ORDERS_0 = { topic: 'orders', partition: 0 };
const ORDERS_1 = { topic: 'orders', partition: 1 };

test(
  'a leader moving: EndTxn answers NONE once the Prepare record is committed, the marker is sent again with a ' +
    'growing backoff, and the transaction completes when a leader takes it',
  async () => {
    const c = new Cluster();
    const { producerId, producerEpoch } = await c.open('tx', [ORDERS_0, ORDERS_1]);
    c.answers.set('orders-0', [
      ErrorCode.NETWORK_EXCEPTION,
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.LEADER_NOT_AVAILABLE,
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.REQUEST_TIMED_OUT,
    ]);
    const start = c.clock.now();
    assert.equal(await c.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE);
    await c.coordinator.idle();
    assert.equal(c.state('tx'), TransactionState.PrepareCommit, 'still prepared: orders-0 has no marker yet');
    for (let i = 0; i < 60 && c.state('tx') !== TransactionState.CompleteCommit; i++) await c.advance(100);
    assert.equal(c.state('tx'), TransactionState.CompleteCommit);
    // orders-1 took its marker at once and was not sent it again; orders-0 was sent it seven times, each round
    // after the backoff of the one before.
    assert.deepEqual(
      c.sent.filter((s) => s.partition === 1).map((s) => s.at - start),
      [0],
    );
    const rounds = c.sent.filter((s) => s.partition === 0).map((s) => s.at - start);
    assert.deepEqual(rounds, [0, 100, 300, 700, 1500, 2500, 3500]);
    for (const s of c.sent) assert.deepEqual([s.marker.committed, s.marker.producerEpoch], [true, producerEpoch]);
    // Retried answers are not errors for the operator.
    assert.deepEqual(c.errors, []);
    await c.coordinator.close();
  },
);

test('a deleted topic is dropped from the round; the transaction completes without it', async () => {
  const c = new Cluster();
  const { producerId, producerEpoch } = await c.open('tx', [ORDERS_0, ORDERS_1]);
  c.existing.delete('orders-1');
  c.answers.set('orders-1', [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.equal(await c.coordinator.endTransaction('tx', producerId, producerEpoch, false), ErrorCode.NONE);
  assert.equal(c.state('tx'), TransactionState.CompleteAbort);
  assert.equal(c.sent.length, 2, 'one round');
  await c.coordinator.close();
});

test('a fatal answer is logged at ERROR and not retried: the transaction stays prepared', async () => {
  const c = new Cluster();
  const { producerId, producerEpoch } = await c.open('tx', [ORDERS_0]);
  c.answers.set('orders-0', [ErrorCode.CORRUPT_MESSAGE]);
  assert.equal(await c.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE);
  await c.advance(2000);
  assert.equal(c.state('tx'), TransactionState.PrepareCommit);
  assert.equal(c.sent.length, 1);
  assert.equal(c.errors.length, 1);
  assert.match(c.errors[0]!, /stays prepared/);
  await c.coordinator.close();
});

test(
  'a coordinator that lost its __transaction_state partition stops sending; the next one completes the ' +
    'transaction from its load',
  async () => {
    const c = new Cluster();
    const { producerId, producerEpoch } = await c.open('tx', [ORDERS_0]);
    c.answers.set('orders-0', [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    assert.equal(await c.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE);
    assert.equal(c.sent.length, 1);
    // The leadership moved: no longer the coordinator.
    c.leading = false;
    c.coordinator.unloadPartition(0);
    await c.advance(5000);
    assert.equal(c.sent.length, 1, 'no marker sent after the partition was lost');
    await c.coordinator.close();

    // The next coordinator replays the same log: the Prepare record makes it send the markers (the load path).
    const next = new Cluster();
    next.log.records.push(...c.log.records);
    next.coordinatorEpoch = 1;
    next.answers.set('orders-0', [ErrorCode.NOT_LEADER_OR_FOLLOWER]);
    await next.coordinator.start();
    await next.coordinator.idle();
    assert.equal(next.state('tx'), TransactionState.PrepareCommit);
    await next.advance(100);
    assert.equal(next.state('tx'), TransactionState.CompleteCommit);
    assert.deepEqual(
      next.sent.map((s) => s.marker.coordinatorEpoch),
      [1, 1],
      'sent under the new coordinator epoch',
    );
    // A retried EndTxn finds the transaction complete.
    assert.equal(await next.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE);
    await next.coordinator.close();
  },
);

test(
  'a coordinator epoch that changed under the rounds stops them, and EndTxn answers NOT_COORDINATOR when the ' +
    'partition is lost before any marker went',
  async () => {
    const c = new Cluster();
    const { producerId, producerEpoch } = await c.open('tx', [ORDERS_0]);
    c.answers.set('orders-0', [ErrorCode.NOT_ENOUGH_REPLICAS]);
    assert.equal(await c.coordinator.endTransaction('tx', producerId, producerEpoch, false), ErrorCode.NONE);
    c.coordinatorEpoch = 3;
    await c.advance(2000);
    assert.equal(c.sent.length, 1, 'a stale coordinator epoch sends nothing more');
    assert.equal(c.state('tx'), TransactionState.PrepareAbort);
    await c.coordinator.close();

    // Lost between the Prepare record and the first round: as Kafka, NOT_COORDINATOR (the client finds the next
    // coordinator, which completes the transaction from its load).
    const d = new Cluster();
    const second = await d.open('tx2', [ORDERS_0]);
    const gate = deferred();
    d.log.appendGate = gate.promise;
    const appends = d.log.appends;
    const ended = d.coordinator.endTransaction('tx2', second.producerId, second.producerEpoch, true);
    while (d.log.appends === appends) await new Promise((resolve) => setImmediate(resolve));
    // The Prepare record is being written when the leadership moves on (a new leader epoch of the partition).
    d.coordinatorEpoch = 5;
    d.log.appendGate = null;
    gate.resolve();
    assert.equal(await ended, ErrorCode.NOT_COORDINATOR);
    assert.equal(d.sent.length, 0);
    assert.equal(d.state('tx2'), TransactionState.PrepareCommit, 'the decision is in the log');
    await d.coordinator.close();
  },
);

test(
  'a marker in a partition led by the coordinator itself follows the same rules: refused for want of in-sync ' +
    'replicas or by a failed disk, it is written again until it is acknowledged',
  async () => {
    const c = new Cluster();
    c.local.add('orders-0');
    const { producerId, producerEpoch } = await c.open('tx', [ORDERS_0, ORDERS_1]);
    c.answers.set('orders-0', [
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      ErrorCode.UNKNOWN_SERVER_ERROR,
    ]);
    assert.equal(await c.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NONE);
    for (let i = 0; i < 20 && c.state('tx') !== TransactionState.CompleteCommit; i++) await c.advance(100);
    assert.equal(c.state('tx'), TransactionState.CompleteCommit);
    assert.deepEqual(
      c.sent.filter((s) => s.partition === 0).map((s) => s.at - c.sent[0]!.at),
      [0, 100, 300, 700],
    );
    // The failed disk is an error for the operator (a storage error, retried as KAFKA_STORAGE_ERROR).
    assert.equal(c.errors.length, 1);
    assert.match(c.errors[0]!, /could not write a transaction marker/);
    await c.coordinator.close();
  },
);
