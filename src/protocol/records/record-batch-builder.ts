import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
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
import { CompressionType, compress } from './compression/index.js';
import { crc32c } from './crc32c.js';
import type { Record, RecordHeader } from './record.js';
import type { RecordBatch, TimestampType } from './record-batch.js';

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
  /** The last offset delta to record, when it is more than the records' own (records removed at the end). */
  lastOffsetDelta?: number;
}

/** Bytes of an unsigned varint (below 2^53). */
export function uvarintBytes(n: number): number {
  let bytes = 1;
  for (let rest = n; rest >= 0x80; rest = Math.floor(rest / 128)) bytes++;
  return bytes;
}

/** Writes an unsigned varint (below 2^53) at `at`; returns where it ends. */
export function putUVarint(buf: Buffer, at: number, n: number): number {
  let p = at;
  let rest = n;
  while (rest >= 0x80) {
    buf[p++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  buf[p++] = rest;
  return p;
}

/** Zigzag encoding of a signed safe integer; a bigint beyond that range (a client's far-off timestamp). */
function zigzag(v: bigint): number | bigint {
  const n = Number(v);
  if (Number.isSafeInteger(n) && Math.abs(n) < 2 ** 52) return n >= 0 ? n * 2 : -n * 2 - 1;
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
}

function zigzagBytes(z: number | bigint): number {
  if (typeof z === 'number') return uvarintBytes(z);
  let bytes = 1;
  for (let rest = z; rest >= 0x80n; rest >>= 7n) bytes++;
  return bytes;
}

function putZigzag(buf: Buffer, at: number, z: number | bigint): number {
  if (typeof z === 'number') return putUVarint(buf, at, z);
  let p = at;
  let rest = z;
  while (rest >= 0x80n) {
    buf[p++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  buf[p++] = Number(rest);
  return p;
}

/** Bytes of a varint-length-prefixed byte field (-1 for null). */
function varBytesBytes(b: Buffer | null): number {
  return b === null ? 1 : uvarintBytes(b.length * 2) + b.length;
}

function putVarBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return putUVarint(buf, at, 1); // zigzag(-1)
  const p = putUVarint(buf, at, b.length * 2);
  return p + b.copy(buf, p);
}

/** A record's fields as they are written, and the size of its body (after its length prefix). */
interface PlannedRecord {
  input: RecordInput;
  timestampDelta: number | bigint;
  offsetDelta: number;
  headerKeys: Buffer[];
  bodyBytes: number;
}

/** Builds a record batch v2 (for internal topics, conversions and tests): lengths, attributes and CRC. */
export function buildRecordBatch(records: RecordInput[], options: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch holds at least one record');
  const baseTimestamp =
    options.deleteHorizonMs ??
    records.reduce((min, r) => (r.timestamp < min ? r.timestamp : min), records[0]!.timestamp);
  let maxTimestamp = records[0]!.timestamp;
  let lastOffsetDelta = 0;
  // Sized first, then written straight into one buffer: no buffer per record, each value copied once.
  let recordsBytes = 0;
  const planned: PlannedRecord[] = records.map((r, i) => {
    const offsetDelta = r.offsetDelta ?? i;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    if (offsetDelta > lastOffsetDelta) lastOffsetDelta = offsetDelta;
    const timestampDelta = zigzag(r.timestamp - baseTimestamp);
    const headers = r.headers ?? [];
    const headerKeys = headers.map((h) => Buffer.from(h.key, 'utf8'));
    let bodyBytes = 1 + zigzagBytes(timestampDelta) + uvarintBytes(offsetDelta * 2);
    bodyBytes += varBytesBytes(r.key) + varBytesBytes(r.value) + uvarintBytes(headers.length * 2);
    headers.forEach((h, j) => {
      bodyBytes += varBytesBytes(headerKeys[j]!) + varBytesBytes(h.value);
    });
    recordsBytes += uvarintBytes(bodyBytes * 2) + bodyBytes;
    return { input: r, timestampDelta, offsetDelta, headerKeys, bodyBytes };
  });
  const compression = options.compression ?? CompressionType.None;
  // Uncompressed records are written in place after the header; compressed ones into a buffer of their own.
  const plain = compression === CompressionType.None;
  const recordsOut = Buffer.allocUnsafe((plain ? RECORD_BATCH_OVERHEAD : 0) + recordsBytes);
  let at = plain ? RECORD_BATCH_OVERHEAD : 0;
  for (const p of planned) {
    at = putUVarint(recordsOut, at, p.bodyBytes * 2);
    recordsOut[at++] = 0; // record attributes
    at = putZigzag(recordsOut, at, p.timestampDelta);
    at = putUVarint(recordsOut, at, p.offsetDelta * 2);
    at = putVarBytes(recordsOut, at, p.input.key);
    at = putVarBytes(recordsOut, at, p.input.value);
    const headers = p.input.headers ?? [];
    at = putUVarint(recordsOut, at, headers.length * 2);
    headers.forEach((h, j) => {
      at = putVarBytes(recordsOut, at, p.headerKeys[j]!);
      at = putVarBytes(recordsOut, at, h.value);
    });
  }
  if (at !== recordsOut.length) throw new Error('record batch size mismatch');
  const batch = plain
    ? recordsOut
    : Buffer.concat([Buffer.alloc(RECORD_BATCH_OVERHEAD), compress(compression, recordsOut)]);

  let attributes = compression;
  if (options.timestampType === 'LogAppendTime') attributes |= TIMESTAMP_TYPE_MASK;
  if (options.isTransactional) attributes |= TRANSACTIONAL_FLAG_MASK;
  if (options.isControl) attributes |= CONTROL_FLAG_MASK;
  if (options.deleteHorizonMs !== undefined) attributes |= DELETE_HORIZON_FLAG_MASK;

  batch.writeBigInt64BE(options.baseOffset ?? 0n, BASE_OFFSET_OFFSET);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(Math.max(lastOffsetDelta, options.lastOffsetDelta ?? 0), LAST_OFFSET_DELTA_OFFSET);
  batch.writeBigInt64BE(baseTimestamp, BASE_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(maxTimestamp, MAX_TIMESTAMP_OFFSET);
  batch.writeBigInt64BE(options.producerId ?? -1n, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(records.length, RECORDS_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch, ATTRIBUTES_OFFSET), CRC_OFFSET);
  return batch;
}

/**
 * `batch` built again with `records` (some or all of its own): its base offset, leader epoch, timestamp type,
 * producer fields and transactional flag kept, and its last offset delta too, so that a batch with records
 * removed still covers the sequence range its producer sent. `changes` set another codec or a delete horizon.
 */
export function rebuildRecordBatch(
  batch: RecordBatch,
  records: Record[],
  changes: Pick<BatchOptions, 'compression' | 'deleteHorizonMs'> = {},
): Buffer {
  const base = batch.baseOffset;
  return buildRecordBatch(
    records.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp,
      offsetDelta: Number(r.offset - base),
    })),
    {
      baseOffset: base,
      partitionLeaderEpoch: batch.partitionLeaderEpoch,
      compression: batch.compression,
      timestampType: batch.timestampType,
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
      isTransactional: batch.isTransactional,
      lastOffsetDelta: batch.lastOffsetDelta,
      ...changes,
    },
  );
}
