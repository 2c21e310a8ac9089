import type { Logger } from '../observability/logger.js';
import { DecodeError } from '../protocol/primitives/decode-error.js';
import {
  BASE_OFFSET_OFFSET,
  RECORD_BATCH_OVERHEAD as BATCH_HEADER_BYTES,
  batchSize,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
} from '../protocol/records/batch-header.js';
import { RecordBatch } from '../protocol/records/record-batch.js';
import type { PartitionLog } from '../storage/partition-log.js';

/** How much of a coordinator's partition is read per step while loading. */
const LOAD_READ_BYTES = 1 << 20;

export interface ReplaySummary {
  batches: number;
  /** Batches skipped because they failed their CRC or could not be decoded. */
  skippedBatches: number;
  /** Where loading had to stop before the end of the log (bytes that are not batches), or null. */
  unreadableFrom: number | null;
}

/**
 * Reads a coordinator's partition (`__consumer_offsets`, `__transaction_state`) from its start to its high
 * watermark and hands each valid batch to `replay`, so that a coordinator loads what is valid instead of
 * failing the whole partition on one bad batch (Kafka's loader fails the load and the partition's groups stay
 * unavailable). A batch that fails its CRC, or whose records do not decode, is skipped and told at ERROR
 * with its offsets; bytes that are not batches at all stop the load there, told at ERROR too. A log that
 * recovery truncated at start-up is told at WARN: what was written after the cut is gone.
 */
export async function replayCoordinatorLog(
  log: PartitionLog,
  replay: (batch: RecordBatch) => void,
  logger: Logger,
): Promise<ReplaySummary> {
  const where = { topic: log.topic, partition: log.partition };
  const summary: ReplaySummary = { batches: 0, skippedBatches: 0, unreadableFrom: null };
  if (log.recoveryTruncation) {
    logger.warn('loading from a log that recovery truncated: records written after the cut are lost', {
      ...where,
      offset: log.recoveryTruncation.offset,
      bytesDropped: log.recoveryTruncation.bytes,
      reason: log.recoveryTruncation.reason,
    });
  }
  let position = log.logStartOffset;
  /** Below this offset the log is read one batch at a time: a read of a damaged segment failed there. */
  let batchByBatchUntil = -1;
  while (position < log.highWatermark) {
    let read: Awaited<ReturnType<PartitionLog['read']>>;
    const batchByBatch = position < batchByBatchUntil;
    try {
      read = await log.read(position, batchByBatch ? 1 : LOAD_READ_BYTES, true);
    } catch (e) {
      // A batch header garbled after a clean stop (which recovery did not check) can make the segment's own
      // read fail (a batch size that points outside the buffer). The batches before it are read again one at a
      // time; from the one that cannot be read, the rest of its segment is skipped (the later segments are
      // whole), as a corrupt batch is skipped.
      if (log.isOffline) throw e;
      const resumeAt = nextSegmentOffset(log, position);
      if (!batchByBatch) {
        logger.error('a damaged segment failed to read while loading: reading it batch by batch, skipping the rest', {
          ...where,
          offset: position,
          error: e instanceof Error ? e.message : String(e),
        });
        batchByBatchUntil = resumeAt ?? Number.POSITIVE_INFINITY;
        continue;
      }
      if (resumeAt === null) {
        // Nothing follows in a later segment: the load ends here, as at any unreadable part of the log.
        summary.unreadableFrom = position;
        logger.error('stopped loading at an unreadable part of the log: the records from here on are not loaded', {
          ...where,
          offset: position,
          highWatermark: log.highWatermark,
          error: e instanceof Error ? e.message : String(e),
        });
        break;
      }
      summary.skippedBatches++;
      logger.error('skipping the unreadable rest of a segment while loading: its records are not loaded', {
        ...where,
        offset: position,
        resumeAt,
        error: e instanceof Error ? e.message : String(e),
      });
      position = resumeAt;
      continue;
    }
    const records = read?.records;
    let at = 0;
    let progressed = false;
    while (records && at + BATCH_HEADER_BYTES <= records.length) {
      const size = batchSize(records, at);
      if (size < BATCH_HEADER_BYTES || at + size > records.length) break;
      const bytes = records.subarray(at, at + size);
      at += size;
      const baseOffset = Number(bytes.readBigInt64BE(BASE_OFFSET_OFFSET));
      const lastOffset = baseOffset + bytes.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
      // A damaged header may carry any offsets: only ones that move forward within the log are followed.
      const nextPosition = lastOffset >= position && lastOffset < log.highWatermark ? lastOffset + 1 : null;
      const batch = bytes[MAGIC_OFFSET] === CURRENT_MAGIC ? new RecordBatch(bytes) : null;
      let skipped = batch === null || !batch.verifyCrc();
      if (!skipped) {
        try {
          replay(batch!);
          summary.batches++;
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          skipped = true;
        }
      }
      if (skipped) {
        summary.skippedBatches++;
        logger.error('skipping a corrupt batch while loading: its records are not loaded', {
          ...where,
          baseOffset,
          lastOffset,
          bytes: size,
        });
      }
      if (nextPosition === null) break;
      position = nextPosition;
      progressed = true;
    }
    if (!progressed) {
      summary.unreadableFrom = position;
      logger.error('stopped loading at an unreadable part of the log: the records from here on are not loaded', {
        ...where,
        offset: position,
        highWatermark: log.highWatermark,
      });
      break;
    }
  }
  return summary;
}

/**
 * Where loading resumes after the segment holding `position` failed to read: the next segment's base offset, or
 * null when that segment is the active one (nothing follows) or no offset past `position` is known.
 */
function nextSegmentOffset(log: PartitionLog, position: number): number | null {
  const inactive = log.inactiveSegments();
  let i = inactive.length - 1;
  while (i >= 0 && inactive[i]!.baseOffset > position) i--;
  if (i < 0) return null;
  const next = inactive[i + 1]?.baseOffset ?? inactive[i]!.nextOffset;
  return next > position && next < log.highWatermark ? next : null;
}
