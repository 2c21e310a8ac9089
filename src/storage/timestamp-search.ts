import { RecordBatch } from '../protocol/records/record-batch.js';
import type { LogSegment } from './log-segment.js';

/** A record found by its timestamp: the record's own timestamp and offset. */
export interface TimestampAndOffset {
  timestamp: number;
  offset: number;
}

/**
 * The first record of `segment` whose timestamp is >= `targetTimestamp` and whose offset is >= `startingOffset`,
 * or null (Kafka's LogSegment.findOffsetByTimestamp). The time index gives where to start, the batch headers'
 * max timestamps which batches may hold such a record, and only those batches are read and decoded
 * (decompressed if need be): a batch holds records of many timestamps, in no particular order, and the answer
 * is the first record at or after the time, not the batch. Under LogAppendTime every record has the batch's
 * timestamp, as `RecordBatch.records` gives them.
 */
export async function searchSegmentForTimestamp(
  segment: LogSegment,
  targetTimestamp: number,
  startingOffset: number,
): Promise<TimestampAndOffset | null> {
  let from = startingOffset;
  for (;;) {
    const position = await segment.findBatchByTimestamp(targetTimestamp, from);
    if (!position) return null;
    // With no room asked for and at least one batch, the read is exactly the batch that holds the offset.
    const bytes = await segment.read(position.baseOffset, 0, true);
    if (!bytes || bytes.length === 0) return null;
    const batch = new RecordBatch(bytes.subarray(0, position.size));
    if (Number(batch.baseOffset) !== position.baseOffset) {
      throw new Error(`batch at offset ${position.baseOffset} read back as ${batch.baseOffset}`);
    }
    for (const record of batch.records()) {
      const timestamp = Number(record.timestamp);
      const offset = Number(record.offset);
      if (timestamp >= targetTimestamp && offset >= startingOffset) return { timestamp, offset };
    }
    // The header's max timestamp promised a record that is not there (or only below the starting offset).
    from = position.lastOffset + 1;
  }
}
