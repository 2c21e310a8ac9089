import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError, Reader, Writer } from '../../src/protocol/primitives/index.js';

test('varints round-trip at every length boundary, and what does not fit is refused', () => {
  for (const v of [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 0xffffffff]) {
    const bytes = new Writer().writeUVarint(v).toBuffer();
    assert.equal(new Reader(bytes).readUVarint(), v);
  }
  for (const v of [0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)]) {
    assert.equal(new Reader(new Writer().writeVarint(v).toBuffer()).readVarint(), v);
  }
  for (const v of [0, -1, 1, 2 ** 40, -(2 ** 40), 2 ** 52 - 1, -(2 ** 52)]) {
    assert.equal(new Reader(new Writer().writeVarlong(BigInt(v)).toBuffer()).readVarlongNumber(), v);
  }
  // Past 2^52 the zigzag form is not a safe integer: refused rather than rounded.
  assert.throws(() => new Reader(new Writer().writeVarlong(2n ** 53n).toBuffer()).readVarlongNumber(), DecodeError);
  assert.throws(() => new Reader(Buffer.from([0x80, 0x80])).readUVarint(), DecodeError, 'truncated');
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f])).readUVarint(), DecodeError, '> 32 bits');
  assert.throws(() => new Reader(Buffer.alloc(0)).readUVarint(), DecodeError, 'empty');
});

test('varints round-trip for any 32-bit value, and varlongs read as numbers for any magnitude up to 2^52', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }),
      (i32, i64) => {
        const bytes = new Writer().writeVarint(i32).writeVarlong(BigInt(i64)).toBuffer();
        const r = new Reader(bytes);
        assert.equal(r.readVarint(), i32);
        assert.equal(r.readVarlongNumber(), i64);
        assert.equal(r.remaining, 0);
      },
    ),
  );
});
