import { DecodeError } from '../primitives/decode-error.js';
import { Reader } from '../primitives/reader.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  DELETE_HORIZON_FLAG_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
} from './batch-header.js';
import { type CompressionType, decompress, MAX_DECOMPRESSED_BYTES } from './compression/index.js';
import { crc32c } from './crc32c.js';
import type { Record, RecordHeader } from './record.js';

export type TimestampType = 'CreateTime' | 'LogAppendTime';

/**
 * A view of one record batch v2 over a Buffer: header fields are read in place, base offset and leader
 * epoch are patched in place (both lie outside the CRC), and records are decoded only when iterated.
 */
export class RecordBatch {
  constructor(
    /** Exactly the bytes of this batch. */
    readonly buf: Buffer,
  ) {
    if (buf.length < RECORD_BATCH_OVERHEAD) throw new DecodeError(`record batch of ${buf.length} bytes`, 0);
    if (buf[MAGIC_OFFSET] !== CURRENT_MAGIC)
      throw new DecodeError(`record batch magic ${buf[MAGIC_OFFSET]}`, MAGIC_OFFSET);
    if (LOG_OVERHEAD + buf.readInt32BE(BATCH_LENGTH_OFFSET) !== buf.length) {
      throw new DecodeError('record batch length does not match its bytes', BATCH_LENGTH_OFFSET);
    }
  }

  get baseOffset(): bigint {
    return this.buf.readBigInt64BE(BASE_OFFSET_OFFSET);
  }
  set baseOffset(offset: bigint) {
    this.buf.writeBigInt64BE(offset, BASE_OFFSET_OFFSET);
  }
  get batchLength(): number {
    return this.buf.readInt32BE(BATCH_LENGTH_OFFSET);
  }
  get sizeInBytes(): number {
    return this.buf.length;
  }
  get partitionLeaderEpoch(): number {
    return this.buf.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET);
  }
  set partitionLeaderEpoch(epoch: number) {
    this.buf.writeInt32BE(epoch, PARTITION_LEADER_EPOCH_OFFSET);
  }
  get magic(): number {
    return this.buf[MAGIC_OFFSET]!;
  }
  get crc(): number {
    return this.buf.readUInt32BE(CRC_OFFSET);
  }
  get attributes(): number {
    return this.buf.readInt16BE(ATTRIBUTES_OFFSET);
  }
  get compression(): CompressionType {
    return (this.attributes & COMPRESSION_CODEC_MASK) as CompressionType;
  }
  get timestampType(): TimestampType {
    return this.attributes & TIMESTAMP_TYPE_MASK ? 'LogAppendTime' : 'CreateTime';
  }
  get isTransactional(): boolean {
    return (this.attributes & TRANSACTIONAL_FLAG_MASK) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & CONTROL_FLAG_MASK) !== 0;
  }
  get hasDeleteHorizon(): boolean {
    return (this.attributes & DELETE_HORIZON_FLAG_MASK) !== 0;
  }
  get lastOffsetDelta(): number {
    return this.buf.readInt32BE(LAST_OFFSET_DELTA_OFFSET);
  }
  get lastOffset(): bigint {
    return this.baseOffset + BigInt(this.lastOffsetDelta);
  }
  get baseTimestamp(): bigint {
    return this.buf.readBigInt64BE(BASE_TIMESTAMP_OFFSET);
  }
  get maxTimestamp(): bigint {
    return this.buf.readBigInt64BE(MAX_TIMESTAMP_OFFSET);
  }
  get producerId(): bigint {
    return this.buf.readBigInt64BE(PRODUCER_ID_OFFSET);
  }
  get producerEpoch(): number {
    return this.buf.readInt16BE(PRODUCER_EPOCH_OFFSET);
  }
  get baseSequence(): number {
    return this.buf.readInt32BE(BASE_SEQUENCE_OFFSET);
  }
  get recordCount(): number {
    return this.buf.readInt32BE(RECORDS_COUNT_OFFSET);
  }

  /** Whether the stored CRC32C matches the bytes from the attributes to the end. */
  verifyCrc(): boolean {
    return crc32c(this.buf, ATTRIBUTES_OFFSET) === this.crc;
  }

  /** Recomputes the CRC after a change inside the covered bytes (attributes, timestamps). */
  updateCrc(): void {
    this.buf.writeUInt32BE(crc32c(this.buf, ATTRIBUTES_OFFSET), CRC_OFFSET);
  }

  /** Marks the batch LogAppendTime with `timestampMs` as its max timestamp (Kafka's broker-side rewrite). */
  setLogAppendTime(timestampMs: bigint): void {
    this.buf.writeInt16BE(this.attributes | TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET);
    this.buf.writeBigInt64BE(timestampMs, MAX_TIMESTAMP_OFFSET);
    this.updateCrc();
  }

  /** The records section, decompressed if needed. */
  recordsSection(maxBytes = MAX_DECOMPRESSED_BYTES): Buffer {
    const section = this.buf.subarray(RECORD_BATCH_OVERHEAD);
    return this.compression === 0 ? section : decompress(this.compression, section, maxBytes);
  }

  /**
   * The records, decoded one at a time. Offsets and timestamps are absolute; under LogAppendTime every
   * record carries the batch's max timestamp, as consumers see it.
   */
  *records(): Generator<Record> {
    const count = this.recordCount;
    const section = this.recordsSection();
    // Every record takes at least 7 bytes: a count larger than the section allows is a lie.
    if (count < 0 || count > section.length)
      throw new DecodeError(`record count ${count} in ${section.length} bytes`, RECORDS_COUNT_OFFSET);
    const r = new Reader(section);
    const baseOffset = this.baseOffset;
    const baseTimestamp = this.baseTimestamp;
    const logAppendTime = this.timestampType === 'LogAppendTime' ? this.maxTimestamp : null;
    for (let i = 0; i < count; i++) {
      const length = r.readVarint();
      if (length < 0 || length > r.remaining) throw new DecodeError(`record length ${length}`, r.pos);
      const end = r.pos + length;
      const record = new Reader(section, r.pos, end);
      record.skip(1); // attributes: unused by the format
      const timestampDelta = record.readVarlong();
      const offsetDelta = record.readVarint();
      const key = readVarBytes(record);
      const value = readVarBytes(record);
      const headerCount = record.readVarint();
      if (headerCount < 0 || headerCount > record.remaining)
        throw new DecodeError(`header count ${headerCount}`, record.pos);
      const headers: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        const keyBytes = readVarBytes(record);
        if (keyBytes === null) throw new DecodeError('null header key', record.pos);
        headers.push({ key: keyBytes.toString('utf8'), value: readVarBytes(record) });
      }
      if (record.remaining !== 0)
        throw new DecodeError(`record ${i} has ${record.remaining} bytes left over`, record.pos);
      r.pos = end;
      yield {
        offset: baseOffset + BigInt(offsetDelta),
        timestamp: logAppendTime ?? baseTimestamp + timestampDelta,
        key,
        value,
        headers,
      };
    }
    if (r.remaining !== 0) throw new DecodeError(`${r.remaining} bytes after the last record`, r.pos);
  }
}

/** Varint-length bytes of a record: -1 is null. A subarray, not a copy. */
function readVarBytes(r: Reader): Buffer | null {
  const length = r.readVarint();
  if (length === -1) return null;
  if (length < 0) throw new DecodeError(`negative length ${length}`, r.pos);
  return r.slice(length);
}

/** The magic byte of the batch or legacy message at `at` (both formats keep it at byte 16). */
export function magicAt(buf: Buffer, at = 0): number {
  if (at + MAGIC_OFFSET >= buf.length) throw new DecodeError('too short for a magic byte', at);
  return buf[at + MAGIC_OFFSET]!;
}

export interface BatchWalk {
  batches: RecordBatch[];
  /** Bytes at the end that do not form a whole batch (fetch responses may end with a partial one). */
  partialBytes: number;
}

/** The whole v2 batches in a records buffer, in order. A partial trailing batch is reported, not an error. */
export function readBatches(records: Buffer): BatchWalk {
  const batches: RecordBatch[] = [];
  let at = 0;
  while (at + LOG_OVERHEAD <= records.length) {
    const size = LOG_OVERHEAD + records.readInt32BE(at + BATCH_LENGTH_OFFSET);
    if (size < RECORD_BATCH_OVERHEAD) throw new DecodeError(`record batch size ${size}`, at);
    if (at + size > records.length) break;
    batches.push(new RecordBatch(records.subarray(at, at + size)));
    at += size;
  }
  return { batches, partialBytes: records.length - at };
}
