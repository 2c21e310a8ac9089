import { CompressionType } from '../protocol/records/compression/index.js';
import { readBatches } from '../protocol/records/record-batch.js';
import { buildRecordBatch } from '../protocol/records/record-batch-builder.js';

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
      const base = b.baseOffset;
      return buildRecordBatch(
        [...b.records()].map((r) => ({
          key: r.key,
          value: r.value,
          headers: r.headers,
          timestamp: r.timestamp,
          offsetDelta: Number(r.offset - base),
        })),
        {
          baseOffset: base,
          partitionLeaderEpoch: b.partitionLeaderEpoch,
          compression: codec,
          timestampType: b.timestampType,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          baseSequence: b.baseSequence,
          isTransactional: b.isTransactional,
        },
      );
    }),
  );
}
