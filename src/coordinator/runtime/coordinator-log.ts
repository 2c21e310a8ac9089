import type { Logger } from '../../observability/logger.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { buildRecordBatch } from '../../protocol/records/record-batch-builder.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { ProducerStateError } from '../../storage/producer-state.js';
import { replayCoordinatorLog } from '../replay-log.js';

/** One record of a coordinator's topic, as bytes. */
export interface CoordinatorLogRecord {
  key: Buffer;
  value: Buffer | null;
}

/**
 * The batch a replayed record came in: `__consumer_offsets` holds offsets committed in transactions (a
 * producer's transactional batches) and the markers that end them (control batches).
 */
export interface CoordinatorBatchInfo {
  producerId: bigint;
  isTransactional: boolean;
  isControl: boolean;
}

/** The producer whose transactional batch an append is (TxnOffsetCommit). */
export interface CoordinatorTransactionalAppend {
  producerId: bigint;
  producerEpoch: number;
}

/** The partition of a coordinator's topic that a coordinator partition loads from and appends to. */
export interface CoordinatorLog {
  /** Hands every record of the partition (control records included), from its start, in order, to `onRecord`. */
  replay(onRecord: (key: Buffer, value: Buffer | null, batch: CoordinatorBatchInfo) => void): Promise<void>;
  /**
   * Resolves once the records are committed (written, and synced per the fsync policy); rejects otherwise. A
   * rejection with a KafkaError means the log refused the records before writing anything (a fenced producer
   * epoch): the client gets that error and the partition stays loaded.
   */
  append(records: readonly CoordinatorLogRecord[], transactional?: CoordinatorTransactionalAppend): Promise<void>;
}

/**
 * A coordinator partition on a partition log of this broker. Loading goes through `replayCoordinatorLog`, which
 * skips (and logs) damaged batches; control batches and records without a key are not the coordinator's.
 */
export class PartitionCoordinatorLog implements CoordinatorLog {
  constructor(
    private readonly log: PartitionLog,
    private readonly options: {
      sync: boolean;
      logger: Logger;
      now: () => number;
      /** True once the broker may no longer write as the partition's leader (its registration lease is lost). */
      fenced?: () => boolean;
      /**
       * For a replicated partition: resolves with Kafka's error code (0 when none) once the in-sync replicas have
       * everything before `endOffset` (the high watermark passed it), as an acks=all produce waits.
       */
      replicated?: (endOffset: number) => Promise<number>;
      /**
       * For a replicated partition: resolves true once its high watermark reached `endOffset` while this broker
       * leads it, false when it no longer leads it or the wait ran out. A load waits for it before replaying.
       */
      caughtUp?: (endOffset: number) => Promise<boolean>;
    },
  ) {}

  /**
   * The load replays the records up to the high watermark, committed ones only. A new leader's high watermark
   * lags its log end (followers learn it from their fetches), while its log holds all the previous leader
   * acknowledged: it first waits for its high watermark to reach the log end it has now, else the state would
   * miss the last acknowledged records (a commit of offsets, a transaction's partitions or its Prepare record).
   * That holds whatever starts the load: the leadership moving here, or a client's request.
   */
  async replay(onRecord: (key: Buffer, value: Buffer | null, batch: CoordinatorBatchInfo) => void): Promise<void> {
    if (this.options.caughtUp && !(await this.options.caughtUp(this.log.logEndOffset)))
      throw new KafkaError(
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        'the high watermark did not reach the log end: not loaded',
      );
    await replayCoordinatorLog(
      this.log,
      (batch) => {
        const info = {
          producerId: batch.producerId,
          isTransactional: batch.isTransactional,
          isControl: batch.isControl,
        };
        for (const record of batch.records()) {
          if (record.key !== null) onRecord(record.key, record.value, info);
        }
      },
      this.options.logger,
    );
  }

  async append(
    records: readonly CoordinatorLogRecord[],
    transactional?: CoordinatorTransactionalAppend,
  ): Promise<void> {
    // A fenced leader writes nothing: the runtime answers NOT_COORDINATOR and finds the partition gone here.
    if (this.options.fenced?.()) throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'this broker is fenced');
    const timestamp = BigInt(this.options.now());
    const inputs = records.map((r) => ({ key: r.key, value: r.value, timestamp }));
    let endOffset: number;
    if (!transactional) {
      const result = await this.log.append(buildRecordBatch(inputs), {
        sync: this.options.sync,
        recordCount: records.length,
      });
      endOffset = result.lastOffset + 1;
    } else {
      const batch = buildRecordBatch(inputs, { ...transactional, baseSequence: -1, isTransactional: true });
      try {
        // Only the producer's epoch is checked: a coordinator's batch carries no sequence.
        const result = await this.log.append(batch, {
          sync: this.options.sync,
          recordCount: records.length,
          fromCoordinator: true,
        });
        endOffset = result.lastOffset + 1;
      } catch (error) {
        if (error instanceof ProducerStateError) throw new KafkaError(error.errorCode, error.message);
        throw error;
      }
    }
    if (!this.options.replicated) return;
    // Written here but not committed: not a KafkaError, so the partition is loaded again from what is committed.
    const errorCode = await this.options.replicated(endOffset);
    if (errorCode !== ErrorCode.NONE) throw new Error(`coordinator write not replicated (error ${errorCode})`);
  }
}
