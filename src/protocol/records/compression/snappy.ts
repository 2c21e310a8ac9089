import packageRequire from '../package-require.cjs';
import { CompressionError } from './errors.js';

interface SnappyNative {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Buffer, options?: { asBuffer: boolean }): Buffer | string;
}

let native: SnappyNative | null = null;

/** The native codec, loaded on first use (as lz4's): its memory is paid only by brokers that see snappy. */
function snappy(): SnappyNative {
  native ??= packageRequire('snappy') as SnappyNative;
  return native;
}

/**
 * The framing of snappy-java's SnappyOutputStream, which Java producers (and librdkafka, for compatibility)
 * write: a 16-byte header (magic, version, compatible version), then blocks of int32 length + raw snappy.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
/** snappy-java's default block size. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

/** The uncompressed length a raw snappy block declares (its leading varint), without decompressing. */
function rawUncompressedLength(block: Buffer): number {
  let result = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const b = block[i]!;
    result += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return result;
  }
  throw new CompressionError('snappy block without a valid length');
}

function uncompressRaw(block: Buffer, maxBytes: number): Buffer {
  const length = rawUncompressedLength(block);
  if (length > maxBytes) throw new CompressionError(`snappy block of ${length} bytes exceeds the limit of ${maxBytes}`);
  try {
    return snappy().uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (e) {
    throw new CompressionError(`corrupt snappy block: ${(e as Error).message}`);
  }
}

export function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** Decompresses raw snappy or xerial-framed snappy. */
export function snappyDecompress(data: Buffer, maxBytes: number): Buffer {
  if (!isXerialFramed(data)) return uncompressRaw(data, maxBytes);
  const blocks: Buffer[] = [];
  let total = 0;
  for (let at = XERIAL_HEADER_BYTES; at < data.length; ) {
    if (at + 4 > data.length) throw new CompressionError('truncated snappy frame');
    const size = data.readInt32BE(at);
    if (size < 0 || at + 4 + size > data.length)
      throw new CompressionError(`snappy block of ${size} bytes beyond the data`);
    const block = uncompressRaw(data.subarray(at + 4, at + 4 + size), maxBytes - total);
    total += block.length;
    blocks.push(block);
    at += 4 + size;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}

/** Compresses in snappy-java's framing, as Java producers write it. */
export function snappyCompress(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_VERSION, 12);
  parts.push(header);
  for (let at = 0; at < data.length; at += XERIAL_BLOCK_BYTES) {
    const block = snappy().compressSync(data.subarray(at, Math.min(at + XERIAL_BLOCK_BYTES, data.length)));
    const size = Buffer.alloc(4);
    size.writeInt32BE(block.length);
    parts.push(size, block);
  }
  return Buffer.concat(parts);
}
