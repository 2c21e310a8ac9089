import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/protocol/primitives/index.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { downConvertFromV2, upConvertToV2 } from '../../src/protocol/records/conversion.js';
import { crc32 } from '../../src/protocol/records/crc32c.js';
import {
  buildLegacyMessageSet,
  type LegacyMagic,
  readLegacyRecords,
} from '../../src/protocol/records/legacy-message-set.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';

// Fixtures written by kafka-python's record builders (scripts/make-record-fixtures.py).
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'records');
type Expected = Array<{
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: string[][];
}>;
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Expected>;

const text = (b: Buffer | null) => (b === null ? null : b.toString());

test('kafka-python legacy message sets (magic 0 and 1, plain and compressed) decode to the records written', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.startsWith('magic'));
  assert.equal(files.length, 8);
  for (const file of files) {
    const records = readLegacyRecords(readFileSync(join(FIXTURES, file)));
    // A producer's compressed wrapper carries offset 0 (the broker assigns offsets): compare positions.
    const first = records[0]!.offset;
    assert.deepEqual(
      records.map((r) => ({
        offset: Number(r.offset - first),
        timestamp: Number(r.timestamp),
        key: text(r.key),
        value: text(r.value),
        headers: [],
      })),
      expected[file],
      file,
    );
  }
});

test('kafka-python v2 batches decode to the records written, under every codec', () => {
  for (const file of readdirSync(FIXTURES).filter((f) => f.startsWith('v2-'))) {
    const { batches } = readBatches(readFileSync(join(FIXTURES, file)));
    assert.equal(batches[0]!.verifyCrc(), true, file);
    const records = [...batches[0]!.records()];
    assert.deepEqual(
      records.map((r) => ({
        offset: Number(r.offset),
        timestamp: Number(r.timestamp),
        key: text(r.key),
        value: text(r.value),
        headers: r.headers.map((h) => [h.key, text(h.value)]),
      })),
      expected[file],
      file,
    );
  }
});

const sample = Array.from({ length: 6 }, (_, i) => ({
  key: i % 2 ? Buffer.from(`k${i}`) : null,
  value: Buffer.from(`value ${i} `.repeat(20)),
  timestamp: 1000n + BigInt(i),
}));

test('legacy sets we write read back, for both magics and every legacy codec', () => {
  for (const magic of [0, 1] as LegacyMagic[]) {
    for (const compression of [0, 1, 2, 3] as CompressionType[]) {
      const set = buildLegacyMessageSet(sample, { magic, baseOffset: 100n, compression });
      const back = readLegacyRecords(set);
      assert.deepEqual(
        back.map((r) => [r.offset, r.timestamp, text(r.key), text(r.value)]),
        sample.map((s, i) => [100n + BigInt(i), magic === 0 ? -1n : s.timestamp, text(s.key), text(s.value)]),
        `magic ${magic} codec ${compression}`,
      );
    }
  }
});

test('up-conversion to v2 and down-conversion to v0/v1 keep the records', () => {
  for (const magic of [0, 1] as LegacyMagic[]) {
    for (const compression of [0, 1, 3] as CompressionType[]) {
      const legacy = buildLegacyMessageSet(sample, { magic, baseOffset: 0n, compression });
      const { records, recordCount } = upConvertToV2(legacy);
      assert.equal(recordCount, sample.length);
      const batch = readBatches(records).batches[0]!;
      assert.equal(batch.compression, compression);
      const v2 = [...batch.records()];
      assert.deepEqual(
        v2.map((r) => [text(r.key), text(r.value), r.timestamp]),
        sample.map((s) => [text(s.key), text(s.value), magic === 0 ? -1n : s.timestamp]),
      );
    }
  }
  // A log holding v2 batches (one zstd, which legacy messages cannot carry) read by an old consumer.
  const a = buildRecordBatch(
    sample.map((s) => ({ ...s, headers: [{ key: 'dropped', value: null }] })),
    { baseOffset: 10n, compression: CompressionType.Gzip },
  );
  const b = buildRecordBatch(sample.slice(0, 2), { baseOffset: 16n, compression: CompressionType.Zstd });
  for (const magic of [0, 1] as LegacyMagic[]) {
    const old = readLegacyRecords(downConvertFromV2(Buffer.concat([a, b]), magic));
    assert.deepEqual(
      old.map((r) => [r.offset, text(r.key), r.magic, r.timestamp]),
      [...sample, ...sample.slice(0, 2)].map((s, i) => [
        10n + BigInt(i),
        text(s.key),
        magic,
        magic === 0 ? -1n : s.timestamp,
      ]),
    );
  }
});

test('down-conversion keeps the offsets of a compacted batch, with its gaps, plain and compressed', () => {
  // Offset deltas 0, 2 and 5: the records between were removed by the log cleaner.
  const deltas = [0, 2, 5];
  const compacted = (compression: CompressionType) =>
    buildRecordBatch(
      deltas.map((offsetDelta, i) => ({ ...sample[i]!, offsetDelta })),
      { baseOffset: 100n, compression },
    );
  for (const magic of [0, 1] as LegacyMagic[]) {
    for (const compression of [CompressionType.None, CompressionType.Gzip, CompressionType.Lz4]) {
      const old = readLegacyRecords(downConvertFromV2(compacted(compression), magic));
      assert.deepEqual(
        old.map((r) => [r.offset, text(r.key)]),
        deltas.map((d, i) => [100n + BigInt(d), text(sample[i]!.key)]),
        `magic ${magic}, ${CompressionType[compression]}`,
      );
    }
  }
});

test('a corrupted legacy message fails its CRC with a DecodeError; a truncated last one is skipped', () => {
  const set = buildLegacyMessageSet(sample, { magic: 1, baseOffset: 0n });
  const bad = Buffer.from(set);
  bad[40] = bad[40]! ^ 0xff;
  assert.throws(() => readLegacyRecords(bad), DecodeError);
  assert.equal(readLegacyRecords(set.subarray(0, set.length - 5)).length, sample.length - 1);
});

test('a magic 1 timestamp beyond 2^53 goes through down-conversion exactly', () => {
  const far = 2n ** 60n + 1n;
  const batch = buildRecordBatch([{ key: null, value: Buffer.from('v'), timestamp: far }], { baseOffset: 3n });
  const [old] = readLegacyRecords(downConvertFromV2(batch, 1));
  assert.equal(old!.timestamp, far);
  assert.equal(old!.offset, 3n);
});

test('plain legacy sets convert to exactly the batch the record-by-record conversion builds (property)', () => {
  const bytes = fc.option(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    { nil: null },
  );
  const timestamp = fc.oneof(
    fc.bigInt({ min: -1n, max: 2n ** 45n }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom<LegacyMagic>(0, 1),
      fc.boolean(),
      fc.array(fc.record({ key: bytes, value: bytes, timestamp }), { minLength: 1, maxLength: 40 }),
      fc.nat(60),
      (magic, logAppendTime, inputs, cut) => {
        const full = buildLegacyMessageSet(inputs, {
          magic,
          baseOffset: 0n,
          timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
        });
        // A set cut short in its last message, as a client's may be: that message is ignored by both ways.
        const legacy = inputs.length > 1 && cut > 0 ? full.subarray(0, Math.max(full.length - cut, 1)) : full;
        const reference = readLegacyRecords(legacy);
        if (reference.length === 0) {
          assert.throws(() => upConvertToV2(legacy), DecodeError);
          return;
        }
        const expectedBatch = buildRecordBatch(
          reference.map((r, i) => ({ key: r.key, value: r.value, timestamp: r.timestamp, offsetDelta: i })),
          { timestampType: reference[0]!.timestampType },
        );
        const converted = upConvertToV2(legacy);
        assert.equal(converted.recordCount, reference.length);
        assert.ok(converted.records.equals(expectedBatch), 'the same bytes');
      },
    ),
    { numRuns: 300 },
  );
});

test('a plain legacy message with a bad CRC, a bad magic or fields longer than the message is a DecodeError', () => {
  const good = buildLegacyMessageSet(
    [
      { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 5n },
      { key: null, value: Buffer.from('w'), timestamp: 6n },
    ],
    { magic: 1, baseOffset: 0n },
  );
  const flipped = Buffer.from(good);
  flipped[good.length - 1]! ^= 0xff; // the second message's value: its CRC no longer matches
  assert.throws(() => upConvertToV2(flipped), /CRC mismatch/);
  const magic = Buffer.from(good);
  magic[16] = 7;
  assert.throws(() => upConvertToV2(magic), DecodeError);
  const long = Buffer.from(good);
  long.writeInt32BE(100, 8 + 4 + 4 + 1 + 1 + 8); // key length past the message (CRC fixed up below)
  long.writeUInt32BE(crc32(long, 16, 12 + long.readInt32BE(8)), 12);
  assert.throws(() => upConvertToV2(long), DecodeError);
});

/** The record-by-record down-conversion: each batch's records decoded, then written as a legacy set. */
function downConvertedRecordByRecord(records: Buffer, magic: LegacyMagic): Buffer {
  const parts: Buffer[] = [];
  for (const batch of readBatches(records).batches) {
    if (batch.isControl) continue;
    const list = [...batch.records()];
    if (list.length === 0) continue;
    parts.push(
      buildLegacyMessageSet(
        list.map((r) => ({ key: r.key, value: r.value, timestamp: magic === 0 ? -1n : r.timestamp, offset: r.offset })),
        { magic, baseOffset: list[0]!.offset, timestampType: batch.timestampType, logAppendTime: batch.maxTimestamp },
      ),
    );
  }
  return Buffer.concat(parts);
}

test('plain v2 batches down-convert to exactly the legacy sets the record-by-record conversion builds (property)', () => {
  const bytes = fc.option(
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    { nil: null },
  );
  const header = fc.record({ key: fc.string({ maxLength: 8 }), value: bytes });
  const record = fc.record({
    key: bytes,
    value: bytes,
    headers: fc.array(header, { maxLength: 3 }),
    gap: fc.nat(3),
    timestamp: fc.bigInt({ min: -1n, max: 2n ** 45n }),
  });
  const batch = fc.record({
    records: fc.array(record, { minLength: 1, maxLength: 20 }),
    logAppendTime: fc.boolean(),
    // A batch with a timestamp beyond 2^52 or a compressed one: the whole set takes the general path.
    farTimestamp: fc.nat(9).map((n) => n === 0),
    control: fc.nat(4).map((n) => n === 0),
  });
  fc.assert(
    fc.property(
      fc.constantFrom<LegacyMagic>(0, 1),
      fc.array(batch, { minLength: 1, maxLength: 4 }),
      fc.nat(30),
      (magic, batches, cut) => {
        let nextOffset = 0n;
        const built = batches.map((b) => {
          let delta = 0;
          const inputs = b.records.map((r) => {
            delta += r.gap;
            const input = {
              key: r.key,
              value: r.value,
              headers: r.headers,
              timestamp: b.farTimestamp ? 2n ** 60n + r.timestamp : r.timestamp,
              offsetDelta: delta,
            };
            delta++;
            return input;
          });
          const out = buildRecordBatch(inputs, {
            baseOffset: nextOffset,
            timestampType: b.logAppendTime ? 'LogAppendTime' : 'CreateTime',
            isControl: b.control,
          });
          nextOffset += BigInt(delta);
          return out;
        });
        const full = Buffer.concat(built);
        // A partial batch at the end, as a fetch's last one may be: dropped by both ways.
        const records = cut > 0 && built.length > 1 ? full.subarray(0, full.length - cut) : full;
        assert.ok(downConvertFromV2(records, magic).equals(downConvertedRecordByRecord(records, magic)));
      },
    ),
    { numRuns: 300 },
  );
});

test('down-conversion of a plain batch whose record does not fit it, or with bytes after its last record, is a DecodeError, as record by record', () => {
  const batch = buildRecordBatch(
    [0, 1, 2].map((i) => ({ key: null, value: Buffer.from(`value-${i}`), timestamp: 1000n, offsetDelta: i })),
  );
  // The first record's length (its first byte after the 61-byte header) made longer than the batch.
  const damaged = Buffer.from(batch);
  damaged[61] = 0x7e;
  // A record count one short of the records: the last record's bytes are left over.
  const shortCount = Buffer.from(batch);
  shortCount.writeInt32BE(2, 57);
  for (const bad of [damaged, shortCount]) {
    for (const magic of [0, 1] as LegacyMagic[]) {
      assert.throws(() => downConvertedRecordByRecord(bad, magic), DecodeError);
      assert.throws(() => downConvertFromV2(bad, magic), DecodeError);
    }
  }
});
