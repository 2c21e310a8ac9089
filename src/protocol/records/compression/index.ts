import { gunzipSync, gzipSync } from 'node:zlib';

/** Compression codec ids, as in the low 3 bits of a record batch's attributes. */
export enum CompressionType {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

// Placeholder: only gzip so far.
export function compress(type: CompressionType, data: Buffer): Buffer {
  switch (type) {
    case CompressionType.None:
      return data;
    case CompressionType.Gzip:
      return gzipSync(data);
    default:
      throw new Error(`compression ${CompressionType[type] ?? type} not implemented yet`);
  }
}

export function decompress(type: CompressionType, data: Buffer): Buffer {
  switch (type) {
    case CompressionType.None:
      return data;
    case CompressionType.Gzip:
      return gunzipSync(data);
    default:
      throw new Error(`compression ${CompressionType[type] ?? type} not implemented yet`);
  }
}
