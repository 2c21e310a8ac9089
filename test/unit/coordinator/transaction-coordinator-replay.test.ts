/**
 * The transaction coordinator on the coordinator runtime, driven by random sequences of operations on a mock
 * clock and in-memory logs with injected faults: the state held always equals the state rebuilt by replaying
 * the records written, a failed append is answered with a retriable error and reloads the partition, and an
 * answer of NONE always matches the state and the markers written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  defaultTransactionSettings,
  TransactionCoordinator,
  type TransactionMetadata,
} from '../../../src/coordinator/transaction/transaction-coordinator.js';
import { TransactionState } from '../../../src/coordinator/transaction/transaction-log-records.js';
import { TransactionShard, transactionLogSerde } from '../../../src/coordinator/transaction/transaction-shard.js';
import { ErrorCode } from '../../../src/protocol/errors.js';
import type { TransactionWriteCheck } from '../../../src/storage/partition-log.js';
import { type AppendFault, InMemoryCoordinatorLog, MockClock, quietLogger } from './fakes.js';

const STATE_PARTITIONS = 2;
const IDS = ['tx-a', 'tx-b', 'tx-c'];
const DATA_PARTITIONS = [
  { topic: 'orders', partition: 0 },
  { topic: 'orders', partition: 1 },
  { topic: 'payments', partition: 0 },
];
const ABORT_TIMED_OUT_INTERVAL_MS = 100;
/** Answers a client retries: the coordinator moved, is loading, or is busy ending a transaction. */
const RETRIABLE = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.CONCURRENT_TRANSACTIONS,
]);

interface Marker {
  topic: string;
  partition: number;
  producerId: bigint;
  producerEpoch: number;
  aborted: boolean;
}

type Action =
  | { kind: 'init'; id: number; timeoutMs: number; expected: 'none' | 'current' | 'stale' }
  | { kind: 'add'; id: number; partitions: number[]; epoch: 'current' | 'stale' }
  | { kind: 'end'; id: number; commit: boolean; epoch: 'current' | 'stale' }
  | { kind: 'advance'; ms: number }
  | { kind: 'failAppend'; id: number; fault: AppendFault }
  | { kind: 'failMarker'; partition: number }
  | { kind: 'restart' };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('init' as const),
      id: fc.nat(IDS.length - 1),
      timeoutMs: fc.integer({ min: 50, max: 1000 }),
      expected: fc.constantFrom('none' as const, 'current' as const, 'stale' as const),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      id: fc.nat(IDS.length - 1),
      partitions: fc.uniqueArray(fc.nat(DATA_PARTITIONS.length - 1), { minLength: 1 }),
      epoch: fc.constantFrom('current' as const, 'current' as const, 'stale' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('end' as const),
      id: fc.nat(IDS.length - 1),
      commit: fc.boolean(),
      epoch: fc.constantFrom('current' as const, 'current' as const, 'stale' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('failAppend' as const),
      id: fc.nat(IDS.length - 1),
      fault: fc.constantFrom('before-write' as const, 'after-write' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('failMarker' as const), partition: fc.nat(DATA_PARTITIONS.length - 1) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** A transactional id's metadata as comparable plain data. */
/** A write check's error code; coordinated here, the coordinator answers at once. */
function verdict(check: TransactionWriteCheck | Promise<TransactionWriteCheck>): number {
  assert.ok(!(check instanceof Promise), 'a transaction coordinated here is checked at once');
  return check.errorCode;
}

function normalize(md: TransactionMetadata): unknown {
  return {
    producerId: md.producerId.toString(),
    lastProducerId: md.lastProducerId.toString(),
    producerEpoch: md.producerEpoch,
    lastProducerEpoch: md.lastProducerEpoch,
    timeoutMs: md.timeoutMs,
    state: md.state,
    partitions: [...md.partitions]
      .map(([topic, ids]) => [topic, [...ids].sort((a, b) => a - b)] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
    startTimestamp: md.startTimestamp,
    lastUpdateTimestamp: md.lastUpdateTimestamp,
  };
}

function stateOf(mds: Iterable<TransactionMetadata>): Map<string, unknown> {
  return new Map(
    [...mds].map((md) => [md.transactionalId, normalize(md)] as const).sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * The state a fresh load builds from what a log holds, bytes decoded as at start-up. The logs only grow, so
 * the replay goes on from where it was.
 */
class Replayed {
  readonly shard = new TransactionShard();
  private replayedCount = 0;

  constructor(private readonly log: InMemoryCoordinatorLog) {}

  catchUp(): TransactionShard {
    for (; this.replayedCount < this.log.records.length; this.replayedCount++) {
      const r = this.log.records[this.replayedCount]!;
      const record = transactionLogSerde.deserialize(r.key, r.value);
      if (record) this.shard.replay(record);
    }
    return this.shard;
  }
}

class World {
  readonly clock = new MockClock();
  readonly logs = Array.from({ length: STATE_PARTITIONS }, () => new InMemoryCoordinatorLog());
  readonly replayed = this.logs.map((log) => new Replayed(log));
  readonly markers: Marker[] = [];
  readonly failMarker = new Set<string>();
  nextProducerId = 1000n;
  coordinator = this.newCoordinator();
  /** What each client last got from InitProducerId. */
  readonly clients = new Map<string, { producerId: bigint; producerEpoch: number }>();

  newCoordinator(): TransactionCoordinator {
    return new TransactionCoordinator({
      settings: {
        ...defaultTransactionSettings(),
        stateLogNumPartitions: STATE_PARTITIONS,
        abortTimedOutIntervalMs: ABORT_TIMED_OUT_INTERVAL_MS,
        removeExpiredIntervalMs: 1000,
        transactionalIdExpirationMs: 5000,
      },
      stateLog: (p) => this.logs[p] ?? { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
      stateLogPartitionCount: () => STATE_PARTITIONS,
      createStateTopic: async () => ErrorCode.NONE,
      partitionLog: (topic, partition) => ({
        appendMarker: async (marker) => {
          const key = `${topic}-${partition}`;
          if (this.failMarker.delete(key)) throw new Error('injected: marker write failed');
          this.markers.push({ topic, partition, ...marker });
          return { baseOffset: 0, lastOffset: 0, logAppendTime: -1 } as never;
        },
      }),
      syncWrites: false,
      coordinatorEpoch: () => 0,
      producerIds: { nextProducerId: async () => this.nextProducerId++ },
      onMarkerWritten: () => {},
      logger: quietLogger(),
      clock: this.clock,
    });
  }

  held(id: string): TransactionMetadata | undefined {
    return [...this.coordinator.list()].find((md) => md.transactionalId === id);
  }

  /** The transactional ids held in PrepareCommit or PrepareAbort. */
  prepared(): string[] {
    return [...this.coordinator.list()]
      .filter((md) => md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort)
      .map((md) => md.transactionalId);
  }

  /** The producer id and epoch a call uses: the client's own, or one from before (a zombie). */
  producer(id: string, which: 'current' | 'stale'): { producerId: bigint; producerEpoch: number } {
    const client = this.clients.get(id) ?? { producerId: 999n, producerEpoch: 0 };
    return which === 'current' ? client : { producerId: client.producerId, producerEpoch: client.producerEpoch - 1 };
  }

  checkReplay(): void {
    for (let p = 0; p < STATE_PARTITIONS; p++) {
      const held = [...this.coordinator.list()].filter((md) => this.coordinator.partitionFor(md.transactionalId) === p);
      assert.deepEqual(stateOf(held), stateOf(this.replayed[p]!.catchUp().transactions.values()), `partition ${p}`);
    }
  }

  /** Every Complete record follows a Prepare whose markers were all written with its producer and epoch. */
  checkMarkers(): void {
    for (const log of this.logs) {
      const prepared = new Map<string, TransactionMetadata>();
      const shard = new TransactionShard();
      for (const r of log.records) {
        const record = transactionLogSerde.deserialize(r.key, r.value);
        if (!record) continue;
        shard.replay(record);
        const md = shard.get(record.transactionalId);
        if (!md) continue;
        if (md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort)
          prepared.set(md.transactionalId, { ...md, partitions: new Map(md.partitions) });
        if (md.state === TransactionState.CompleteCommit || md.state === TransactionState.CompleteAbort) {
          const before = prepared.get(md.transactionalId);
          assert.ok(before, `${md.transactionalId} completed without being prepared`);
          const aborted = md.state === TransactionState.CompleteAbort;
          assert.equal(before.state === TransactionState.PrepareAbort, aborted);
          for (const [topic, ids] of before.partitions)
            for (const partition of ids)
              assert.ok(
                this.markers.some(
                  (m) =>
                    m.topic === topic &&
                    m.partition === partition &&
                    m.producerId === before.producerId &&
                    m.producerEpoch === before.producerEpoch &&
                    m.aborted === aborted,
                ),
                `marker of ${md.transactionalId} in ${topic}-${partition}`,
              );
          prepared.delete(md.transactionalId);
        }
      }
    }
  }

  async run(a: Action): Promise<void> {
    const id = a.kind === 'init' || a.kind === 'add' || a.kind === 'end' ? IDS[a.id]! : '';
    const log = id === '' ? undefined : this.logs[this.coordinator.partitionFor(id)];
    const armed = log?.nextFault !== null && log?.nextFault !== undefined;
    let answer: number = ErrorCode.NONE;
    switch (a.kind) {
      case 'init': {
        const expected =
          a.expected === 'none'
            ? { producerId: -1n, producerEpoch: -1 }
            : this.producer(id, a.expected === 'current' ? 'current' : 'stale');
        const result = await this.coordinator.initProducerId(id, a.timeoutMs, expected);
        answer = result.errorCode;
        if (answer === ErrorCode.NONE) {
          this.clients.set(id, { producerId: result.producerId, producerEpoch: result.producerEpoch });
          const md = this.held(id);
          assert.equal(md?.producerId, result.producerId);
          assert.equal(md?.producerEpoch, result.producerEpoch);
          assert.equal(md?.state, TransactionState.Empty);
        }
        break;
      }
      case 'add': {
        const { producerId, producerEpoch } = this.producer(id, a.epoch);
        const partitions = a.partitions.map((i) => DATA_PARTITIONS[i]!);
        answer = await this.coordinator.addPartitions(id, producerId, producerEpoch, partitions);
        if (answer === ErrorCode.NONE) {
          const md = this.held(id);
          assert.equal(md?.state, TransactionState.Ongoing);
          assert.equal(md?.producerEpoch, producerEpoch);
          for (const p of partitions) assert.ok(md?.partitions.get(p.topic)?.has(p.partition));
          for (const p of partitions)
            assert.equal(
              verdict(
                this.coordinator.checkTransactionalWrite(id, producerId, producerEpoch, p.topic, p.partition, false),
              ),
              0,
            );
        }
        break;
      }
      case 'end': {
        const { producerId, producerEpoch } = this.producer(id, a.epoch);
        const before = this.held(id);
        answer = await this.coordinator.endTransaction(id, producerId, producerEpoch, a.commit);
        if (answer === ErrorCode.NONE) {
          const md = this.held(id);
          // Complete, or (Kafka's answer once the Prepare record is committed) prepared with the same decision
          // while a marker the first round could not write is sent again.
          const prepared = a.commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort;
          const completed = a.commit ? TransactionState.CompleteCommit : TransactionState.CompleteAbort;
          assert.ok(md?.state === completed || md?.state === prepared, `state ${md?.state} after EndTxn`);
          assert.equal(md?.producerEpoch, producerEpoch);
          if (md?.state === completed && before?.state === TransactionState.Ongoing)
            for (const [topic, ids] of before.partitions)
              for (const partition of ids)
                assert.ok(
                  this.markers.some(
                    (m) =>
                      m.topic === topic &&
                      m.partition === partition &&
                      m.producerEpoch === producerEpoch &&
                      m.aborted === !a.commit,
                  ),
                );
        }
        break;
      }
      case 'advance':
        this.clock.advance(a.ms);
        break;
      case 'failAppend': {
        const target = this.logs[this.coordinator.partitionFor(IDS[a.id]!)]!;
        target.nextFault = a.fault;
        break;
      }
      case 'failMarker': {
        const p = DATA_PARTITIONS[a.partition]!;
        this.failMarker.add(`${p.topic}-${p.partition}`);
        break;
      }
      case 'restart':
        await this.coordinator.close();
        this.coordinator = this.newCoordinator();
        await this.coordinator.start();
        break;
    }
    await this.coordinator.idle();
    if (armed && log?.nextFault === null) {
      // The injected fault hit one of this call's appends: the client must be told to retry, never NONE.
      assert.ok(RETRIABLE.has(answer), `answer ${answer} after a failed append`);
    }
    this.checkReplay();
  }
}

test('transaction coordinator: the state held equals the replay of the records written, faults included', async () => {
  let runs = 0;
  let reloads = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 40 }), async (actions) => {
      runs++;
      const world = new World();
      await world.coordinator.start();
      for (const a of actions) {
        const appendsBefore = world.logs.map((l) => l.nextFault);
        await world.run(a);
        reloads += world.logs.filter((l, i) => appendsBefore[i] !== null && l.nextFault === null).length;
      }
      world.checkMarkers();
      // Liveness: once the partitions take markers again, every prepared transaction completes (the rounds
      // retry on the coordinator's clock, at most a second apart).
      world.failMarker.clear();
      for (let i = 0; i < 5 && world.prepared().length > 0; i++) {
        world.clock.advance(1000);
        await world.coordinator.idle();
      }
      assert.deepEqual(world.prepared(), [], 'transactions left prepared');
      world.checkMarkers();
      world.checkReplay();
      await world.coordinator.close();
    }),
    { numRuns: 2000 },
  );
  assert.equal(runs, 2000);
  assert.ok(reloads > 100, `faults hit appends in ${reloads} cases`);
});

test('while a failed write reloads the partition, produce and TxnOffsetCommit checks answer retriable errors, then serve again', async () => {
  const world = new World();
  await world.coordinator.start();
  const id = IDS[0]!;
  const { producerId, producerEpoch } = await world.coordinator.initProducerId(id, 1000, {
    producerId: -1n,
    producerEpoch: -1,
  });
  const orders = DATA_PARTITIONS[0]!;
  assert.equal(await world.coordinator.addPartitions(id, producerId, producerEpoch, [orders]), ErrorCode.NONE);
  const log = world.logs[world.coordinator.partitionFor(id)]!;
  let releaseLoad!: () => void;
  log.replayGate = new Promise<void>((resolve) => {
    releaseLoad = resolve;
  });
  log.nextFault = 'after-write';
  const added = await world.coordinator.addPartitions(id, producerId, producerEpoch, [DATA_PARTITIONS[1]!]);
  assert.equal(added, ErrorCode.NOT_COORDINATOR);
  const writeCheck = () =>
    verdict(
      world.coordinator.checkTransactionalWrite(id, producerId, producerEpoch, orders.topic, orders.partition, false),
    );
  assert.equal(writeCheck(), ErrorCode.NOT_ENOUGH_REPLICAS);
  assert.equal(
    world.coordinator.offsetCommitError(id, producerId, producerEpoch, 0),
    ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  );
  assert.equal(
    await world.coordinator.endTransaction(id, producerId, producerEpoch, true),
    ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  );
  log.replayGate = null;
  releaseLoad();
  await world.coordinator.idle();
  assert.equal(writeCheck(), ErrorCode.NONE);
  // The record written before the failure is part of the state now, as the log says.
  assert.ok(world.held(id)?.partitions.get(DATA_PARTITIONS[1]!.topic)?.has(DATA_PARTITIONS[1]!.partition));
  world.checkReplay();
  await world.coordinator.close();
});
