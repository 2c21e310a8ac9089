import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { crc32, crc32c, crc32cImplementation, crc32cPortable } from '../../src/protocol/records/crc32c.js';

test('known check values: CRC32C and CRC-32 of "123456789"', () => {
  const data = Buffer.from('123456789');
  assert.equal(crc32c(data), 0xe3069283);
  assert.equal(crc32cPortable(data), 0xe3069283);
  assert.equal(crc32(data), 0xcbf43926);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('native and portable CRC32C agree on every length and offset', () => {
  assert.equal(crc32cImplementation, 'native', 'the native module loads on this machine');
  const data = randomBytes(4096);
  for (let length = 0; length < 300; length++) {
    for (const start of [0, 1, 3, 7]) {
      assert.equal(
        crc32c(data, start, start + length),
        crc32cPortable(data, start, start + length),
        `${start}+${length}`,
      );
    }
  }
  assert.equal(crc32c(data), crc32cPortable(data));
});

test('CRC-32 of every length either side of the small-input cut-over agrees with zlib, at any start', () => {
  const data = Buffer.from(Array.from({ length: 1200 }, (_, i) => (i * 131 + 7) & 0xff));
  // The cut-over is at 384 bytes; every length up to twice that.
  for (let length = 0; length <= 800; length++) {
    for (const start of [0, 3]) {
      assert.equal(
        crc32(data, start, start + length),
        zlib.crc32(data.subarray(start, start + length)) >>> 0,
        `${length}`,
      );
    }
  }
});
