import { ErrorCode } from '../../protocol/errors.js';
import type { TransactionLogValue } from '../../protocol/generated/internal/transaction-log-value.js';
import type { CoordinatorResult, CoordinatorSerde, CoordinatorShard } from '../runtime/coordinator-runtime.js';
import {
  readTransactionLogRecord,
  TransactionState,
  transactionLogKey,
  transactionLogValue,
} from './transaction-log-records.js';

/** One record of `__transaction_state`: a transactional id's metadata, or null when the id expired. */
export interface TransactionLogRecord {
  transactionalId: string;
  value: TransactionLogValue | null;
}

export const transactionLogSerde: CoordinatorSerde<TransactionLogRecord> = {
  serialize: (record) => ({
    key: transactionLogKey(record.transactionalId),
    value: record.value === null ? null : transactionLogValue(record.value),
  }),
  deserialize: (key, value) => readTransactionLogRecord(key, value),
};

/** What the coordinator knows of one transactional id (Kafka's TransactionMetadata). */
export interface TransactionMetadata {
  transactionalId: string;
  producerId: bigint;
  /** The producer id before the last epoch overflow gave a new one (-1: none). */
  lastProducerId: bigint;
  producerEpoch: number;
  /** The epoch before the last bump (-1: none), so that a retried InitProducerId gets the same answer. */
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
export const MAX_PRODUCER_EPOCH = 32_766;

export interface InitProducerIdResponse {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
  /** A transaction was moved to PrepareAbort: its markers are to be written before answering. */
  completeFirst: boolean;
}

export interface EndTxnResponse {
  errorCode: number;
  /** The transaction was prepared: its markers are to be written (and the Complete record) before answering. */
  completeFirst: boolean;
}

type Result<T> = CoordinatorResult<TransactionLogRecord, T>;

function isPrepared(state: TransactionState): boolean {
  return state === TransactionState.PrepareCommit || state === TransactionState.PrepareAbort;
}

/** The fields of a record, from metadata and the changes an operation makes to it. */
function record(md: TransactionMetadata, changes: Partial<TransactionMetadata>): TransactionLogRecord {
  const next = { ...md, ...changes };
  return {
    transactionalId: md.transactionalId,
    value: {
      producerId: next.producerId,
      producerEpoch: next.producerEpoch,
      transactionTimeoutMs: next.timeoutMs,
      transactionStatus: next.state,
      transactionPartitions: [...next.partitions].map(([topic, ids]) => ({ topic, partitionIds: [...ids] })),
      transactionLastUpdateTimestampMs: BigInt(next.lastUpdateTimestamp),
      transactionStartTimestampMs: BigInt(next.startTimestamp),
    },
  };
}

/**
 * The transactions of one partition of `__transaction_state` as a replayed state machine: `replay` is the
 * only thing that changes them, at load and after each committed write alike. The operations read the state
 * and return the records that say what changes, with the answer; they change nothing themselves.
 *
 * Kafka keeps `lastProducerEpoch` in memory only (value version 0 has no field for it) and forgets it on a
 * load. Here replay derives it from the previous record of the id, so the state after a load equals the state
 * the live path built (until compaction removes that previous record, when it is -1 as in Kafka).
 */
export class TransactionShard implements CoordinatorShard<TransactionLogRecord> {
  readonly transactions = new Map<string, TransactionMetadata>();

  replay({ transactionalId, value }: TransactionLogRecord): void {
    const previous = this.transactions.get(transactionalId);
    if (value === null) {
      this.transactions.delete(transactionalId);
      return;
    }
    const partitions = new Map<string, Set<number>>();
    for (const t of value.transactionPartitions ?? []) {
      let ids = partitions.get(t.topic);
      if (!ids) {
        ids = new Set();
        partitions.set(t.topic, ids);
      }
      for (const id of t.partitionIds) ids.add(id);
    }
    const bumped =
      previous !== undefined &&
      (previous.producerId !== value.producerId || previous.producerEpoch !== value.producerEpoch);
    this.transactions.set(transactionalId, {
      transactionalId,
      producerId: value.producerId,
      lastProducerId:
        previous !== undefined && previous.producerId !== value.producerId
          ? previous.producerId
          : (previous?.lastProducerId ?? -1n),
      producerEpoch: value.producerEpoch,
      lastProducerEpoch: bumped ? previous.producerEpoch : (previous?.lastProducerEpoch ?? -1),
      timeoutMs: value.transactionTimeoutMs,
      state: value.transactionStatus as TransactionState,
      partitions,
      startTimestamp: Number(value.transactionStartTimestampMs),
      lastUpdateTimestamp: Number(value.transactionLastUpdateTimestampMs),
    });
  }

  get(transactionalId: string): TransactionMetadata | undefined {
    return this.transactions.get(transactionalId);
  }

  /** Whether InitProducerId (or a timeout's bump) for this id needs a fresh producer id. */
  needsNewProducerId(transactionalId: string): boolean {
    const md = this.transactions.get(transactionalId);
    return md === undefined || md.producerEpoch >= MAX_PRODUCER_EPOCH;
  }

  /** The id's next producer id and epoch: past the epoch limit, `newProducerId` at epoch 0. */
  private bump(md: TransactionMetadata, newProducerId: bigint | null): { producerId: bigint; producerEpoch: number } {
    if (md.producerEpoch < MAX_PRODUCER_EPOCH)
      return { producerId: md.producerId, producerEpoch: md.producerEpoch + 1 };
    if (newProducerId === null) throw new Error('a producer id is needed past the epoch limit');
    return { producerId: newProducerId, producerEpoch: 0 };
  }

  /**
   * InitProducerId with a transactional id. A new id gets `newProducerId` at epoch 0; a known one gets its
   * epoch bumped, which fences any older producer instance. An open transaction is aborted under the new epoch
   * first (PrepareAbort here, the markers after) and the client told CONCURRENT_TRANSACTIONS, so that it
   * retries. With a producer id and epoch in the request (KIP-360), they must be the current ones, or those
   * from before a bump whose answer was lost (then the same answer again).
   */
  initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: bigint; producerEpoch: number },
    now: number,
    newProducerId: bigint | null,
  ): Result<InitProducerIdResponse> {
    const answer = (errorCode: number, records: TransactionLogRecord[] = []): Result<InitProducerIdResponse> => ({
      records,
      response: { errorCode, producerId: -1n, producerEpoch: -1, completeFirst: false },
    });
    const md = this.transactions.get(transactionalId);
    if (!md) {
      if (newProducerId === null) throw new Error('a new transactional id needs a producer id');
      const created: TransactionMetadata = {
        transactionalId,
        producerId: newProducerId,
        lastProducerId: -1n,
        producerEpoch: 0,
        lastProducerEpoch: -1,
        timeoutMs,
        state: TransactionState.Empty,
        partitions: new Map(),
        startTimestamp: -1,
        lastUpdateTimestamp: now,
      };
      return {
        records: [record(created, {})],
        response: { errorCode: ErrorCode.NONE, producerId: newProducerId, producerEpoch: 0, completeFirst: false },
      };
    }
    if (expected.producerId >= 0n) {
      const current = expected.producerId === md.producerId && expected.producerEpoch === md.producerEpoch;
      const retry =
        (expected.producerId === md.producerId || expected.producerId === md.lastProducerId) &&
        expected.producerEpoch === md.lastProducerEpoch &&
        md.state === TransactionState.Empty;
      if (retry)
        return {
          records: [],
          response: {
            errorCode: ErrorCode.NONE,
            producerId: md.producerId,
            producerEpoch: md.producerEpoch,
            completeFirst: false,
          },
        };
      if (!current) return answer(ErrorCode.PRODUCER_FENCED);
    }
    switch (md.state) {
      case TransactionState.PrepareCommit:
      case TransactionState.PrepareAbort:
      case TransactionState.PrepareEpochFence:
      case TransactionState.Dead:
        return answer(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TransactionState.Ongoing: {
        // Fence the running producer with a new epoch, and abort its transaction under that epoch.
        const next = this.bump(md, newProducerId);
        const prepare = record(md, { ...next, state: TransactionState.PrepareAbort, lastUpdateTimestamp: now });
        return {
          records: [prepare],
          response: {
            errorCode: ErrorCode.CONCURRENT_TRANSACTIONS,
            producerId: -1n,
            producerEpoch: -1,
            completeFirst: true,
          },
        };
      }
      default: {
        const next = this.bump(md, newProducerId);
        const bumped = record(md, {
          ...next,
          timeoutMs,
          state: TransactionState.Empty,
          partitions: new Map(),
          startTimestamp: -1,
          lastUpdateTimestamp: now,
        });
        return {
          records: [bumped],
          response: { errorCode: ErrorCode.NONE, ...next, completeFirst: false },
        };
      }
    }
  }

  /** The checks every call of a running producer passes: known id, same producer id, current epoch. */
  producerError(transactionalId: string, producerId: bigint, producerEpoch: number): number {
    const md = this.transactions.get(transactionalId);
    if (!md || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    return ErrorCode.NONE;
  }

  /** AddPartitionsToTxn / AddOffsetsToTxn: starts the transaction if needed and records the partitions. */
  addPartitions(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: ReadonlyArray<{ topic: string; partition: number }>,
    now: number,
  ): Result<number> {
    const error = this.producerError(transactionalId, producerId, producerEpoch);
    const md = this.transactions.get(transactionalId);
    if (error !== ErrorCode.NONE || !md) return { records: [], response: error };
    if (isPrepared(md.state)) return { records: [], response: ErrorCode.CONCURRENT_TRANSACTIONS };
    if (md.state === TransactionState.PrepareEpochFence || md.state === TransactionState.Dead)
      return { records: [], response: ErrorCode.INVALID_TXN_STATE };
    const added = partitions.filter((p) => !md.partitions.get(p.topic)?.has(p.partition));
    if (added.length === 0 && md.state === TransactionState.Ongoing) return { records: [], response: ErrorCode.NONE };
    const ongoing = md.state === TransactionState.Ongoing;
    const merged = new Map([...md.partitions].map(([t, ids]) => [t, new Set(ids)]));
    for (const p of added) {
      let ids = merged.get(p.topic);
      if (!ids) {
        ids = new Set();
        merged.set(p.topic, ids);
      }
      ids.add(p.partition);
    }
    return {
      records: [
        record(md, {
          state: TransactionState.Ongoing,
          partitions: merged,
          startTimestamp: ongoing ? md.startTimestamp : now,
          lastUpdateTimestamp: now,
        }),
      ],
      response: ErrorCode.NONE,
    };
  }

  /** EndTxn: prepares the commit or abort of the open transaction; a retry of a finished one succeeds again. */
  endTransaction(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
    now: number,
  ): Result<EndTxnResponse> {
    const answer = (errorCode: number): Result<EndTxnResponse> => ({
      records: [],
      response: { errorCode, completeFirst: false },
    });
    const error = this.producerError(transactionalId, producerId, producerEpoch);
    const md = this.transactions.get(transactionalId);
    if (error !== ErrorCode.NONE || !md) return answer(error);
    switch (md.state) {
      case TransactionState.Ongoing:
        return {
          records: [
            record(md, {
              state: commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort,
              lastUpdateTimestamp: now,
            }),
          ],
          response: { errorCode: ErrorCode.NONE, completeFirst: true },
        };
      case TransactionState.CompleteCommit:
        return answer(commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE);
      case TransactionState.CompleteAbort:
        return answer(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE);
      case TransactionState.PrepareCommit:
        return answer(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
      case TransactionState.PrepareAbort:
        return answer(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
      default:
        return answer(ErrorCode.INVALID_TXN_STATE);
    }
  }

  /** The transaction prepared under this producer id and epoch, if it still is (else its completion is done). */
  prepared(transactionalId: string, producerId: bigint, producerEpoch: number): TransactionMetadata | undefined {
    const md = this.transactions.get(transactionalId);
    if (!md || !isPrepared(md.state) || md.producerId !== producerId || md.producerEpoch !== producerEpoch)
      return undefined;
    return md;
  }

  /** The Complete record of a prepared transaction whose markers are written. */
  complete(md: TransactionMetadata, now: number): TransactionLogRecord {
    return record(md, {
      state:
        md.state === TransactionState.PrepareCommit ? TransactionState.CompleteCommit : TransactionState.CompleteAbort,
      partitions: new Map(),
      startTimestamp: -1,
      lastUpdateTimestamp: now,
    });
  }

  /** Transactions waiting for their markers (a crash, a failed marker write, or an EndTxn in progress). */
  *preparedTransactions(): IterableIterator<TransactionMetadata> {
    for (const md of this.transactions.values()) if (isPrepared(md.state)) yield md;
  }

  /** Ids whose open transaction ran past its timeout. */
  timedOut(now: number): string[] {
    const ids: string[] = [];
    for (const md of this.transactions.values())
      if (md.state === TransactionState.Ongoing && md.startTimestamp + md.timeoutMs < now) ids.push(md.transactionalId);
    return ids;
  }

  /**
   * Aborts the timed out transactions of `ids` (PrepareAbort, the markers after), bumping the epoch first so
   * that the producer that let it run out is fenced. `newProducerIds` holds the ids past the epoch limit.
   */
  abortTimedOut(ids: readonly string[], now: number, newProducerIds: ReadonlyMap<string, bigint>): Result<number> {
    const records: TransactionLogRecord[] = [];
    for (const id of ids) {
      const md = this.transactions.get(id);
      if (!md || md.state !== TransactionState.Ongoing || md.startTimestamp + md.timeoutMs >= now) continue;
      const next = this.bump(md, newProducerIds.get(id) ?? null);
      records.push(record(md, { ...next, state: TransactionState.PrepareAbort, lastUpdateTimestamp: now }));
    }
    return { records, response: records.length };
  }

  /** Tombstones for ids idle past transactional.id.expiration.ms. */
  removeExpired(now: number, expirationMs: number): Result<number> {
    const records: TransactionLogRecord[] = [];
    for (const md of this.transactions.values()) {
      const idle =
        md.state === TransactionState.Empty ||
        md.state === TransactionState.CompleteCommit ||
        md.state === TransactionState.CompleteAbort;
      if (idle && now - md.lastUpdateTimestamp >= expirationMs)
        records.push({ transactionalId: md.transactionalId, value: null });
    }
    return { records, response: records.length };
  }
}
