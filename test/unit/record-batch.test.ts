import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/protocol/primitives/index.js';
import { readInt64AsNumber, writeInt64FromNumber } from '../../src/protocol/primitives/int64.js';

import type { CompressionType } from '../../src/protocol/records/compression/index.js';
import {
  buildTransactionMarkerBatch,
  ControlType,
  readTransactionMarker,
} from '../../src/protocol/records/control-record.js';
import { RecordBatch, readBatches } from '../../src/protocol/records/record-batch.js';
import { buildRecordBatch, type RecordInput } from '../../src/protocol/records/record-batch-builder.js';

const inputs: RecordInput[] = [
  {
    key: Buffer.from('k1'),
    value: Buffer.from('v1'),
    timestamp: 1000n,
    headers: [{ key: 'h', value: Buffer.from('x') }],
  },
  { key: null, value: Buffer.from('no key'), timestamp: 999n },
  { key: Buffer.from('tombstone'), value: null, timestamp: 1500n, headers: [{ key: 'n', value: null }] },
];

test('a built batch reads back field by field, for every codec', () => {
  for (const compression of [0, 1, 2, 3, 4] as CompressionType[]) {
    const batch = new RecordBatch(
      buildRecordBatch(inputs, { baseOffset: 40n, compression, producerId: 7n, producerEpoch: 2, baseSequence: 5 }),
    );
    assert.equal(batch.verifyCrc(), true);
    assert.equal(batch.compression, compression);
    assert.equal(batch.baseOffset, 40n);
    assert.equal(batch.lastOffset, 42n);
    assert.equal(batch.recordCount, 3);
    assert.equal(batch.baseTimestamp, 999n);
    assert.equal(batch.maxTimestamp, 1500n);
    assert.deepEqual([batch.producerId, batch.producerEpoch, batch.baseSequence], [7n, 2, 5]);
    const records = [...batch.records()];
    assert.deepEqual(
      records.map((r) => [
        r.offset,
        r.timestamp,
        r.key?.toString() ?? null,
        r.value?.toString() ?? null,
        r.headers.map((h) => [h.key, h.value?.toString() ?? null]),
      ]),
      [
        [40n, 1000n, 'k1', 'v1', [['h', 'x']]],
        [41n, 999n, null, 'no key', []],
        [42n, 1500n, 'tombstone', null, [['n', null]]],
      ],
    );
  }
});

test('base offset and leader epoch are patched in place without touching the CRC; a flipped byte fails it', () => {
  const buf = buildRecordBatch(inputs);
  const batch = new RecordBatch(buf);
  batch.baseOffset = 123456789n;
  batch.partitionLeaderEpoch = 9;
  assert.equal(batch.verifyCrc(), true);
  assert.equal([...batch.records()][2]!.offset, 123456791n);
  buf[buf.length - 3]! ^= 1;
  assert.equal(batch.verifyCrc(), false);
});

test('LogAppendTime rewrites the max timestamp, which every record then carries', () => {
  const batch = new RecordBatch(buildRecordBatch(inputs));
  batch.setLogAppendTime(5555n);
  assert.equal(batch.verifyCrc(), true);
  assert.equal(batch.timestampType, 'LogAppendTime');
  assert.deepEqual(
    [...batch.records()].map((r) => r.timestamp),
    [5555n, 5555n, 5555n],
  );
});

test('transaction markers: COMMIT and ABORT control batches', () => {
  for (const type of [ControlType.Commit, ControlType.Abort]) {
    const batch = new RecordBatch(
      buildTransactionMarkerBatch({ producerId: 11n, producerEpoch: 3, coordinatorEpoch: 4, type, timestamp: 1n }),
    );
    assert.equal(batch.isControl, true);
    assert.equal(batch.isTransactional, true);
    assert.deepEqual(readTransactionMarker(batch), { type, coordinatorEpoch: 4 });
  }
});

test('readBatches walks whole batches and reports a partial trailing one', () => {
  const a = buildRecordBatch(inputs);
  const b = buildRecordBatch(inputs.slice(0, 1));
  const walk = readBatches(Buffer.concat([a, b, b.subarray(0, 20)]));
  assert.equal(walk.batches.length, 2);
  assert.equal(walk.partialBytes, 20);
});

test('hostile batches raise DecodeError, never RangeError', () => {
  const good = buildRecordBatch(inputs);
  const cases: Buffer[] = [good.subarray(0, 30), good.subarray(0, good.length - 1)];
  const lyingCount = Buffer.from(good);
  lyingCount.writeInt32BE(1_000_000, 57);
  cases.push(lyingCount);
  const badLength = Buffer.from(good);
  badLength[61] = 0x7f; // first record's length varint now claims far more than there is
  cases.push(badLength);
  const longVarint = Buffer.from(good);
  longVarint.fill(0xff, 61, 72);
  cases.push(longVarint);
  for (const c of cases) {
    assert.throws(() => [...new RecordBatch(c).records()], DecodeError);
  }
});

test('int64 header fields read and written as numbers agree with BigInt for every safe integer', () => {
  fc.assert(
    fc.property(fc.maxSafeInteger(), (v) => {
      const viaNumber = Buffer.alloc(8);
      writeInt64FromNumber(viaNumber, v, 0);
      const viaBigInt = Buffer.alloc(8);
      viaBigInt.writeBigInt64BE(BigInt(v), 0);
      assert.deepEqual(viaNumber, viaBigInt);
      assert.equal(readInt64AsNumber(viaBigInt, 0), v);
    }),
  );
  for (const v of [0, -1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    const b = Buffer.alloc(8);
    writeInt64FromNumber(b, v, 0);
    assert.equal(b.readBigInt64BE(0), BigInt(v));
    assert.equal(readInt64AsNumber(b, 0), v);
  }
});

test('any records built into a batch read back as they went in: keys, values, headers, timestamps, offset deltas', () => {
  const bytes = fc.option(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    { nil: null },
  );
  const record = fc.record({
    key: bytes,
    value: bytes,
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 20 }), value: bytes }), { maxLength: 3 }),
    // Far-apart timestamps too: their deltas are beyond what a number holds exactly (but within int64).
    timestamp: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 41n }), fc.bigInt({ min: -(2n ** 61n), max: 2n ** 61n })),
    gap: fc.nat({ max: 1000 }),
  });
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), fc.constantFrom(0, 1, 3), (inputs, codec) => {
      let offsetDelta = 0;
      const records = inputs.map((r, i) => {
        if (i > 0) offsetDelta += 1 + r.gap;
        // Plain objects, as the decoder makes (fast-check's have no prototype).
        const headers = r.headers.map((h) => ({ key: h.key, value: h.value }));
        return { key: r.key, value: r.value, headers, timestamp: r.timestamp, offsetDelta };
      });
      const batch = readBatches(buildRecordBatch(records, { baseOffset: 7n, compression: codec as CompressionType }))
        .batches[0]!;
      assert.ok(batch.verifyCrc());
      assert.equal(Number(batch.lastOffset), 7 + offsetDelta);
      assert.deepEqual(
        [...batch.records()].map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]),
        records.map((r) => [7n + BigInt(r.offsetDelta), r.timestamp, r.key, r.value, r.headers]),
      );
    }),
    { numRuns: 300 },
  );
});
