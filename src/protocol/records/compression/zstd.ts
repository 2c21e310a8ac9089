import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import { CompressionError } from './errors.js';

// The WebAssembly module is compiled once, when this module loads.
await init();

/** Kafka's default zstd level (compression.zstd.level). */
export const ZSTD_DEFAULT_LEVEL = 3;
const ZSTD_MAGIC = 0xfd2fb528;

/** The content size a zstd frame header declares, if it declares one (single-segment or FCS field). */
function declaredContentSize(frame: Buffer): number | null {
  if (frame.length < 6 || frame.readUInt32LE(0) !== ZSTD_MAGIC) throw new CompressionError('not a zstd frame');
  const descriptor = frame[4]!;
  const fcsFlag = descriptor >>> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return null;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  if (at + fcsBytes > frame.length) throw new CompressionError('truncated zstd frame header');
  switch (fcsBytes) {
    case 1:
      return frame[at]!;
    case 2:
      return frame.readUInt16LE(at) + 256;
    case 4:
      return frame.readUInt32LE(at);
    default:
      return Number(frame.readBigUInt64LE(at));
  }
}

export function zstdCompress(data: Buffer, level = ZSTD_DEFAULT_LEVEL): Buffer {
  const out = compress(data, level);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function zstdDecompress(data: Buffer, maxBytes: number): Buffer {
  const declared = declaredContentSize(data);
  if (declared !== null && declared > maxBytes) {
    throw new CompressionError(`zstd frame of ${declared} bytes exceeds the limit of ${maxBytes}`);
  }
  let out: Uint8Array;
  try {
    out = decompress(data);
  } catch (e) {
    throw new CompressionError(`corrupt zstd frame: ${String(e)}`);
  }
  if (out.byteLength > maxBytes)
    throw new CompressionError(`zstd data of ${out.byteLength} bytes exceeds the limit of ${maxBytes}`);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
