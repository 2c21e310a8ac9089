import { DecodeError } from '../primitives/decode-error.js';
import { writeInt64, writeInt64FromNumber } from '../primitives/int64.js';
import { Reader } from '../primitives/reader.js';
import { CompressionType, compress, decompress, MAX_DECOMPRESSED_BYTES } from './compression/index.js';
import { crc32 } from './crc32c.js';

/**
 * Legacy message sets, magic 0 and 1 (Kafka before 0.11; the 0.10.x clients still speak them):
 * a sequence of [offset int64][size int32][crc uint32][magic int8][attributes int8][timestamp int64, magic 1]
 * [key bytes][value bytes]. A compressed set is one wrapper message whose value is the compressed inner
 * set and whose offset is that of the last inner message. Inner offsets are absolute for magic 0 and
 * relative (0, 1, ...) for magic 1 (KIP-31).
 */
export type LegacyMagic = 0 | 1;

const OFFSET_BYTES = 8;
const SIZE_BYTES = 4;
/** offset + size: the bytes before what the size counts. */
export const LEGACY_LOG_OVERHEAD = OFFSET_BYTES + SIZE_BYTES;
/** crc + magic + attributes + key length + value length. */
const MESSAGE_V0_OVERHEAD = 4 + 1 + 1 + 4 + 4;
const CRC_BYTES = 4;
const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_MASK = 0x08;
/** Magic 0 messages carry no timestamp; Kafka reports this one. */
export const NO_TIMESTAMP = -1n;

export interface LegacyRecord {
  offset: bigint;
  timestamp: bigint;
  timestampType: 'CreateTime' | 'LogAppendTime';
  key: Buffer | null;
  value: Buffer | null;
  magic: LegacyMagic;
}

interface RawMessage {
  offset: bigint;
  magic: LegacyMagic;
  attributes: number;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

function readMessage(r: Reader): RawMessage | null {
  if (r.remaining < LEGACY_LOG_OVERHEAD) return null;
  const start = r.pos;
  const offset = r.readInt64();
  const size = r.readInt32();
  if (size < MESSAGE_V0_OVERHEAD) throw new DecodeError(`legacy message size ${size}`, start);
  // A message cut short at the end of a fetch response is not an error: the caller stops there.
  if (size > r.remaining) {
    r.pos = start;
    return null;
  }
  const end = r.pos + size;
  const crc = r.readUInt32();
  if (crc32(r.buf, r.pos, end) !== crc) throw new DecodeError('legacy message CRC mismatch', start);
  const magic = r.readInt8();
  if (magic !== 0 && magic !== 1) throw new DecodeError(`legacy message magic ${magic}`, start);
  const attributes = r.readInt8();
  const timestamp = magic === 1 ? r.readInt64() : NO_TIMESTAMP;
  const body = new Reader(r.buf, r.pos, end);
  const key = body.readNullableBytes();
  const value = body.readNullableBytes();
  if (body.remaining !== 0) throw new DecodeError('legacy message longer than its fields', body.pos);
  r.pos = end;
  return { offset, magic, attributes, timestamp, key, value };
}

/**
 * The records of a legacy message set, wrappers decompressed and offsets made absolute. A partial message
 * at the end (as fetch responses may carry) is ignored. CRCs are checked.
 */
export function readLegacyRecords(buf: Buffer, maxBytes = MAX_DECOMPRESSED_BYTES): LegacyRecord[] {
  const out: LegacyRecord[] = [];
  const r = new Reader(buf);
  for (let m = readMessage(r); m; m = readMessage(r)) {
    const compression = (m.attributes & COMPRESSION_MASK) as CompressionType;
    const timestampType = m.magic === 1 && m.attributes & TIMESTAMP_TYPE_MASK ? 'LogAppendTime' : 'CreateTime';
    if (compression === CompressionType.None) {
      out.push({ offset: m.offset, timestamp: m.timestamp, timestampType, key: m.key, value: m.value, magic: m.magic });
      continue;
    }
    if (!m.value) throw new DecodeError('compressed legacy message without a value', r.pos);
    const innerBytes = decompress(compression, m.value, maxBytes);
    const inner: RawMessage[] = [];
    const ir = new Reader(innerBytes);
    for (let x = readMessage(ir); x; x = readMessage(ir)) {
      if ((x.attributes & COMPRESSION_MASK) !== 0) throw new DecodeError('nested compressed legacy message', ir.pos);
      inner.push(x);
    }
    if (ir.remaining !== 0) throw new DecodeError('truncated message inside a compressed legacy message', ir.pos);
    const lastRelative = inner.length > 0 ? inner[inner.length - 1]!.offset : 0n;
    for (const x of inner) {
      // Magic 1 inner offsets are relative; the wrapper holds the absolute offset of the last one.
      const offset = m.magic === 1 ? m.offset - lastRelative + x.offset : x.offset;
      const timestamp = timestampType === 'LogAppendTime' ? m.timestamp : x.timestamp;
      out.push({ offset, timestamp, timestampType, key: x.key, value: x.value, magic: x.magic });
    }
  }
  return out;
}

/** Bytes of one legacy message holding `key` and `value`, its offset and size fields included. */
function messageBytes(magic: LegacyMagic, key: Buffer | null, value: Buffer | null): number {
  const timestampBytes = magic === 1 ? 8 : 0;
  return LEGACY_LOG_OVERHEAD + MESSAGE_V0_OVERHEAD + timestampBytes + (key?.length ?? 0) + (value?.length ?? 0);
}

/**
 * Writes one message at `at` of `out` (which has room for messageBytes), its CRC computed in place; returns
 * where it ends. Offsets are log offsets, safe integers.
 */
function writeMessage(
  out: Buffer,
  at: number,
  offset: number,
  magic: LegacyMagic,
  attributes: number,
  timestamp: bigint,
  key: Buffer | null,
  value: Buffer | null,
): number {
  const end = at + messageBytes(magic, key, value);
  writeInt64FromNumber(out, offset, at);
  out.writeInt32BE(end - at - LEGACY_LOG_OVERHEAD, at + OFFSET_BYTES);
  const crcAt = at + LEGACY_LOG_OVERHEAD;
  let p = crcAt + CRC_BYTES;
  out[p++] = magic;
  out[p++] = attributes;
  if (magic === 1) {
    // A client's timestamp may lie beyond 2^53: written exactly.
    writeInt64(out, timestamp, p);
    p += 8;
  }
  for (const field of [key, value]) {
    if (field === null) {
      out.writeInt32BE(-1, p);
      p += 4;
    } else {
      out.writeInt32BE(field.length, p);
      p += 4 + field.copy(out, p + 4);
    }
  }
  out.writeUInt32BE(crc32(out, crcAt + CRC_BYTES, end), crcAt);
  return end;
}

export interface LegacyRecordInput {
  key: Buffer | null;
  value: Buffer | null;
  /** Ignored by magic 0. */
  timestamp: bigint;
  /** The message's own offset, where offsets have gaps (after compaction); else the set's base offset + index. */
  offset?: bigint;
}

export interface LegacySetOptions {
  magic: LegacyMagic;
  /** Offset of the first record; the others follow it. */
  baseOffset: bigint;
  compression?: CompressionType;
  timestampType?: 'CreateTime' | 'LogAppendTime';
  /** For LogAppendTime: the time the wrapper (or every message) carries. */
  logAppendTime?: bigint;
}

/** Writes a legacy message set: plain messages, or one compressed wrapper holding them all. */
export function buildLegacyMessageSet(records: LegacyRecordInput[], options: LegacySetOptions): Buffer {
  const { magic } = options;
  const baseOffset = Number(options.baseOffset);
  const compression = options.compression ?? CompressionType.None;
  const logAppend = magic === 1 && options.timestampType === 'LogAppendTime';
  const typeBit = logAppend ? TIMESTAMP_TYPE_MASK : 0;
  // The messages go straight into one buffer of their exact size: no per-message buffers, one copy of each value.
  let size = 0;
  for (const rec of records) size += messageBytes(magic, rec.key, rec.value);
  const set = Buffer.allocUnsafe(size);
  let at = 0;
  const offsetOf = (rec: LegacyRecordInput, i: number) =>
    rec.offset === undefined ? baseOffset + i : Number(rec.offset);
  if (compression === CompressionType.None) {
    records.forEach((rec, i) => {
      const ts = logAppend ? (options.logAppendTime ?? rec.timestamp) : rec.timestamp;
      at = writeMessage(set, at, offsetOf(rec, i), magic, typeBit, ts, rec.key, rec.value);
    });
    return set;
  }
  records.forEach((rec, i) => {
    // Magic 1 inner offsets are relative to the first (KIP-31), magic 0 ones absolute.
    const innerOffset = magic === 1 ? offsetOf(rec, i) - baseOffset : offsetOf(rec, i);
    at = writeMessage(set, at, innerOffset, magic, 0, rec.timestamp, rec.key, rec.value);
  });
  const maxTimestamp = records.reduce((max, rec) => (rec.timestamp > max ? rec.timestamp : max), NO_TIMESTAMP);
  const wrapperTimestamp = logAppend ? (options.logAppendTime ?? maxTimestamp) : maxTimestamp;
  // Magic 0 LZ4 wrappers carry Kafka's old header checksum (KIP-57).
  const packed = compress(compression, set, { legacyLz4HeaderChecksum: magic === 0 });
  const wrapper = Buffer.allocUnsafe(messageBytes(magic, null, packed));
  // The wrapper carries the absolute offset of its last message.
  writeMessage(
    wrapper,
    0,
    offsetOf(records[records.length - 1]!, records.length - 1),
    magic,
    compression | typeBit,
    wrapperTimestamp,
    null,
    packed,
  );
  return wrapper;
}

/** The magic of the first message of a legacy set (0 or 1), or null when the buffer holds none. */
export function legacyMagicOf(buf: Buffer): number | null {
  return buf.length > LEGACY_LOG_OVERHEAD + CRC_BYTES ? buf[LEGACY_LOG_OVERHEAD + CRC_BYTES]! : null;
}
