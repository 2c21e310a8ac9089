import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeProduceRequest, decodeRequestHeader, requestHeaderVersion } from '../../src/protocol/generated/index.js';
import { Reader } from '../../src/protocol/primitives/index.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { KCAT_RECORDS, kcatValue } from './kcat-payload.js';

// Record batches inside Produce requests recorded from real clients (scripts/capture-client-requests.ts).
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'requests');

function producedRecords(client: string, file: string) {
  const frame = readFileSync(join(FIXTURES, client, file));
  const r = new Reader(frame);
  const version = frame.readInt16BE(2);
  decodeRequestHeader(r, requestHeaderVersion(0, version));
  const request = decodeProduceRequest(r, version);
  const records = request.topicData[0]!.partitionData[0]!.records!;
  const { batches, partialBytes } = readBatches(records);
  assert.equal(partialBytes, 0);
  return batches.map((b) => {
    assert.equal(b.verifyCrc(), true, `${file}: CRC`);
    return {
      compression: b.compression,
      records: [...b.records()].map((x) => ({
        key: x.key?.toString() ?? null,
        value: x.value?.toString() ?? null,
        headers: x.headers.map((h) => [h.key, h.value?.toString() ?? null]),
      })),
    };
  });
}

test('kcat (librdkafka) batches decode to the records sent, under every codec', () => {
  const codecs: Array<[string, CompressionType]> = [
    ['none', CompressionType.None],
    ['gzip', CompressionType.Gzip],
    ['snappy', CompressionType.Snappy],
    ['lz4', CompressionType.Lz4],
    ['zstd', CompressionType.Zstd],
  ];
  for (const [name, type] of codecs) {
    const batches = producedRecords('kcat', `Produce-v7-kcat-${name}.bin`);
    assert.equal(batches[0]!.compression, type, name);
    assert.deepEqual(
      batches.flatMap((b) => b.records),
      Array.from({ length: KCAT_RECORDS }, (_, i) => ({ key: `k${i}`, value: kcatValue(i), headers: [['h', 'x']] })),
      name,
    );
  }
});

test('kafka-python, KafkaJS and @platformatic/kafka batches decode to the records sent', () => {
  const expected = [{ key: 'k', value: 'v', headers: [['h', 'x']] }];
  assert.deepEqual(
    producedRecords('kafka-python', 'Produce-v7-py-topic.bin').flatMap((b) => b.records),
    expected,
  );
  assert.deepEqual(
    producedRecords('kafkajs', 'Produce-v7-js-topic.bin').flatMap((b) => b.records),
    expected,
  );
  assert.deepEqual(
    producedRecords('platformatic', 'Produce-v11-pl-topic.bin').flatMap((b) => b.records),
    expected,
  );
});
