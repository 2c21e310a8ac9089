import type { Logger } from '../../observability/logger.js';
import { buildRecordBatch } from '../../protocol/records/record-batch-builder.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { replayCoordinatorLog } from '../replay-log.js';

/** One record of a coordinator's topic, as bytes. */
export interface CoordinatorLogRecord {
  key: Buffer;
  value: Buffer | null;
}

/** The partition of a coordinator's topic that a coordinator partition loads from and appends to. */
export interface CoordinatorLog {
  /** Hands every record of the partition, from its start, in order, to `onRecord`. */
  replay(onRecord: (key: Buffer, value: Buffer | null) => void): Promise<void>;
  /** Resolves once the records are committed (written, and synced per the fsync policy); rejects otherwise. */
  append(records: readonly CoordinatorLogRecord[]): Promise<void>;
}

/**
 * A coordinator partition on a partition log of this broker. Loading goes through `replayCoordinatorLog`, which
 * skips (and logs) damaged batches; control batches and records without a key are not the coordinator's.
 */
export class PartitionCoordinatorLog implements CoordinatorLog {
  constructor(
    private readonly log: PartitionLog,
    private readonly options: { sync: boolean; logger: Logger; now: () => number },
  ) {}

  async replay(onRecord: (key: Buffer, value: Buffer | null) => void): Promise<void> {
    await replayCoordinatorLog(
      this.log,
      (batch) => {
        if (batch.isControl) return;
        for (const record of batch.records()) {
          if (record.key !== null) onRecord(record.key, record.value);
        }
      },
      this.options.logger,
    );
  }

  async append(records: readonly CoordinatorLogRecord[]): Promise<void> {
    const timestamp = BigInt(this.options.now());
    const batch = buildRecordBatch(records.map((r) => ({ key: r.key, value: r.value, timestamp })));
    await this.log.append(batch, { sync: this.options.sync, recordCount: records.length });
  }
}
