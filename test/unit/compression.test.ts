import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  CompressionError,
  CompressionType,
  compress,
  decompress,
  lz4Compress,
  lz4Decompress,
} from '../../src/protocol/records/compression/index.js';

const codecs = [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

function jsonish(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const s = `{"id":${i},"user":"user-${i % 97}","event":"click","ts":${1700000000000 + i}}`;
    parts.push(s);
    size += s.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

test('every codec round-trips empty, tiny, mid-size, random and multi-block inputs', () => {
  for (const type of codecs) {
    for (const data of [Buffer.alloc(0), Buffer.from('x'), jsonish(100_000), randomBytes(70_000), jsonish(2_000_000)]) {
      const packed = compress(type, data);
      assert.deepEqual(decompress(type, packed), data, `${CompressionType[type]} ${data.length}`);
    }
  }
});

test('snappy: both the xerial framing Java writes and raw blocks decode', () => {
  const data = jsonish(100_000);
  const framed = compress(CompressionType.Snappy, data);
  assert.equal(framed.subarray(0, 8).toString('latin1'), '\x82SNAPPY\x00');
  const raw = (createRequire(import.meta.url)('snappy') as { compressSync(b: Buffer): Buffer }).compressSync(data);
  assert.deepEqual(decompress(CompressionType.Snappy, raw), data);
});

test('lz4: the old incorrect header checksum of magic-0 messages is written on request and read either way', () => {
  const data = jsonish(50_000);
  const correct = lz4Compress(data);
  const legacy = lz4Compress(data, { legacyHeaderChecksum: true });
  assert.notEqual(correct[6], legacy[6], 'only the header checksum byte differs');
  assert.deepEqual(correct.subarray(7), legacy.subarray(7));
  assert.deepEqual(lz4Decompress(correct, 1 << 20), data);
  assert.deepEqual(lz4Decompress(legacy, 1 << 20), data);
});

test('corrupt or truncated input and oversize output raise CompressionError', () => {
  const data = jsonish(200_000);
  for (const type of codecs) {
    const packed = compress(type, data);
    assert.throws(
      () => decompress(type, packed.subarray(0, Math.floor(packed.length / 2))),
      CompressionError,
      `${CompressionType[type]} truncated`,
    );
    assert.throws(() => decompress(type, randomBytes(64)), CompressionError, `${CompressionType[type]} garbage`);
    assert.throws(() => decompress(type, packed, 1000), CompressionError, `${CompressionType[type]} over the limit`);
  }
});

/**
 * A zstd frame that does not declare its content size, as streaming compressors write: a frame header without
 * the size field, then raw (stored) blocks of at most 128 KiB, each with its 3-byte header.
 */
function zstdFrameWithoutSize(data: Buffer): Buffer {
  const BLOCK = 128 * 1024;
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]); // magic; no size, no checksum; window 128 KiB
  const parts: Buffer[] = [header];
  for (let at = 0; at < data.length || at === 0; at += BLOCK) {
    const block = data.subarray(at, at + BLOCK);
    const last = at + BLOCK >= data.length ? 1 : 0;
    const blockHeader = Buffer.alloc(3);
    blockHeader.writeUIntLE((block.length << 3) | last, 0, 3); // type 0: raw
    parts.push(blockHeader, block);
  }
  return Buffer.concat(parts);
}

test('zstd: a frame that does not declare its size is read past the first guess of 1 MiB, up to the limit', () => {
  const data = jsonish(3_000_000);
  const frame = zstdFrameWithoutSize(data);
  assert.deepEqual(decompress(CompressionType.Zstd, frame), data);
  assert.deepEqual(
    decompress(CompressionType.Zstd, zstdFrameWithoutSize(data.subarray(0, 1000))),
    data.subarray(0, 1000),
  );
  assert.throws(() => decompress(CompressionType.Zstd, frame, 2_000_000), CompressionError, 'over the limit');
});
