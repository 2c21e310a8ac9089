import { DecodeError } from './decode-error.js';
import { readInt64 } from './int64.js';

/** Longest valid encodings: an unsigned 32-bit varint takes 5 bytes, a 64-bit one 10. */
const MAX_VARINT_BYTES = 5;
const MAX_VARLONG_BYTES = 10;

/**
 * Sequential reader over a Buffer, for Kafka's primitive types.
 *
 * Every read checks the bytes that remain first, so a malformed or hostile input raises a DecodeError
 * and never allocates more than the input holds: lengths and element counts are validated against
 * `remaining` before anything is sliced or allocated. Byte fields are returned as subarrays of the
 * input (no copy); the caller owns the lifetime of the input buffer.
 */
export class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) {
      throw new DecodeError(`reader bounds ${start}..${end} outside buffer of ${buf.length} bytes`, start);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  ensure(n: number): void {
    if (n > this.end - this.pos) {
      throw new DecodeError(`need ${n} bytes, ${this.end - this.pos} remain`, this.pos);
    }
  }

  skip(n: number): void {
    if (n < 0) throw new DecodeError(`negative skip ${n}`, this.pos);
    this.ensure(n);
    this.pos += n;
  }

  readInt8(): number {
    this.ensure(1);
    return this.buf.readInt8(this.pos++);
  }

  readUInt8(): number {
    this.ensure(1);
    return this.buf[this.pos++]!;
  }

  readBoolean(): boolean {
    return this.readUInt8() !== 0;
  }

  readInt16(): number {
    this.ensure(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  readUInt16(): number {
    this.ensure(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  readInt32(): number {
    this.ensure(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  readUInt32(): number {
    this.ensure(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  readInt64(): bigint {
    this.ensure(8);
    const v = readInt64(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  readFloat64(): number {
    this.ensure(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A UUID, as Kafka prints it: the 16 bytes in URL-safe base64 without padding (22 characters). */
  readUuid(): string {
    this.ensure(16);
    const v = this.buf.toString('base64url', this.pos, this.pos + 16);
    this.pos += 16;
    return v;
  }

  /** Unsigned LEB128 varint of at most 32 bits. */
  readUVarint(): number {
    const start = this.pos;
    // One byte is the usual case (offset deltas, small lengths): the record walk of every produced batch reads
    // several varints per record.
    if (start < this.end) {
      const first = this.buf[start]!;
      if (first < 0x80) {
        this.pos = start + 1;
        return first;
      }
    }
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varint', start);
      const b = this.buf[this.pos++]!;
      if (i === MAX_VARINT_BYTES - 1 && b > 0x0f) throw new DecodeError('varint exceeds 32 bits', start);
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new DecodeError('varint longer than 5 bytes', start);
  }

  /** Zigzag-encoded signed varint of at most 32 bits. */
  readVarint(): number {
    const u = this.readUVarint();
    // Zigzag decode without leaving the safe-integer range for values up to 2^32.
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Zigzag-encoded signed varint of at most 64 bits. */
  readVarlong(): bigint {
    const start = this.pos;
    let result = 0n;
    for (let i = 0; i < MAX_VARLONG_BYTES; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varlong', start);
      const b = this.buf[this.pos++]!;
      if (i === MAX_VARLONG_BYTES - 1 && b > 0x01) throw new DecodeError('varlong exceeds 64 bits', start);
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return (result >> 1n) ^ -(result & 1n);
    }
    throw new DecodeError('varlong longer than 10 bytes', start);
  }

  /** Skips a varint or varlong without decoding it (validation walks that only need the next field). */
  skipVarlong(): void {
    const start = this.pos;
    for (let i = 0; i < MAX_VARLONG_BYTES; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varlong', start);
      if ((this.buf[this.pos++]! & 0x80) === 0) return;
    }
    throw new DecodeError('varlong longer than 10 bytes', start);
  }

  /**
   * Zigzag varlong read as a JavaScript number, for record fields (timestamp and offset deltas)
   * that are small in practice. Values whose zigzag form passes 2^53 (magnitudes above 2^52) raise a DecodeError
   * instead of losing precision.
   */
  readVarlongNumber(): number {
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARLONG_BYTES; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varlong', start);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) {
          this.pos = start;
          const big = this.readVarlong();
          throw new DecodeError(`varlong ${big} outside the safe integer range`, start);
        }
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      }
    }
    throw new DecodeError('varlong longer than 10 bytes', start);
  }

  /** STRING: int16 length then UTF-8 bytes. */
  readString(): string {
    const s = this.readNullableString();
    if (s === null) throw new DecodeError('null in a non-nullable string', this.pos - 2);
    return s;
  }

  /** NULLABLE_STRING: int16 length (-1 is null) then UTF-8 bytes. */
  readNullableString(): string | null {
    const at = this.pos;
    const len = this.readInt16();
    if (len === -1) return null;
    if (len < 0) throw new DecodeError(`invalid string length ${len}`, at);
    return this.utf8(len);
  }

  /** COMPACT_STRING: unsigned varint length+1 then UTF-8 bytes. */
  readCompactString(): string {
    const s = this.readCompactNullableString();
    if (s === null) throw new DecodeError('null in a non-nullable compact string', this.pos - 1);
    return s;
  }

  readCompactNullableString(): string | null {
    const n = this.readUVarint();
    if (n === 0) return null;
    return this.utf8(n - 1);
  }

  /** BYTES: int32 length then raw bytes, returned as a subarray of the input. */
  readBytes(): Buffer {
    const b = this.readNullableBytes();
    if (b === null) throw new DecodeError('null in non-nullable bytes', this.pos - 4);
    return b;
  }

  readNullableBytes(): Buffer | null {
    const at = this.pos;
    const len = this.readInt32();
    if (len === -1) return null;
    if (len < 0) throw new DecodeError(`invalid bytes length ${len}`, at);
    return this.slice(len);
  }

  readCompactBytes(): Buffer {
    const b = this.readCompactNullableBytes();
    if (b === null) throw new DecodeError('null in non-nullable compact bytes', this.pos - 1);
    return b;
  }

  readCompactNullableBytes(): Buffer | null {
    const n = this.readUVarint();
    if (n === 0) return null;
    return this.slice(n - 1);
  }

  /**
   * ARRAY length: int32 count, -1 for null. Every element takes at least one byte, so a count larger
   * than the bytes that remain is rejected before the caller allocates anything.
   */
  readArrayLength(): number | null {
    const at = this.pos;
    const n = this.readInt32();
    if (n === -1) return null;
    if (n < 0) throw new DecodeError(`invalid array length ${n}`, at);
    if (n > this.remaining) throw new DecodeError(`array of ${n} elements in ${this.remaining} bytes`, at);
    return n;
  }

  /** COMPACT_ARRAY length: unsigned varint count+1, 0 for null. */
  readCompactArrayLength(): number | null {
    const at = this.pos;
    const n = this.readUVarint();
    if (n === 0) return null;
    if (n - 1 > this.remaining) throw new DecodeError(`array of ${n - 1} elements in ${this.remaining} bytes`, at);
    return n - 1;
  }

  /** A subarray of the next `len` bytes, without copying. */
  slice(len: number): Buffer {
    this.ensure(len);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  private utf8(len: number): string {
    this.ensure(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}
