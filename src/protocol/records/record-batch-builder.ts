import { Writer } from '../primitives/writer.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  DELETE_HORIZON_FLAG_MASK,
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
} from './batch-header.js';
import { CompressionType, compress } from './compression/index.js';
import { crc32c } from './crc32c.js';
import type { RecordHeader } from './record.js';
import type { TimestampType } from './record-batch.js';

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  timestamp: bigint;
  /** Offset relative to the batch's base; defaults to the record's position. */
  offsetDelta?: number;
}

export interface BatchOptions {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  compression?: CompressionType;
  timestampType?: TimestampType;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  /**
   * The log cleaner's delete horizon (KIP-534): after this time the batch's tombstones may be removed. Kafka
   * stores it as the base timestamp with the DELETE_HORIZON attribute; record timestamps stay exact, as their
   * deltas are taken from it.
   */
  deleteHorizonMs?: bigint;
}

function writeVarBytes(w: Writer, b: Buffer | null): void {
  if (b === null) {
    w.writeVarint(-1);
    return;
  }
  w.writeVarint(b.length);
  w.writeRaw(b);
}

/** Builds a record batch v2 (for internal topics, conversions and tests): lengths, attributes and CRC. */
export function buildRecordBatch(records: RecordInput[], options: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch holds at least one record');
  const baseTimestamp =
    options.deleteHorizonMs ??
    records.reduce((min, r) => (r.timestamp < min ? r.timestamp : min), records[0]!.timestamp);
  let maxTimestamp = records[0]!.timestamp;
  let lastOffsetDelta = 0;
  const body = new Writer(256);
  records.forEach((r, i) => {
    const offsetDelta = r.offsetDelta ?? i;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    if (offsetDelta > lastOffsetDelta) lastOffsetDelta = offsetDelta;
    const rec = new Writer(64);
    rec.writeInt8(0);
    rec.writeVarlong(r.timestamp - baseTimestamp);
    rec.writeVarint(offsetDelta);
    writeVarBytes(rec, r.key);
    writeVarBytes(rec, r.value);
    const headers = r.headers ?? [];
    rec.writeVarint(headers.length);
    for (const h of headers) {
      writeVarBytes(rec, Buffer.from(h.key, 'utf8'));
      writeVarBytes(rec, h.value);
    }
    const bytes = rec.toBuffer();
    body.writeVarint(bytes.length);
    body.writeRaw(bytes);
  });
  const compression = options.compression ?? CompressionType.None;
  const section = compress(compression, body.toBuffer());

  let attributes = compression;
  if (options.timestampType === 'LogAppendTime') attributes |= TIMESTAMP_TYPE_MASK;
  if (options.isTransactional) attributes |= TRANSACTIONAL_FLAG_MASK;
  if (options.isControl) attributes |= CONTROL_FLAG_MASK;
  if (options.deleteHorizonMs !== undefined) attributes |= DELETE_HORIZON_FLAG_MASK;

  const header = new Writer(RECORD_BATCH_OVERHEAD);
  header.writeInt64(options.baseOffset ?? 0n);
  header.writeInt32(RECORD_BATCH_OVERHEAD - LOG_OVERHEAD + section.length);
  header.writeInt32(options.partitionLeaderEpoch ?? -1);
  header.writeInt8(CURRENT_MAGIC);
  header.writeUInt32(0); // CRC, filled in below
  header.writeInt16(attributes);
  header.writeInt32(lastOffsetDelta);
  header.writeInt64(baseTimestamp);
  header.writeInt64(maxTimestamp);
  header.writeInt64(options.producerId ?? -1n);
  header.writeInt16(options.producerEpoch ?? -1);
  header.writeInt32(options.baseSequence ?? -1);
  header.writeInt32(records.length);
  const batch = Buffer.concat([header.toBuffer(), section]);
  if (LOG_OVERHEAD + batch.readInt32BE(BATCH_LENGTH_OFFSET) !== batch.length) throw new Error('batch length mismatch');
  batch.writeUInt32BE(crc32c(batch, ATTRIBUTES_OFFSET), CRC_OFFSET);
  return batch;
}
