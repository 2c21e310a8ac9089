import type { ProducerIdManager } from '../../cluster/producer-ids.js';
import type { Logger } from '../../observability/logger.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { TransactionLogValue } from '../../protocol/generated/internal/transaction-log-value.js';
import { DecodeError } from '../../protocol/primitives/index.js';
import { buildRecordBatch } from '../../protocol/records/record-batch-builder.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { ProducerStateError } from '../../storage/producer-state.js';
import { partitionForGroup } from '../group/offsets-records.js';
import { replayCoordinatorLog } from '../replay-log.js';
import {
  readTransactionLogRecord,
  TransactionState,
  transactionLogKey,
  transactionLogValue,
} from './transaction-log-records.js';

/** The transaction coordinator's configs (transaction.* broker configs). */
export interface TransactionSettings {
  /** transaction.state.log.num.partitions */
  stateLogNumPartitions: number;
  /** transaction.state.log.replication.factor */
  stateLogReplicationFactor: number;
  /** transaction.max.timeout.ms: the longest transaction.timeout.ms a producer may ask for. */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms: an idle transactional id is forgotten after this long. */
  transactionalIdExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  abortTimedOutIntervalMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredIntervalMs: number;
}

export function defaultTransactionSettings(): TransactionSettings {
  return {
    stateLogNumPartitions: 50,
    stateLogReplicationFactor: 3,
    maxTimeoutMs: 900_000,
    transactionalIdExpirationMs: 604_800_000,
    abortTimedOutIntervalMs: 10_000,
    removeExpiredIntervalMs: 3_600_000,
  };
}

export interface TransactionCoordinatorDeps {
  settings: TransactionSettings;
  /** Appends must wait for fsync (the broker's acks=all policy). */
  syncWrites: boolean;
  /** The log of a partition of `__transaction_state` led here, or Kafka's error for it. */
  stateLog(partition: number): PartitionLog | { errorCode: number };
  /** Partition count of `__transaction_state`, or null before it exists. */
  stateLogPartitionCount(): number | null;
  createStateTopic(numPartitions: number): Promise<number>;
  /** The log of a data partition led here (markers are written to it), or null. */
  partitionLog(topic: string, partition: number): PartitionLog | null;
  /** The coordinator epoch written into markers: the leader epoch of the transaction's state partition. */
  coordinatorEpoch(partition: number): number;
  producerIds: ProducerIdManager;
  /** Called after a marker is written, so that the group coordinator can settle transactional offsets. */
  onMarkerWritten(topic: string, partition: number, producerId: bigint, committed: boolean): void;
  logger: Logger;
  now?: () => number;
}

/** What the coordinator knows of one transactional id (Kafka's TransactionMetadata). */
export interface TransactionMetadata {
  transactionalId: string;
  producerId: bigint;
  /** The producer id before the last epoch overflow gave a new one (-1: none). */
  lastProducerId: bigint;
  producerEpoch: number;
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TransactionState;
  /** Partitions in the transaction, as `topic` -> partition ids. */
  partitions: Map<string, Set<number>>;
  /** When the transaction started (first partition added), or -1. */
  startTimestamp: number;
  lastUpdateTimestamp: number;
}

/** Kafka bumps to a new producer id before the epoch reaches Short.MAX_VALUE. */
const MAX_PRODUCER_EPOCH = 32_766;

export type InitProducerIdResult = { errorCode: number; producerId: bigint; producerEpoch: number };

/**
 * Kafka's transaction coordinator: gives transactional producers their id and epoch (fencing older instances
 * of the same transactional id), tracks the partitions of each transaction, and ends it by writing COMMIT or
 * ABORT markers to every one of them. Every state change is written to the transactional id's partition of
 * `__transaction_state` (hash(id) mod N, as for groups) in Kafka's record format and replayed at start-up;
 * a transaction found half-ended (PrepareCommit/PrepareAbort) is completed then.
 *
 * Markers are written before EndTxn is answered (Kafka answers after the Prepare record and writes them in the
 * background): with the partitions on this broker this costs little and leaves no window in which a client
 * sees CONCURRENT_TRANSACTIONS for its next transaction.
 */
export class TransactionCoordinator {
  private readonly txns = new Map<string, TransactionMetadata>();
  /** Per transactional id, the operation in progress: operations on one id run one at a time. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly loaded = new Set<number>();
  private creatingTopic: Promise<number> | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: TransactionCoordinatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  get settings(): TransactionSettings {
    return this.deps.settings;
  }

  /**
   * Loads the transactions of every partition of `__transaction_state` led here. The periodic tasks
   * (`abortTimedOutTransactions`, `removeExpiredTransactionalIds`) are the broker's to schedule, with its other
   * background work, so that a stop waits for them before the logs close.
   */
  async start(): Promise<void> {
    const count = this.deps.stateLogPartitionCount();
    if (count !== null) for (let p = 0; p < count; p++) await this.load(p);
  }

  partitionFor(transactionalId: string): number {
    return partitionForGroup(
      transactionalId,
      this.deps.stateLogPartitionCount() ?? this.settings.stateLogNumPartitions,
    );
  }

  /** FindCoordinator with key type TRANSACTION: creates `__transaction_state` on first use. NONE means here. */
  async findCoordinator(transactionalId: string): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    if (this.deps.stateLogPartitionCount() === null) {
      this.creatingTopic ??= this.deps.createStateTopic(this.settings.stateLogNumPartitions).finally(() => {
        this.creatingTopic = null;
      });
      const errorCode = await this.creatingTopic;
      if (errorCode !== ErrorCode.NONE && errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS)
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    return this.coordinatorError(transactionalId);
  }

  /** NONE when this broker coordinates the transactional id (loading its partition first if needed). */
  private async coordinatorError(transactionalId: string): Promise<number> {
    if (this.deps.stateLogPartitionCount() === null) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const partition = this.partitionFor(transactionalId);
    const log = this.deps.stateLog(partition);
    if ('errorCode' in log)
      return log.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER
        ? ErrorCode.NOT_COORDINATOR
        : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!this.loaded.has(partition)) await this.load(partition);
    return ErrorCode.NONE;
  }

  /** Runs `op` after every earlier operation on the same transactional id. */
  private withLock<T>(transactionalId: string, op: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(transactionalId) ?? Promise.resolve();
    const next = previous.then(op, op);
    const tail = next.catch(() => {});
    this.locks.set(transactionalId, tail);
    void tail.then(() => {
      if (this.locks.get(transactionalId) === tail) this.locks.delete(transactionalId);
    });
    return next;
  }

  // ---- Loading ----

  private async load(partition: number): Promise<void> {
    if (this.loaded.has(partition)) return;
    this.loaded.add(partition);
    const log = this.deps.stateLog(partition);
    if ('errorCode' in log) return;
    const values = new Map<string, TransactionLogValue | null>();
    // A corrupt batch is skipped (and told), so that the transactional ids load from what is valid.
    await replayCoordinatorLog(
      log,
      (batch) => {
        if (batch.isControl) return;
        for (const record of batch.records()) {
          if (record.key === null) continue;
          try {
            const parsed = readTransactionLogRecord(record.key, record.value);
            if (parsed) values.set(parsed.transactionalId, parsed.value);
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
            this.deps.logger.warn('skipping an unreadable record', { partition, offset: record.offset.toString() });
          }
        }
      },
      this.deps.logger,
    );
    const unfinished: TransactionMetadata[] = [];
    for (const [transactionalId, value] of values) {
      if (!value) continue;
      const partitions = new Map<string, Set<number>>();
      for (const t of value.transactionPartitions ?? []) partitions.set(t.topic, new Set(t.partitionIds));
      const md: TransactionMetadata = {
        transactionalId,
        producerId: value.producerId,
        lastProducerId: -1n,
        producerEpoch: value.producerEpoch,
        lastProducerEpoch: -1,
        timeoutMs: value.transactionTimeoutMs,
        state: value.transactionStatus as TransactionState,
        partitions,
        startTimestamp: Number(value.transactionStartTimestampMs),
        lastUpdateTimestamp: Number(value.transactionLastUpdateTimestampMs),
      };
      this.txns.set(transactionalId, md);
      if (md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort)
        unfinished.push(md);
    }
    // The markers of these may not all have been written before the broker stopped: write them (again).
    for (const md of unfinished) {
      await this.withLock(md.transactionalId, () => this.complete(md, md.state === TransactionState.PrepareCommit));
    }
    if (values.size > 0) this.deps.logger.info('transactions loaded', { partition, transactionalIds: values.size });
  }

  // ---- Writes ----

  private async persist(md: TransactionMetadata): Promise<number> {
    const log = this.deps.stateLog(this.partitionFor(md.transactionalId));
    if ('errorCode' in log) return ErrorCode.NOT_COORDINATOR;
    const value = transactionLogValue({
      producerId: md.producerId,
      producerEpoch: md.producerEpoch,
      transactionTimeoutMs: md.timeoutMs,
      transactionStatus: md.state,
      transactionPartitions: [...md.partitions].map(([topic, ids]) => ({ topic, partitionIds: [...ids] })),
      transactionLastUpdateTimestampMs: BigInt(md.lastUpdateTimestamp),
      transactionStartTimestampMs: BigInt(md.startTimestamp),
    });
    const batch = buildRecordBatch([
      { key: transactionLogKey(md.transactionalId), value, timestamp: BigInt(this.now()) },
    ]);
    try {
      await log.append(batch, { sync: this.deps.syncWrites, recordCount: 1 });
      return ErrorCode.NONE;
    } catch (error) {
      this.deps.logger.error('write to the transaction log failed', { error: error as Error });
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** Changes `md` by `change`, writes it, and undoes the change if the write fails. */
  private async transition(md: TransactionMetadata, change: () => void): Promise<number> {
    const before = { ...md, partitions: new Map([...md.partitions].map(([t, s]) => [t, new Set(s)])) };
    change();
    md.lastUpdateTimestamp = this.now();
    const errorCode = await this.persist(md);
    if (errorCode !== ErrorCode.NONE) Object.assign(md, before);
    return errorCode;
  }

  /** Writes PrepareCommit/PrepareAbort, the markers, then CompleteCommit/CompleteAbort. */
  private async complete(md: TransactionMetadata, commit: boolean): Promise<number> {
    const prepare = commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort;
    if (md.state !== prepare) {
      const errorCode = await this.transition(md, () => {
        md.state = prepare;
      });
      if (errorCode !== ErrorCode.NONE) return errorCode;
    }
    const coordinatorEpoch = this.deps.coordinatorEpoch(this.partitionFor(md.transactionalId));
    for (const [topic, ids] of md.partitions) {
      for (const partition of ids) {
        const log = this.deps.partitionLog(topic, partition);
        if (!log) continue; // deleted since: nothing to mark
        try {
          await log.appendMarker(
            { producerId: md.producerId, producerEpoch: md.producerEpoch, coordinatorEpoch, aborted: !commit },
            { sync: this.deps.syncWrites },
          );
          this.deps.onMarkerWritten(topic, partition, md.producerId, commit);
        } catch (error) {
          if (!(error instanceof ProducerStateError)) {
            // The partition's log failed: the transaction stays prepared and the periodic task retries.
            this.deps.logger.error('could not write a transaction marker', { topic, partition, error: error as Error });
            return ErrorCode.COORDINATOR_NOT_AVAILABLE;
          }
          this.deps.logger.warn('transaction marker refused', { topic, partition, reason: error.message });
        }
      }
    }
    return this.transition(md, () => {
      md.state = commit ? TransactionState.CompleteCommit : TransactionState.CompleteAbort;
      md.partitions = new Map();
      md.startTimestamp = -1;
    });
  }

  /** The id's next epoch; past the epoch limit, a new producer id at epoch 0. Applied by `applyBump`. */
  private async nextEpoch(md: TransactionMetadata): Promise<{ producerId: bigint; producerEpoch: number }> {
    if (md.producerEpoch < MAX_PRODUCER_EPOCH)
      return { producerId: md.producerId, producerEpoch: md.producerEpoch + 1 };
    return { producerId: await this.deps.producerIds.nextProducerId(), producerEpoch: 0 };
  }

  private applyBump(md: TransactionMetadata, next: { producerId: bigint; producerEpoch: number }): void {
    md.lastProducerEpoch = md.producerEpoch;
    if (next.producerId !== md.producerId) md.lastProducerId = md.producerId;
    md.producerId = next.producerId;
    md.producerEpoch = next.producerEpoch;
  }

  // ---- The APIs ----

  /**
   * InitProducerId with a transactional id. A new id gets a producer id at epoch 0; a known one gets its epoch
   * bumped, which fences any older producer instance. An open transaction is aborted first, and the client is
   * told CONCURRENT_TRANSACTIONS so that it retries once the abort is done. With a producer id and epoch in the
   * request (KIP-360), they must be the current ones.
   */
  async initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: bigint; producerEpoch: number },
  ): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    if (timeoutMs <= 0 || timeoutMs > this.settings.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const coordinatorError = await this.coordinatorError(transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return fail(coordinatorError);
    return this.withLock(transactionalId, async () => {
      let md = this.txns.get(transactionalId);
      if (!md) {
        md = {
          transactionalId,
          producerId: await this.deps.producerIds.nextProducerId(),
          lastProducerId: -1n,
          producerEpoch: 0,
          lastProducerEpoch: -1,
          timeoutMs,
          state: TransactionState.Empty,
          partitions: new Map(),
          startTimestamp: -1,
          lastUpdateTimestamp: this.now(),
        };
        const errorCode = await this.persist(md);
        if (errorCode !== ErrorCode.NONE) return fail(errorCode);
        this.txns.set(transactionalId, md);
        return { errorCode, producerId: md.producerId, producerEpoch: 0 };
      }
      if (expected.producerId >= 0n) {
        const current = expected.producerId === md.producerId && expected.producerEpoch === md.producerEpoch;
        // A retry of a bump whose answer was lost: it names the id and epoch from before that bump.
        const retry =
          (expected.producerId === md.producerId || expected.producerId === md.lastProducerId) &&
          expected.producerEpoch === md.lastProducerEpoch &&
          md.state === TransactionState.Empty;
        if (retry) return { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch };
        if (!current) return fail(ErrorCode.PRODUCER_FENCED);
      }
      switch (md.state) {
        case TransactionState.PrepareCommit:
        case TransactionState.PrepareAbort:
        case TransactionState.PrepareEpochFence:
        case TransactionState.Dead:
          return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
        case TransactionState.Ongoing: {
          // Fence the running producer with a new epoch, then abort its transaction under that epoch.
          this.applyBump(md, await this.nextEpoch(md));
          await this.complete(md, false);
          return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
        }
        default: {
          const target = md;
          const next = await this.nextEpoch(target);
          const errorCode = await this.transition(target, () => {
            this.applyBump(target, next);
            target.timeoutMs = timeoutMs;
            target.state = TransactionState.Empty;
            target.partitions = new Map();
            target.startTimestamp = -1;
          });
          if (errorCode !== ErrorCode.NONE) return fail(errorCode);
          return { errorCode: ErrorCode.NONE, producerId: target.producerId, producerEpoch: target.producerEpoch };
        }
      }
    });
  }

  /** The checks every call of a running producer passes: known id, same producer id, current epoch. */
  private producerError(md: TransactionMetadata | undefined, producerId: bigint, producerEpoch: number): number {
    if (!md || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    return ErrorCode.NONE;
  }

  /**
   * Runs `op` on the id's metadata, under its lock, once this broker is known to coordinate the id and the
   * caller is its current producer (else the error: not coordinator, unknown id or producer, fenced epoch).
   */
  private async withCurrentProducer(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    op: (md: TransactionMetadata) => Promise<number> | number,
  ): Promise<number> {
    const coordinatorError = await this.coordinatorError(transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return coordinatorError;
    return this.withLock(transactionalId, async () => {
      const md = this.txns.get(transactionalId);
      const error = this.producerError(md, producerId, producerEpoch);
      if (error !== ErrorCode.NONE || !md) return error;
      return op(md);
    });
  }

  /**
   * AddPartitionsToTxn (and AddOffsetsToTxn, which adds the group's partition of `__consumer_offsets`):
   * starts the transaction if needed and records the partitions. Returns one error for all of them.
   */
  async addPartitions(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: Array<{ topic: string; partition: number }>,
  ): Promise<number> {
    return this.withCurrentProducer(transactionalId, producerId, producerEpoch, (md) => {
      if (md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort)
        return ErrorCode.CONCURRENT_TRANSACTIONS;
      if (md.state === TransactionState.PrepareEpochFence || md.state === TransactionState.Dead)
        return ErrorCode.INVALID_TXN_STATE;
      const added = partitions.filter((p) => !md.partitions.get(p.topic)?.has(p.partition));
      if (added.length === 0 && md.state === TransactionState.Ongoing) return ErrorCode.NONE;
      return this.transition(md, () => {
        if (md.state !== TransactionState.Ongoing) {
          md.state = TransactionState.Ongoing;
          md.startTimestamp = this.now();
        }
        for (const p of added) {
          let ids = md.partitions.get(p.topic);
          if (!ids) {
            ids = new Set();
            md.partitions.set(p.topic, ids);
          }
          ids.add(p.partition);
        }
      });
    });
  }

  /** EndTxn: commits or aborts the open transaction; a retry of a finished one succeeds again. */
  async endTransaction(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
  ): Promise<number> {
    return this.withCurrentProducer(transactionalId, producerId, producerEpoch, (md) => {
      switch (md.state) {
        case TransactionState.Ongoing:
          return this.complete(md, commit);
        case TransactionState.CompleteCommit:
          return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
        case TransactionState.CompleteAbort:
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
        case TransactionState.PrepareCommit:
          return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
        case TransactionState.PrepareAbort:
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
        default:
          return ErrorCode.INVALID_TXN_STATE;
      }
    });
  }

  /**
   * Whether a transactional batch may be written: its producer is the current one of an open transaction that
   * holds the partition. Without this check a batch the coordinator does not know of would leave a transaction
   * open in the partition that nobody ends, holding the last stable offset back forever (Kafka's KIP-890 check).
   */
  transactionalWriteError(
    transactionalId: string | null,
    producerId: bigint,
    producerEpoch: number,
    topic: string,
    partition: number,
  ): number {
    const md = transactionalId === null ? undefined : this.txns.get(transactionalId);
    if (!md || md.producerId !== producerId) return ErrorCode.INVALID_TXN_STATE;
    if (producerEpoch < md.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (md.state !== TransactionState.Ongoing || !md.partitions.get(topic)?.has(partition))
      return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /** Whether a TxnOffsetCommit comes from the current producer of an open transaction holding the group. */
  offsetCommitError(transactionalId: string, producerId: bigint, producerEpoch: number): number {
    const md = this.txns.get(transactionalId);
    const error = this.producerError(md, producerId, producerEpoch);
    if (error !== ErrorCode.NONE) return error;
    return md?.state === TransactionState.Ongoing ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
  }

  /**
   * Aborts transactions open longer than their timeout, bumping the epoch first so that the producer that
   * let it run out is fenced (its next request fails). Also finishes transactions whose markers could not be
   * written earlier.
   */
  async abortTimedOutTransactions(): Promise<void> {
    const now = this.now();
    for (const md of [...this.txns.values()]) {
      const timedOut = md.state === TransactionState.Ongoing && md.startTimestamp + md.timeoutMs < now;
      const stuck = md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort;
      if (!timedOut && !stuck) continue;
      await this.withLock(md.transactionalId, async () => {
        if (md.state === TransactionState.Ongoing && md.startTimestamp + md.timeoutMs < this.now()) {
          this.deps.logger.info('aborting a timed out transaction', { transactionalId: md.transactionalId });
          this.applyBump(md, await this.nextEpoch(md));
          await this.complete(md, false);
        } else if (md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort) {
          await this.complete(md, md.state === TransactionState.PrepareCommit);
        }
      });
    }
  }

  /** Forgets transactional ids idle past transactional.id.expiration.ms (a tombstone in the log). */
  async removeExpiredTransactionalIds(): Promise<void> {
    const now = this.now();
    for (const md of [...this.txns.values()]) {
      const idle =
        md.state === TransactionState.Empty ||
        md.state === TransactionState.CompleteCommit ||
        md.state === TransactionState.CompleteAbort;
      if (!idle || now - md.lastUpdateTimestamp < this.settings.transactionalIdExpirationMs) continue;
      await this.withLock(md.transactionalId, async () => {
        const log = this.deps.stateLog(this.partitionFor(md.transactionalId));
        if ('errorCode' in log) return;
        await log.append(
          buildRecordBatch([{ key: transactionLogKey(md.transactionalId), value: null, timestamp: BigInt(now) }]),
          { sync: this.deps.syncWrites, recordCount: 1 },
        );
        this.txns.delete(md.transactionalId);
      });
    }
  }

  // ---- Admin ----

  /** DescribeTransactions: the id's metadata, or the error Kafka gives (not coordinated here, not found). */
  async describe(transactionalId: string): Promise<{ errorCode: number; metadata?: TransactionMetadata }> {
    const errorCode = await this.coordinatorError(transactionalId);
    if (errorCode !== ErrorCode.NONE) return { errorCode };
    const metadata = this.txns.get(transactionalId);
    return metadata ? { errorCode, metadata } : { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
  }

  list(): IterableIterator<TransactionMetadata> {
    return this.txns.values();
  }
}
