import { gunzipSync, gzipSync } from 'node:zlib';
import { CompressionError } from './errors.js';
import { lz4Compress, lz4Decompress } from './lz4.js';
import { snappyCompress, snappyDecompress } from './snappy.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

export { CompressionError } from './errors.js';
export { lz4Compress, lz4Decompress } from './lz4.js';

/** Compression codec ids, as in the low 3 bits of a record batch's (or legacy message's) attributes. */
export enum CompressionType {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

/**
 * Default bound on decompressed output. Batches are bounded by message.max.bytes on the way in; this
 * stops a small hostile batch from expanding without limit (a "zip bomb").
 */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface CompressOptions {
  /** LZ4 only: write the incorrect header checksum of magic-0 messages. */
  legacyLz4HeaderChecksum?: boolean;
}

export function compress(type: CompressionType, data: Buffer, options: CompressOptions = {}): Buffer {
  switch (type) {
    case CompressionType.None:
      return data;
    case CompressionType.Gzip:
      return gzipSync(data);
    case CompressionType.Snappy:
      return snappyCompress(data);
    case CompressionType.Lz4:
      return lz4Compress(data, { legacyHeaderChecksum: options.legacyLz4HeaderChecksum === true });
    case CompressionType.Zstd:
      return zstdCompress(data);
    default:
      throw new CompressionError(`unknown compression type ${type as number}`);
  }
}

export function decompress(type: CompressionType, data: Buffer, maxBytes = MAX_DECOMPRESSED_BYTES): Buffer {
  switch (type) {
    case CompressionType.None:
      return data;
    case CompressionType.Gzip:
      try {
        return gunzipSync(data, { maxOutputLength: maxBytes });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE')
          throw new CompressionError(`gzip data exceeds the limit of ${maxBytes} bytes`);
        throw new CompressionError(`corrupt gzip data: ${(e as Error).message}`);
      }
    case CompressionType.Snappy:
      return snappyDecompress(data, maxBytes);
    case CompressionType.Lz4:
      return lz4Decompress(data, maxBytes);
    case CompressionType.Zstd:
      return zstdDecompress(data, maxBytes);
    default:
      throw new CompressionError(`unknown compression type ${type as number}`);
  }
}
