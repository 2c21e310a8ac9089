/** Raised for compressed data that cannot be decompressed, or whose output would pass the allowed size. */
export class CompressionError extends Error {
  override readonly name = 'CompressionError';
}
