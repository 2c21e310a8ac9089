import { DecodeError } from '../primitives/decode-error.js';
import { Reader } from '../primitives/reader.js';
import { Writer } from '../primitives/writer.js';
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

function writeMessage(
  w: Writer,
  offset: bigint,
  magic: LegacyMagic,
  attributes: number,
  timestamp: bigint,
  key: Buffer | null,
  value: Buffer | null,
): void {
  const body = new Writer(64);
  body.writeInt8(magic);
  body.writeInt8(attributes);
  if (magic === 1) body.writeInt64(timestamp);
  body.writeNullableBytes(key);
  body.writeNullableBytes(value);
  const bytes = body.toBuffer();
  w.writeInt64(offset);
  w.writeInt32(CRC_BYTES + bytes.length);
  w.writeUInt32(crc32(bytes));
  w.writeRaw(bytes);
}

export interface LegacyRecordInput {
  key: Buffer | null;
  value: Buffer | null;
  /** Ignored by magic 0. */
  timestamp: bigint;
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
  const { magic, baseOffset } = options;
  const compression = options.compression ?? CompressionType.None;
  const logAppend = magic === 1 && options.timestampType === 'LogAppendTime';
  const typeBit = logAppend ? TIMESTAMP_TYPE_MASK : 0;
  const w = new Writer(256);
  if (compression === CompressionType.None) {
    records.forEach((rec, i) => {
      const ts = logAppend ? (options.logAppendTime ?? rec.timestamp) : rec.timestamp;
      writeMessage(w, baseOffset + BigInt(i), magic, typeBit, ts, rec.key, rec.value);
    });
    return w.toBuffer();
  }
  const inner = new Writer(256);
  records.forEach((rec, i) => {
    const innerOffset = magic === 1 ? BigInt(i) : baseOffset + BigInt(i);
    writeMessage(inner, innerOffset, magic, 0, rec.timestamp, rec.key, rec.value);
  });
  const maxTimestamp = records.reduce((max, rec) => (rec.timestamp > max ? rec.timestamp : max), NO_TIMESTAMP);
  const wrapperTimestamp = logAppend ? (options.logAppendTime ?? maxTimestamp) : maxTimestamp;
  // Magic 0 LZ4 wrappers carry Kafka's old header checksum (KIP-57).
  const packed = compress(compression, inner.toBuffer(), { legacyLz4HeaderChecksum: magic === 0 });
  writeMessage(
    w,
    baseOffset + BigInt(records.length - 1),
    magic,
    compression | typeBit,
    wrapperTimestamp,
    null,
    packed,
  );
  return w.toBuffer();
}

/** The magic of the first message of a legacy set (0 or 1), or null when the buffer holds none. */
export function legacyMagicOf(buf: Buffer): number | null {
  return buf.length > LEGACY_LOG_OVERHEAD + CRC_BYTES ? buf[LEGACY_LOG_OVERHEAD + CRC_BYTES]! : null;
}
