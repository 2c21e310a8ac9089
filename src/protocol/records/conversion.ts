import { DecodeError } from '../primitives/decode-error.js';
import { readInt64AsNumber, writeInt64FromNumber } from '../primitives/int64.js';
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
} from './batch-header.js';
import { CompressionType } from './compression/index.js';
import { crc32, crc32c } from './crc32c.js';
import { buildLegacyMessageSet, type LegacyMagic, NO_TIMESTAMP, readLegacyRecords } from './legacy-message-set.js';
import { readBatches } from './record-batch.js';
import { buildRecordBatch, putUVarint, uvarintBytes } from './record-batch-builder.js';

/** Compression codecs that existed for legacy messages (zstd came with magic 2). */
function legacyCodec(type: CompressionType): CompressionType {
  return type === CompressionType.Zstd ? CompressionType.None : type;
}

/**
 * Up-conversion for Produce v0-2: a legacy message set becomes one v2 batch per wrapper (or one for the
 * plain messages), keeping keys, values, timestamps (magic 0 has none: NO_TIMESTAMP) and compression.
 * Offsets restart at 0: the log assigns them.
 */
export function upConvertToV2(legacy: Buffer): { records: Buffer; recordCount: number } {
  const plain = upConvertPlainToV2(legacy);
  if (plain) return plain;
  const records = readLegacyRecords(legacy);
  if (records.length === 0) throw new DecodeError('no message in the legacy message set', 0);
  const compression = ((legacy[LEGACY_ATTRIBUTES_AT] ?? 0) & 0x07) as CompressionType;
  const batch = buildRecordBatch(
    records.map((r, i) => ({ key: r.key, value: r.value, timestamp: r.timestamp, offsetDelta: i })),
    { compression, timestampType: records[0]!.timestampType },
  );
  return { records: batch, recordCount: records.length };
}

/** Attributes byte of the first legacy message: offset, size, crc, magic precede it. */
const LEGACY_ATTRIBUTES_AT = 8 + 4 + 4 + 1;

/** Where a legacy message's fields start, from the message's first byte (its offset field). */
const SIZE_AT = 8;
const CRC_AT = 12;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 17;
const TIMESTAMP_AT = 18;
/** Bytes after the size field that every message has: crc, magic, attributes, key length, value length. */
const MESSAGE_V0_OVERHEAD = 4 + 1 + 1 + 4 + 4;
const LEGACY_COMPRESSION_MASK = 0x07;
const LEGACY_TIMESTAMP_TYPE_MASK = 0x08;
/** Timestamps at or beyond this magnitude take the exact (bigint) path: deltas of numbers stay exact below it. */
const MAX_FAST_TIMESTAMP = 2 ** 52;

/**
 * The same conversion as upConvertToV2's general path, byte for byte, for a set of plain (uncompressed) messages,
 * which is what the Java client 0.9/0.10 and kafka-python send by default: the messages are walked in place
 * (CRC checked, fields located) and their keys and values copied once into the batch, without an object per
 * record. Null when the set holds a compressed message or a timestamp beyond 2^52: the general path converts it.
 * Throws DecodeError as readLegacyRecords does; a partial message at the end is ignored, as there.
 */
function upConvertPlainToV2(legacy: Buffer): { records: Buffer; recordCount: number } | null {
  // Pass 1: check every message and find the timestamps' range.
  let count = 0;
  let minTimestamp = Number.POSITIVE_INFINITY;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  let end = 0;
  for (let at = 0; at + SIZE_AT + 4 <= legacy.length; ) {
    const size = int32At(legacy, at + SIZE_AT);
    if (size < MESSAGE_V0_OVERHEAD) throw new DecodeError(`legacy message size ${size}`, at);
    const next = at + CRC_AT + size;
    if (next > legacy.length) break;
    if (crc32(legacy, at + MAGIC_AT, next) !== legacy.readUInt32BE(at + CRC_AT)) {
      throw new DecodeError('legacy message CRC mismatch', at);
    }
    const magic = legacy[at + MAGIC_AT]!;
    if (magic !== 0 && magic !== 1) throw new DecodeError(`legacy message magic ${magic}`, at);
    if ((legacy[at + ATTRIBUTES_AT]! & LEGACY_COMPRESSION_MASK) !== 0) return null;
    let timestamp = -1;
    if (magic === 1) {
      if (size < MESSAGE_V0_OVERHEAD + 8) throw new DecodeError(`legacy message size ${size}`, at);
      timestamp = readInt64AsNumber(legacy, at + TIMESTAMP_AT);
      if (Math.abs(timestamp) >= MAX_FAST_TIMESTAMP) return null;
    }
    const keyAt = at + TIMESTAMP_AT + (magic === 1 ? 8 : 0);
    const valueAt = keyAt + 4 + fieldBytes(legacy, keyAt, next);
    if (valueAt + 4 + fieldBytes(legacy, valueAt, next) !== next) {
      throw new DecodeError('legacy message longer than its fields', at);
    }
    if (timestamp < minTimestamp) minTimestamp = timestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    count++;
    at = end = next;
  }
  if (count === 0) throw new DecodeError('no message in the legacy message set', 0);

  // Pass 2: the size of each record, then pass 3 writes them; both walk the checked messages again.
  let recordsBytes = 0;
  for (let at = 0, i = 0; at < end; i++) {
    const body = plainRecordBodyBytes(legacy, at, i, minTimestamp);
    recordsBytes += uvarintBytes(body * 2) + body;
    at += CRC_AT + int32At(legacy, at + SIZE_AT);
  }
  const batch = Buffer.allocUnsafe(RECORD_BATCH_OVERHEAD + recordsBytes);
  let out = RECORD_BATCH_OVERHEAD;
  for (let at = 0, i = 0; at < end; i++) {
    const next = at + CRC_AT + int32At(legacy, at + SIZE_AT);
    const magic = legacy[at + MAGIC_AT]!;
    const timestamp = magic === 1 ? readInt64AsNumber(legacy, at + TIMESTAMP_AT) : -1;
    const keyAt = at + TIMESTAMP_AT + (magic === 1 ? 8 : 0);
    const valueAt = keyAt + 4 + fieldBytes(legacy, keyAt, next);
    out = putUVarint(batch, out, plainRecordBodyBytes(legacy, at, i, minTimestamp) * 2);
    batch[out++] = 0; // record attributes
    out = putUVarint(batch, out, (timestamp - minTimestamp) * 2);
    out = putUVarint(batch, out, i * 2);
    out = copyField(legacy, keyAt, batch, out);
    out = copyField(legacy, valueAt, batch, out);
    batch[out++] = 0; // no headers
    at = next;
  }
  if (out !== batch.length) throw new Error('record batch size mismatch');
  const firstIsLogAppendTime = legacy[MAGIC_AT] === 1 && (legacy[ATTRIBUTES_AT]! & LEGACY_TIMESTAMP_TYPE_MASK) !== 0;
  writeInt64FromNumber(batch, 0, BASE_OFFSET_OFFSET);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(-1, PARTITION_LEADER_EPOCH_OFFSET);
  batch[MAGIC_OFFSET] = CURRENT_MAGIC;
  batch.writeInt16BE(firstIsLogAppendTime ? TIMESTAMP_TYPE_MASK : 0, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64FromNumber(batch, minTimestamp, BASE_TIMESTAMP_OFFSET);
  writeInt64FromNumber(batch, maxTimestamp, MAX_TIMESTAMP_OFFSET);
  writeInt64FromNumber(batch, -1, PRODUCER_ID_OFFSET);
  batch.writeInt16BE(-1, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(-1, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch, ATTRIBUTES_OFFSET), CRC_OFFSET);
  return { records: batch, recordCount: count };
}

/**
 * The big-endian int32 at `at`, which the caller has checked lies within `buf`. Buffer's readInt32BE, called from
 * the per-message loops below, was a generic property load each time in V8's optimised code (a tenth of the
 * conversion's time, measured); the byte loads are not.
 */
function int32At(buf: Buffer, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** Writes `value` as a big-endian int32 at `at`, which the caller has made room for (see int32At). */
function putInt32At(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

/** Writes a number below 2^53 in magnitude as a big-endian int64 at `at`, which the caller has made room for. */
function putInt64At(buf: Buffer, at: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  putInt32At(buf, at, high);
  putInt32At(buf, at + 4, value - high * 0x1_0000_0000);
}

/** Bytes of a legacy key or value (its int32 length at `at`; -1 is null), checked to end by `end`. */
function fieldBytes(buf: Buffer, at: number, end: number): number {
  if (at + 4 > end) throw new DecodeError('legacy message shorter than its fields', at);
  const length = int32At(buf, at);
  if (length < -1 || at + 4 + Math.max(length, 0) > end) throw new DecodeError(`legacy field length ${length}`, at);
  return Math.max(length, 0);
}

/** A v2 record's body bytes (after its length) for the checked plain message at `at`, record `i` of its batch. */
function plainRecordBodyBytes(buf: Buffer, at: number, i: number, baseTimestamp: number): number {
  const magic = buf[at + MAGIC_AT]!;
  const timestamp = magic === 1 ? readInt64AsNumber(buf, at + TIMESTAMP_AT) : -1;
  const keyAt = at + TIMESTAMP_AT + (magic === 1 ? 8 : 0);
  const keyLength = int32At(buf, keyAt);
  const valueLength = int32At(buf, keyAt + 4 + Math.max(keyLength, 0));
  return (
    1 +
    uvarintBytes((timestamp - baseTimestamp) * 2) +
    uvarintBytes(i * 2) +
    varFieldBytes(keyLength) +
    varFieldBytes(valueLength) +
    1
  );
}

/** Bytes of a v2 varint-length-prefixed field of `length` bytes (-1: null). */
function varFieldBytes(length: number): number {
  return length < 0 ? 1 : uvarintBytes(length * 2) + length;
}

/** Copies the legacy field at `from` (int32 length, -1 null) as a v2 field (zigzag varint length); returns the end. */
function copyField(source: Buffer, from: number, target: Buffer, at: number): number {
  const length = int32At(source, from);
  if (length < 0) return putUVarint(target, at, 1); // zigzag(-1)
  const p = putUVarint(target, at, length * 2);
  // What Buffer's copy does after checking its arguments, checks that were generic property loads in the broker's
  // optimised code (its copy is shared by every caller); the length was checked when the message was.
  target.set(new Uint8Array(source.buffer, source.byteOffset + from + 4, length), p);
  return p + length;
}

/**
 * Down-conversion for Fetch v0-3: v2 batches become legacy messages of `magic`, one wrapper per compressed
 * batch (zstd, which legacy messages cannot carry, is written uncompressed). Absolute offsets are kept;
 * headers are dropped; control batches are skipped. A partial trailing batch is dropped.
 */
export function downConvertFromV2(records: Buffer, magic: LegacyMagic): Buffer {
  const plain = downConvertPlainFromV2(records, magic);
  if (plain) return plain;
  const parts: Buffer[] = [];
  for (const batch of readBatches(records).batches) {
    if (batch.isControl) continue;
    const list = [...batch.records()];
    if (list.length === 0) continue;
    const compression = legacyCodec(batch.compression);
    const inputs = list.map((r) => ({
      key: r.key,
      value: r.value,
      timestamp: magic === 0 ? NO_TIMESTAMP : r.timestamp,
      // Plain messages keep their own offsets (there may be gaps after compaction).
      offset: r.offset,
    }));
    if (compression === CompressionType.None) {
      parts.push(
        buildLegacyMessageSet(inputs, {
          magic,
          baseOffset: list[0]!.offset,
          timestampType: batch.timestampType,
          logAppendTime: batch.maxTimestamp,
        }),
      );
    } else {
      parts.push(
        buildLegacyMessageSet(inputs, {
          magic,
          baseOffset: list[0]!.offset,
          compression,
          timestampType: batch.timestampType,
          logAppendTime: batch.maxTimestamp,
        }),
      );
    }
  }
  return Buffer.concat(parts);
}

/** Bytes of a legacy message besides its key and value: offset, size, crc, magic, attributes, two lengths. */
const LEGACY_MESSAGE_FIXED_BYTES = LOG_OVERHEAD + MESSAGE_V0_OVERHEAD;
const LEGACY_TIMESTAMP_BYTES = 8;

/** Where the last `zigzagVarintAt` stopped: the byte after the varint. */
let varintEnd = 0;

/**
 * The zigzag varint at `at` (at most 2^52 in magnitude: larger ones give NaN, which the caller treats as beyond
 * the fast path), ending before `end`; sets varintEnd.
 */
function zigzagVarintAt(buf: Buffer, at: number, end: number): number {
  let unsigned = 0;
  let scale = 1;
  let p = at;
  for (;;) {
    if (p >= end) throw new DecodeError('varint past the end of its record', p);
    const b = buf[p++]!;
    unsigned += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) break;
    scale *= 128;
    if (scale > 2 ** 63) throw new DecodeError('varint longer than 10 bytes', p);
  }
  varintEnd = p;
  if (unsigned >= 2 ** 53) return Number.NaN;
  return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
}

/**
 * The same conversion as downConvertFromV2's general path, byte for byte, for record batches that are all
 * uncompressed with timestamps below 2^52 (what a log written by old clients holds): the records are walked
 * in place and each message written straight into one buffer, without an object per record or bigint
 * timestamps. Null otherwise: the general path converts the set. Throws DecodeError where the general path does
 * (a record that does not fit its batch, a malformed header).
 */
function downConvertPlainFromV2(records: Buffer, magic: LegacyMagic): Buffer | null {
  // Pass 1: the batches' headers, and room for the output (a message never takes more than its record plus
  // LEGACY_MESSAGE_FIXED_BYTES and a timestamp).
  let room = 0;
  let end = 0;
  // As readBatches walks them: a batch too short for its header is malformed, a partial one ends the set.
  for (let at = 0; at + LOG_OVERHEAD <= records.length; ) {
    const size = LOG_OVERHEAD + records.readInt32BE(at + BATCH_LENGTH_OFFSET);
    if (size < RECORD_BATCH_OVERHEAD) throw new DecodeError(`record batch size ${size}`, at);
    if (at + size > records.length) break;
    if ((records.readInt16BE(at + ATTRIBUTES_OFFSET) & COMPRESSION_CODEC_MASK) !== 0) return null;
    const base = readInt64AsNumber(records, at + BASE_TIMESTAMP_OFFSET);
    const max = readInt64AsNumber(records, at + MAX_TIMESTAMP_OFFSET);
    if (Math.abs(base) >= MAX_FAST_TIMESTAMP || Math.abs(max) >= MAX_FAST_TIMESTAMP) return null;
    const count = Math.min(Math.max(records.readInt32BE(at + RECORDS_COUNT_OFFSET), 0), size - RECORD_BATCH_OVERHEAD);
    room += size + count * (LEGACY_MESSAGE_FIXED_BYTES + LEGACY_TIMESTAMP_BYTES);
    at = end = at + size;
  }
  const out = Buffer.allocUnsafe(room);
  let o = 0;
  // Pass 2: each record of each batch, as writeMessage writes it.
  for (let at = 0; at < end; ) {
    const next = at + LOG_OVERHEAD + records.readInt32BE(at + BATCH_LENGTH_OFFSET);
    const attributes = records.readInt16BE(at + ATTRIBUTES_OFFSET);
    // Control batches (transaction markers) have no legacy form; their records are not read.
    if ((attributes & CONTROL_FLAG_MASK) !== 0) {
      at = next;
      continue;
    }
    const count = records.readInt32BE(at + RECORDS_COUNT_OFFSET);
    if (count < 0 || count > next - at - RECORD_BATCH_OVERHEAD)
      throw new DecodeError(`record count ${count} in ${next - at - RECORD_BATCH_OVERHEAD} bytes`, at);
    const baseOffset = readInt64AsNumber(records, at + BASE_OFFSET_OFFSET);
    const baseTimestamp = readInt64AsNumber(records, at + BASE_TIMESTAMP_OFFSET);
    const logAppendTime = (attributes & TIMESTAMP_TYPE_MASK) !== 0;
    const maxTimestamp = readInt64AsNumber(records, at + MAX_TIMESTAMP_OFFSET);
    const messageAttributes = magic === 1 && logAppendTime ? LEGACY_TIMESTAMP_TYPE_MASK : 0;
    let r = at + RECORD_BATCH_OVERHEAD;
    for (let i = 0; i < count; i++) {
      const length = zigzagVarintAt(records, r, next);
      if (!(length >= 0 && length <= next - varintEnd)) throw new DecodeError(`record length ${length}`, r);
      const recordEnd = varintEnd + length;
      // attributes (unused), then the deltas
      const timestampDelta = zigzagVarintAt(records, varintEnd + 1, recordEnd);
      const offsetDelta = zigzagVarintAt(records, varintEnd, recordEnd);
      if (Number.isNaN(timestampDelta) || Number.isNaN(offsetDelta)) return null;
      const keyLength = zigzagVarintAt(records, varintEnd, recordEnd);
      const keyAt = varintEnd;
      if (!(keyLength >= -1 && keyAt + Math.max(keyLength, 0) <= recordEnd))
        throw new DecodeError(`key length ${keyLength}`, keyAt);
      const valueLength = zigzagVarintAt(records, keyAt + Math.max(keyLength, 0), recordEnd);
      const valueAt = varintEnd;
      if (!(valueLength >= -1 && valueAt + Math.max(valueLength, 0) <= recordEnd))
        throw new DecodeError(`value length ${valueLength}`, valueAt);
      skipHeaders(records, valueAt + Math.max(valueLength, 0), recordEnd);
      // The message: offset, size, crc (below), magic, attributes, [timestamp], key, value.
      const messageStart = o;
      putInt64At(out, o, baseOffset + offsetDelta);
      const crcAt = o + LOG_OVERHEAD;
      o = crcAt + 4;
      out[o++] = magic;
      out[o++] = messageAttributes;
      if (magic === 1) {
        putInt64At(out, o, logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta);
        o += LEGACY_TIMESTAMP_BYTES;
      }
      o = putLegacyField(records, keyAt, keyLength, out, o);
      o = putLegacyField(records, valueAt, valueLength, out, o);
      putInt32At(out, messageStart + SIZE_AT, o - messageStart - LOG_OVERHEAD);
      putInt32At(out, crcAt, crc32(out, crcAt + 4, o));
      r = recordEnd;
    }
    if (r !== next) throw new DecodeError(`${next - r} bytes after the last record`, r);
    at = next;
  }
  return out.subarray(0, o);
}

/** Checks a v2 record's headers from `at` to the record's end, as the general decoder reads them. */
function skipHeaders(buf: Buffer, at: number, recordEnd: number): void {
  const count = zigzagVarintAt(buf, at, recordEnd);
  if (!(count >= 0 && count <= recordEnd - varintEnd)) throw new DecodeError(`header count ${count}`, at);
  let p = varintEnd;
  for (let h = 0; h < count; h++) {
    const keyLength = zigzagVarintAt(buf, p, recordEnd);
    if (!(keyLength >= 0 && varintEnd + keyLength <= recordEnd))
      throw new DecodeError(keyLength === -1 ? 'null header key' : `header key length ${keyLength}`, p);
    const valueLength = zigzagVarintAt(buf, varintEnd + keyLength, recordEnd);
    if (!(valueLength >= -1 && varintEnd + Math.max(valueLength, 0) <= recordEnd))
      throw new DecodeError(`header value length ${valueLength}`, varintEnd);
    p = varintEnd + Math.max(valueLength, 0);
  }
  if (p !== recordEnd) throw new DecodeError(`record has ${recordEnd - p} bytes left over`, p);
}

/** Writes a legacy field (int32 length, -1 for null, then the bytes) from a v2 field's bytes; returns the end. */
function putLegacyField(source: Buffer, from: number, length: number, target: Buffer, at: number): number {
  putInt32At(target, at, length);
  if (length <= 0) return at + 4;
  target.set(new Uint8Array(source.buffer, source.byteOffset + from, length), at + 4);
  return at + 4 + length;
}
