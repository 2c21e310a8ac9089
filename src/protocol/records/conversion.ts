import { DecodeError } from '../primitives/decode-error.js';
import { CompressionType } from './compression/index.js';
import { buildLegacyMessageSet, type LegacyMagic, NO_TIMESTAMP, readLegacyRecords } from './legacy-message-set.js';
import { readBatches } from './record-batch.js';
import { buildRecordBatch } from './record-batch-builder.js';

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

/**
 * Down-conversion for Fetch v0-3: v2 batches become legacy messages of `magic`, one wrapper per compressed
 * batch (zstd, which legacy messages cannot carry, is written uncompressed). Absolute offsets are kept;
 * headers are dropped; control batches are skipped. A partial trailing batch is dropped.
 */
export function downConvertFromV2(records: Buffer, magic: LegacyMagic): Buffer {
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
