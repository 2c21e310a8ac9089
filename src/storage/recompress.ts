import { CompressionType } from '../protocol/records/compression/index.js';
import { readBatches } from '../protocol/records/record-batch.js';
import { rebuildRecordBatch } from '../protocol/records/record-batch-builder.js';

/** Topic compression.type values and the codec each stands for; `producer` keeps what the producer sent. */
const TOPIC_CODECS: Readonly<Record<string, CompressionType>> = {
  uncompressed: CompressionType.None,
  gzip: CompressionType.Gzip,
  snappy: CompressionType.Snappy,
  lz4: CompressionType.Lz4,
  zstd: CompressionType.Zstd,
};

/** The codec a topic's compression.type asks for, or null for `producer` (store batches as sent). */
export function topicCodec(compressionType: string | undefined): CompressionType | null {
  return compressionType === undefined ? null : (TOPIC_CODECS[compressionType] ?? null);
}

/**
 * Re-writes validated batches whose codec differs from the topic's compression.type, as Kafka's LogValidator
 * does: records, offset deltas, timestamps, headers and the producer fields are kept; only the codec changes.
 * Batches already in the topic's codec are kept as they are (no copy).
 */
export function recompressBatches(records: Buffer, codec: CompressionType): Buffer {
  const { batches } = readBatches(records);
  if (batches.every((b) => b.compression === codec)) return records;
  return Buffer.concat(
    batches.map((b) => {
      if (b.compression === codec) return b.buf;
      return rebuildRecordBatch(b, [...b.records()], { compression: codec });
    }),
  );
}
