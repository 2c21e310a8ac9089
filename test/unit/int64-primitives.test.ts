import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Reader, Writer } from '../../src/protocol/primitives/index.js';

test('int64 fields written and read by the codecs agree with Buffer BigInt functions over the whole range', () => {
  const edges = [
    0n,
    -1n,
    1n,
    2n ** 32n,
    -(2n ** 32n),
    2n ** 53n - 1n,
    2n ** 53n,
    -(2n ** 53n),
    2n ** 63n - 1n,
    -(2n ** 63n),
  ];
  fc.assert(
    fc.property(fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(...edges)), (v) => {
      const written = new Writer().writeInt64(v).toBuffer();
      const expected = Buffer.alloc(8);
      expected.writeBigInt64BE(v, 0);
      assert.deepEqual(written, expected);
      assert.equal(new Reader(expected).readInt64(), v);
    }),
    { numRuns: 2000 },
  );
});
