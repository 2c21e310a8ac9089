import { writeInt64 } from './int64.js';

/**
 * Byte fields at least this long are kept by reference instead of copied (see Writer.writeRaw).
 * Below it, a copy into the scratch buffer is cheaper than an extra chunk in a writev.
 */
export const ZERO_COPY_MIN_BYTES = 1024;

const DEFAULT_CAPACITY = 512;
const UUID_BYTES = 16;

/**
 * Sequential writer for Kafka's primitive types.
 *
 * Output is a list of chunks: small fields go into a growing scratch buffer, and large byte fields
 * (record batches above all) are appended by reference, so a Fetch response holding megabytes of
 * records is encoded without copying them. `chunks()` hands the list to a socket (writev) and
 * `toBuffer()` joins it when one contiguous buffer is needed.
 */
export class Writer {
  private readonly done: Buffer[] = [];
  private doneBytes = 0;
  private buf: Buffer;
  /** Start of the part of `buf` not yet moved to `done`. */
  private start = 0;
  private pos = 0;

  constructor(initialCapacity = DEFAULT_CAPACITY) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.doneBytes + (this.pos - this.start);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, pending + n, DEFAULT_CAPACITY));
    this.buf.copy(next, 0, this.start, this.pos);
    // Chunks already handed out keep referring to the old buffer, which is never written again.
    this.buf = next;
    this.start = 0;
    this.pos = pending;
  }

  writeInt8(v: number): this {
    this.reserve(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  writeUInt8(v: number): this {
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  writeBoolean(v: boolean): this {
    return this.writeUInt8(v ? 1 : 0);
  }

  writeInt16(v: number): this {
    this.reserve(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  writeUInt16(v: number): this {
    this.reserve(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  writeInt32(v: number): this {
    this.reserve(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  writeUInt32(v: number): this {
    this.reserve(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  writeInt64(v: bigint): this {
    this.reserve(8);
    writeInt64(this.buf, v, this.pos);
    this.pos += 8;
    return this;
  }

  writeFloat64(v: number): this {
    this.reserve(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** A UUID given as Kafka prints it (22 characters of URL-safe base64). */
  writeUuid(v: string): this {
    this.reserve(UUID_BYTES);
    const n = this.buf.write(v, this.pos, 'base64url');
    if (n !== UUID_BYTES || v.length !== 22) throw new TypeError(`not a UUID: ${JSON.stringify(v)}`);
    this.pos += UUID_BYTES;
    return this;
  }

  /** Unsigned LEB128 varint, 0 .. 2^32-1. */
  writeUVarint(v: number): this {
    this.reserve(5);
    let n = v;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  /** Zigzag signed varint, -2^31 .. 2^31-1. */
  writeVarint(v: number): this {
    return this.writeUVarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Zigzag signed varlong, -2^63 .. 2^63-1. */
  writeVarlong(v: bigint): this {
    this.reserve(10);
    let n = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
    return this;
  }

  /** Zigzag varlong from a safe integer, without going through bigint. */
  writeVarlongNumber(v: number): this {
    this.reserve(10);
    let n = v >= 0 ? v * 2 : -v * 2 - 1;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  writeString(v: string): this {
    return this.writeNullableString(v);
  }

  writeNullableString(v: string | null): this {
    if (v === null) return this.writeInt16(-1);
    const len = Buffer.byteLength(v, 'utf8');
    if (len > 0x7fff) throw new RangeError(`string of ${len} bytes exceeds the int16 length`);
    this.writeInt16(len);
    return this.utf8(v, len);
  }

  writeCompactString(v: string): this {
    return this.writeCompactNullableString(v);
  }

  writeCompactNullableString(v: string | null): this {
    if (v === null) return this.writeUVarint(0);
    const len = Buffer.byteLength(v, 'utf8');
    this.writeUVarint(len + 1);
    return this.utf8(v, len);
  }

  writeBytes(v: Buffer): this {
    return this.writeNullableBytes(v);
  }

  writeNullableBytes(v: Buffer | null): this {
    if (v === null) return this.writeInt32(-1);
    this.writeInt32(v.length);
    return this.writeRaw(v);
  }

  writeCompactBytes(v: Buffer): this {
    return this.writeCompactNullableBytes(v);
  }

  writeCompactNullableBytes(v: Buffer | null): this {
    if (v === null) return this.writeUVarint(0);
    this.writeUVarint(v.length + 1);
    return this.writeRaw(v);
  }

  writeArrayLength(n: number | null): this {
    return this.writeInt32(n === null ? -1 : n);
  }

  writeCompactArrayLength(n: number | null): this {
    return this.writeUVarint(n === null ? 0 : n + 1);
  }

  /**
   * Appends bytes as they are. Large buffers are referenced, not copied: the caller must not modify
   * `v` until the output has been consumed.
   */
  writeRaw(v: Buffer): this {
    if (v.length >= ZERO_COPY_MIN_BYTES) {
      this.flushPending();
      this.done.push(v);
      this.doneBytes += v.length;
      return this;
    }
    this.reserve(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
    return this;
  }

  /** The output as a list of buffers, in order. The writer should not be used afterwards. */
  chunks(): Buffer[] {
    this.flushPending();
    return this.done;
  }

  /** The output as one contiguous buffer (joined only when it spans several chunks). */
  toBuffer(): Buffer {
    const chunks = this.chunks();
    if (chunks.length === 1) return chunks[0]!;
    return Buffer.concat(chunks, this.doneBytes);
  }

  private flushPending(): void {
    if (this.pos === this.start) return;
    this.done.push(this.buf.subarray(this.start, this.pos));
    this.doneBytes += this.pos - this.start;
    this.start = this.pos;
  }

  private utf8(v: string, len: number): this {
    this.reserve(len);
    this.pos += this.buf.write(v, this.pos, len, 'utf8');
    return this;
  }
}
