import packageRequire from '../package-require.cjs';
import { CompressionError } from './errors.js';
import { xxhash32 } from './xxhash32.js';

interface Lz4Native {
  compressFrameSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}

let native: Lz4Native | null = null;

/**
 * The native codec, loaded on first use: a broker whose clients never send lz4 does not pay the library's
 * memory (several MB of resident size).
 */
function lz4(): Lz4Native {
  native ??= packageRequire('lz4-napi') as Lz4Native;
  return native;
}

const LZ4_FRAME_MAGIC = 0x184d2204;
/** Offset of the frame descriptor (FLG, BD, ...) after the 4-byte magic. */
const DESCRIPTOR_OFFSET = 4;
const FLG_CONTENT_SIZE = 0x08;
const FLG_DICT_ID = 0x01;

/** Where the header checksum byte is: after FLG, BD and the optional content size and dictionary id. */
function headerChecksumOffset(frame: Buffer): number {
  if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_FRAME_MAGIC) throw new CompressionError('not an LZ4 frame');
  const flg = frame[DESCRIPTOR_OFFSET]!;
  const at = DESCRIPTOR_OFFSET + 2 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + (flg & FLG_DICT_ID ? 4 : 0);
  if (at >= frame.length) throw new CompressionError('truncated LZ4 frame header');
  return at;
}

/** The header checksum as the LZ4 frame format defines it: over the descriptor only. */
function correctHeaderChecksum(frame: Buffer, at: number): number {
  return (xxhash32(frame, DESCRIPTOR_OFFSET, at) >>> 8) & 0xff;
}

/**
 * The checksum Kafka's first LZ4 implementation wrote, wrongly including the magic bytes. Messages of
 * magic 0 carry it (KIP-57); from magic 1 on, the correct one is used.
 */
function legacyHeaderChecksum(frame: Buffer, at: number): number {
  return (xxhash32(frame, 0, at) >>> 8) & 0xff;
}

export interface Lz4Options {
  /** Write the old, incorrect header checksum (for magic 0 messages). */
  legacyHeaderChecksum?: boolean;
}

/** Compresses into Kafka's LZ4 framing: a standard LZ4 frame of 64 KB independent blocks. */
export function lz4Compress(data: Buffer, options: Lz4Options = {}): Buffer {
  const frame = Buffer.from(lz4().compressFrameSync(data));
  if (options.legacyHeaderChecksum) {
    const at = headerChecksumOffset(frame);
    frame[at] = legacyHeaderChecksum(frame, at);
  }
  return frame;
}

/**
 * Decompresses an LZ4 frame, accepting both the correct header checksum and Kafka's old incorrect one.
 * The output is bounded by LZ4's maximum ratio (255:1), so a limit is checked after the fact.
 */
export function lz4Decompress(data: Buffer, maxBytes: number): Buffer {
  const at = headerChecksumOffset(data);
  let frame = data;
  const checksum = data[at]!;
  if (checksum !== correctHeaderChecksum(data, at) && checksum === legacyHeaderChecksum(data, at)) {
    frame = Buffer.from(data);
    frame[at] = correctHeaderChecksum(data, at);
  }
  let out: Buffer;
  try {
    out = lz4().decompressFrameSync(frame);
  } catch (e) {
    throw new CompressionError(`corrupt LZ4 frame: ${(e as Error).message}`);
  }
  if (out.length > maxBytes)
    throw new CompressionError(`LZ4 data of ${out.length} bytes exceeds the limit of ${maxBytes}`);
  return out;
}
