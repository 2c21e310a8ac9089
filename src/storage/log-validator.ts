import { ErrorCode } from '../protocol/errors.js';
import { DecodeError, Reader } from '../protocol/primitives/index.js';
import { readInt64AsNumber } from '../protocol/primitives/int64.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
} from '../protocol/records/batch-header.js';
import { CompressionError } from '../protocol/records/compression/index.js';
import { crc32c } from '../protocol/records/crc32c.js';
import { RecordBatch } from '../protocol/records/record-batch.js';

export interface ValidationOptions {
  /** max.message.bytes of the topic: the largest batch accepted. */
  maxMessageBytes: number;
  /** message.timestamp.type of the topic. */
  timestampType: 'CreateTime' | 'LogAppendTime';
  /** message.timestamp.before.max.ms / after.max.ms: how far a CreateTime timestamp may lie from now. */
  timestampBeforeMaxMs?: number;
  timestampAfterMaxMs?: number;
  /** The topic is compacted (cleanup.policy includes compact): every record needs a key, as in Kafka. */
  requireKeys?: boolean;
}

export type ValidationResult =
  | { errorCode: typeof ErrorCode.NONE; recordCount: number; batchCount: number; logAppendTimeMs: number }
  | { errorCode: number; message: string };

/**
 * Checks the record batches of a produce request before they are appended, as Kafka's LogValidator does,
 * without decoding records where it can be avoided: magic 2, sizes, CRC32C, record count against the offset
 * deltas (walked record by record for uncompressed batches, from the header for compressed ones), no
 * control batches from clients. With LogAppendTime the batches are stamped in place with `nowMs` and their
 * CRC recomputed. Base offsets are assigned later, by the log.
 */
export function validateProducedBatches(records: Buffer, options: ValidationOptions, nowMs: number): ValidationResult {
  let recordCount = 0;
  let batchCount = 0;
  const bounds = timestampBounds(options, nowMs);
  for (let at = 0; at < records.length; ) {
    if (records.length - at < RECORD_BATCH_OVERHEAD) {
      return corrupt(`trailing ${records.length - at} bytes are not a record batch`);
    }
    const size = LOG_OVERHEAD + records.readInt32BE(at + BATCH_LENGTH_OFFSET);
    if (size < RECORD_BATCH_OVERHEAD || at + size > records.length)
      return corrupt(`record batch size ${size} is invalid`);
    if (records[at + MAGIC_OFFSET] !== CURRENT_MAGIC) {
      return {
        errorCode: ErrorCode.INVALID_RECORD,
        message: `record batch magic ${records[at + MAGIC_OFFSET]} is not ${CURRENT_MAGIC}`,
      };
    }
    if (size > options.maxMessageBytes) {
      return {
        errorCode: ErrorCode.MESSAGE_TOO_LARGE,
        message: `record batch of ${size} bytes exceeds max.message.bytes ${options.maxMessageBytes}`,
      };
    }
    if (crc32c(records, at + ATTRIBUTES_OFFSET, at + size) !== records.readUInt32BE(at + CRC_OFFSET)) {
      return corrupt('record batch CRC does not match its contents');
    }
    const attributes = records.readInt16BE(at + ATTRIBUTES_OFFSET);
    if (attributes & CONTROL_FLAG_MASK)
      return { errorCode: ErrorCode.INVALID_RECORD, message: 'clients may not produce control batches' };
    const count = records.readInt32BE(at + RECORDS_COUNT_OFFSET);
    const lastOffsetDelta = records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    if (count < 1 || lastOffsetDelta !== count - 1) {
      return {
        errorCode: ErrorCode.INVALID_RECORD,
        message: `record count ${count} does not match last offset delta ${lastOffsetDelta}`,
      };
    }
    const baseTimestamp = readInt64AsNumber(records, at + BASE_TIMESTAMP_OFFSET);
    if (bounds) {
      const maxTimestamp = readInt64AsNumber(records, at + MAX_TIMESTAMP_OFFSET);
      if (baseTimestamp < bounds.min || baseTimestamp > bounds.max) return invalidTimestamp(baseTimestamp, nowMs);
      if (maxTimestamp < bounds.min || maxTimestamp > bounds.max) return invalidTimestamp(maxTimestamp, nowMs);
    }
    if ((attributes & COMPRESSION_CODEC_MASK) === 0) {
      const problem = checkUncompressedRecords(
        records,
        at + RECORD_BATCH_OVERHEAD,
        at + size,
        count,
        baseTimestamp,
        bounds ?? UNBOUNDED,
        options.requireKeys === true,
      );
      if (typeof problem === 'number') return invalidTimestamp(problem, nowMs);
      if (problem) return { errorCode: ErrorCode.INVALID_RECORD, message: problem };
    } else if (options.requireKeys) {
      // Compressed batches are otherwise not opened here; for a compacted topic the keys must be seen.
      const problem = keylessRecordIn(records.subarray(at, at + size));
      if (problem) return { errorCode: ErrorCode.INVALID_RECORD, message: problem };
    }
    if (options.timestampType === 'LogAppendTime') stampLogAppendTime(records, at, size, nowMs);
    recordCount += count;
    batchCount++;
    at += size;
  }
  if (batchCount === 0) return corrupt('no record batch in the request');
  return {
    errorCode: ErrorCode.NONE,
    recordCount,
    batchCount,
    logAppendTimeMs: options.timestampType === 'LogAppendTime' ? nowMs : -1,
  };
}

/**
 * The window CreateTime timestamps must fall in, or null when unbounded (Kafka's defaults) or when the broker
 * sets the time itself (LogAppendTime). Compressed batches are checked by their first and max timestamps only.
 */
interface TimestampBounds {
  min: number;
  max: number;
}
const UNBOUNDED: TimestampBounds = { min: Number.NEGATIVE_INFINITY, max: Number.POSITIVE_INFINITY };

function timestampBounds(options: ValidationOptions, nowMs: number): TimestampBounds | null {
  if (options.timestampType === 'LogAppendTime') return null;
  const before = options.timestampBeforeMaxMs ?? Number.POSITIVE_INFINITY;
  const after = options.timestampAfterMaxMs ?? Number.POSITIVE_INFINITY;
  if (!Number.isFinite(before) && !Number.isFinite(after)) return null;
  return { min: nowMs - before, max: nowMs + after };
}

function invalidTimestamp(ts: number, nowMs: number): ValidationResult {
  return {
    errorCode: ErrorCode.INVALID_TIMESTAMP,
    message: `timestamp ${ts} is out of range of the broker's time ${nowMs}`,
  };
}

function corrupt(message: string): ValidationResult {
  return { errorCode: ErrorCode.CORRUPT_MESSAGE, message };
}

/** Kafka's message for a keyless record sent to a compacted topic. */
const COMPACTED_WITHOUT_KEY = 'Compacted topic cannot accept message without key';

/** Decompresses a batch to check that each record has a key (compacted topics only); a problem, or null. */
function keylessRecordIn(batch: Buffer): string | null {
  try {
    for (const record of new RecordBatch(batch).records()) if (record.key === null) return COMPACTED_WITHOUT_KEY;
  } catch (e) {
    if (e instanceof DecodeError || e instanceof CompressionError) return `malformed record: ${e.message}`;
    throw e;
  }
  return null;
}

/**
 * Walks the records by their length prefixes: `count` records, offset deltas 0, 1, 2..., ending at `end`.
 * Returns what is wrong, or a record timestamp outside `bounds`, or null.
 */
function checkUncompressedRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  baseTimestamp: number,
  bounds: TimestampBounds,
  requireKeys: boolean,
): string | number | null {
  const r = new Reader(buf, start, end);
  try {
    for (let i = 0; i < count; i++) {
      const length = r.readVarint();
      if (length < 0 || length > r.remaining) return `record ${i} has an invalid length ${length}`;
      const recordEnd = r.pos + length;
      r.skip(1); // attributes
      const timestamp = baseTimestamp + r.readVarlongNumber();
      if (timestamp < bounds.min || timestamp > bounds.max) return timestamp;
      const offsetDelta = r.readVarint();
      if (offsetDelta !== i) return `record ${i} has offset delta ${offsetDelta}`;
      if (requireKeys && r.readVarint() < 0) return COMPACTED_WITHOUT_KEY;
      r.pos = recordEnd;
    }
  } catch (e) {
    if (e instanceof DecodeError) return `malformed record: ${e.message}`;
    throw e;
  }
  return r.remaining === 0 ? null : `${r.remaining} bytes after the last record`;
}

/** Sets the timestamp type to LogAppendTime and the max timestamp to `nowMs`, then recomputes the CRC. */
function stampLogAppendTime(buf: Buffer, at: number, size: number, nowMs: number): void {
  buf.writeInt16BE(buf.readInt16BE(at + ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_MASK, at + ATTRIBUTES_OFFSET);
  buf.writeBigInt64BE(BigInt(nowMs), at + MAX_TIMESTAMP_OFFSET);
  buf.writeUInt32BE(crc32c(buf, at + ATTRIBUTES_OFFSET, at + size), at + CRC_OFFSET);
}
