import * as zlib from 'node:zlib';
import packageRequire from './package-require.cjs';

/** CRC32C (Castagnoli) of buf[start..end), unsigned. */
type Crc32c = (buf: Buffer, start?: number, end?: number) => number;

const POLY_CASTAGNOLI = 0x82f63b78;
const POLY_IEEE = 0xedb88320;

/** Slicing-by-8 tables: table k maps a byte to its CRC after k more zero bytes. */
function slicingTables(poly: number): Int32Array[] {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    tables[0]![i] = c;
  }
  for (let i = 0; i < 256; i++) {
    let c = tables[0]![i]!;
    for (let t = 1; t < 8; t++) {
      c = tables[0]![c & 0xff]! ^ (c >>> 8);
      tables[t]![i] = c;
    }
  }
  return tables;
}

function portable(poly: number): Crc32c {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = slicingTables(poly) as [
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
  ];
  return (buf, start = 0, end = buf.length) => {
    let crc = -1;
    let i = start;
    // Eight bytes per step: two 32-bit words looked up in parallel tables.
    for (; i + 8 <= end; i += 8) {
      const a = (crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))) >>> 0;
      const b = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
      crc =
        t7[a & 0xff]! ^
        t6[(a >>> 8) & 0xff]! ^
        t5[(a >>> 16) & 0xff]! ^
        t4[a >>> 24]! ^
        t3[b & 0xff]! ^
        t2[(b >>> 8) & 0xff]! ^
        t1[(b >>> 16) & 0xff]! ^
        t0[(b >>> 24) & 0xff]!;
    }
    for (; i < end; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
    return (crc ^ -1) >>> 0;
  };
}

/** The pure TypeScript CRC32C, used when the native one cannot load (and benchmarked against it). */
export const crc32cPortable: Crc32c = portable(POLY_CASTAGNOLI);

function loadNative(): Crc32c | null {
  try {
    const native = packageRequire('@node-rs/crc32') as {
      crc32c(input: Buffer, initial?: number): number;
    };
    return (buf, start = 0, end = buf.length) =>
      native.crc32c(start === 0 && end === buf.length ? buf : buf.subarray(start, end)) >>> 0;
  } catch {
    return null;
  }
}

const native = loadNative();

/** Which implementation `crc32c` uses. */
export const crc32cImplementation: 'native' | 'portable' = native ? 'native' : 'portable';

/** CRC32C of buf[start..end): the checksum of record batches v2. Native (SSE4.2/ARMv8) when available. */
export const crc32c: Crc32c = native ?? crc32cPortable;

const crc32Portable: Crc32c = portable(POLY_IEEE);
const zlibCrc32 = (zlib as unknown as { crc32?: (data: Buffer) => number }).crc32;

/**
 * Below this many bytes the TypeScript CRC-32 is faster than zlib's: a call into zlib (with the subarray it needs)
 * costs about 250 ns before its first byte, which is what a 100-byte legacy message takes in TypeScript (measured:
 * 86 bytes 158 ns against 251 ns; 300 bytes 464 ns against 259 ns).
 */
const SMALL_CRC32_BYTES = 128;

/** CRC-32 (IEEE) of buf[start..end): the checksum of legacy messages (magic 0 and 1). */
export const crc32: Crc32c = zlibCrc32
  ? (buf, start = 0, end = buf.length) =>
      end - start < SMALL_CRC32_BYTES
        ? crc32Portable(buf, start, end)
        : zlibCrc32(start === 0 && end === buf.length ? buf : buf.subarray(start, end)) >>> 0
  : crc32Portable;
