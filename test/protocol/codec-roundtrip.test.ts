import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import * as generated from '../../src/protocol/generated/index.js';
import { schemas } from '../../src/protocol/generated/schema.js';
import { DecodeError, Reader, Writer } from '../../src/protocol/primitives/index.js';
import { messageArb } from './schema-arbitrary.js';

type Codec = (...args: unknown[]) => unknown;
const codecs = generated as unknown as Record<string, Codec>;

/** Values per message and version: enough to cover nulls, empties and tagged fields across the suite. */
const RUNS_PER_VERSION = 12;

function encode(name: string, version: number, value: unknown): Buffer {
  const w = new Writer(64);
  codecs[`encode${name}`]!(w, version, value);
  return w.toBuffer();
}

for (const [name, schema] of Object.entries(schemas)) {
  test(`${name}: every version round-trips, byte for byte`, () => {
    const decode = codecs[`decode${name}`]!;
    for (let version = schema.validVersions[0]; version <= schema.validVersions[1]; version++) {
      fc.assert(
        fc.property(messageArb(schema, version), (value) => {
          const bytes = encode(name, version, value);
          const r = new Reader(bytes);
          const back = decode(r, version);
          assert.equal(r.remaining, 0, 'the decoder consumes the whole encoding');
          assert.deepStrictEqual(back, value);
          assert.deepStrictEqual(encode(name, version, back), bytes, 're-encoding is byte-identical');
        }),
        { numRuns: RUNS_PER_VERSION, seed: 42 },
      );
    }
  });
}

test('hostile bytes: truncations and mutations of valid encodings fail with DecodeError only', () => {
  const rng = fc.sample(fc.integer({ min: 0, max: 255 }), { numRuns: 100_000, seed: 7 });
  let k = 0;
  for (const [name, schema] of Object.entries(schemas)) {
    const decode = codecs[`decode${name}`]!;
    for (let version = schema.validVersions[0]; version <= schema.validVersions[1]; version++) {
      const [value] = fc.sample(messageArb(schema, version), { numRuns: 1, seed: version });
      const bytes = encode(name, version, value);
      for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 16))) {
        assert.throws(
          () => decode(new Reader(bytes.subarray(0, cut)), version),
          DecodeError,
          `${name} v${version} cut ${cut}`,
        );
      }
      for (let m = 0; m < 8 && bytes.length > 0; m++) {
        const mutated = Buffer.from(bytes);
        mutated[rng[k++ % rng.length]! % mutated.length] = rng[k++ % rng.length]!;
        try {
          decode(new Reader(mutated), version);
        } catch (e) {
          assert.ok(e instanceof DecodeError, `${name} v${version}: ${String(e)}`);
        }
      }
    }
  }
});

test('unsupported versions and fields a version cannot carry are refused', () => {
  assert.throws(
    () => encode('ProduceRequest', 12, generated.defaultProduceRequest()),
    generated.UnsupportedVersionError,
  );
  const withTxn = { ...generated.defaultProduceRequest(), transactionalId: 'tx' };
  assert.throws(() => encode('ProduceRequest', 2, withTxn), generated.UnsupportedVersionError);
  assert.ok(encode('ProduceRequest', 3, withTxn).length > 0);
});
