/**
 * int64 fields without BigInt arithmetic where the value is a safe integer (offsets, millisecond timestamps):
 * two 32-bit halves. Buffer's readBigInt64BE/writeBigInt64BE allocate several BigInts per call, which shows on
 * paths that handle a field of every batch or every response partition.
 */

const TWO_TO_32 = 0x1_0000_0000;
/** High halves in [-2^21, 2^21) make values below 2^53 in magnitude: safe integers. */
const SAFE_HIGH_LIMIT = 0x20_0000;

/** An int64 field as a number: exact below 2^53 (as Number(readBigInt64BE) is); allocates nothing. */
export function readInt64AsNumber(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_TO_32 + buf.readUInt32BE(at + 4);
}

/** Writes a number below 2^53 in magnitude as an int64 field. */
export function writeInt64FromNumber(buf: Buffer, value: number, at: number): void {
  const high = Math.floor(value / TWO_TO_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(value - high * TWO_TO_32, at + 4);
}

/** An int64 field exactly, as a bigint: one BigInt when it is a safe integer, Buffer's reader otherwise. */
export function readInt64(buf: Buffer, at: number): bigint {
  const high = buf.readInt32BE(at);
  return high >= -SAFE_HIGH_LIMIT && high < SAFE_HIGH_LIMIT
    ? BigInt(readInt64AsNumber(buf, at))
    : buf.readBigInt64BE(at);
}

/** Writes a bigint as an int64 field exactly: through a number when it is a safe one (a safe Number(v) is v). */
export function writeInt64(buf: Buffer, value: bigint, at: number): void {
  const n = Number(value);
  if (Number.isSafeInteger(n)) writeInt64FromNumber(buf, n, at);
  else buf.writeBigInt64BE(value, at);
}
