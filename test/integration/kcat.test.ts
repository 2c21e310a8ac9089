import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Broker, startBroker } from '../../src/index.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { consumeWithKafkaPython, consumeWithKcat } from './clients.js';

const run = promisify(execFile);
let broker: Broker;

before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker.stop();
});

const RECORDS = 20;
const value = (i: number) => `value-${i}-${'abc'.repeat(40)}`;

test('kcat produces under each codec; the log holds its compressed batches as sent; readers get the records', async () => {
  const codecs: Array<[string, CompressionType]> = [
    ['none', CompressionType.None],
    ['gzip', CompressionType.Gzip],
    ['snappy', CompressionType.Snappy],
    ['lz4', CompressionType.Lz4],
    ['zstd', CompressionType.Zstd],
  ];
  const lines = Array.from({ length: RECORDS }, (_, i) => `k${i}:${value(i)}`).join('\n');
  for (const [codec, stored] of codecs) {
    const topic = `kcat-${codec}`;
    await run('sh', [
      '-c',
      `printf '%s\\n' "$0" | kcat -b ${broker.bootstrap} -P -t ${topic} -K : -z ${codec} -H h=x -X acks=all`,
      lines,
    ]);
    const log = await readFile(join(broker.settings.logDirs[0]!, `${topic}-0`, '00000000000000000000.log'));
    const { batches } = readBatches(log);
    assert.ok(batches.length >= 1);
    for (const b of batches) {
      assert.equal(b.compression, stored, `${codec}: stored as the client sent it`);
      assert.equal(b.verifyCrc(), true);
    }
    const expected = Array.from({ length: RECORDS }, (_, i) => [i, `k${i}`, value(i), [['h', 'x']]]);
    const viaKcat = await consumeWithKcat(broker.bootstrap, topic, 0);
    assert.deepEqual(
      viaKcat.map((r) => [r.offset, r.key, r.value, r.headers]),
      expected,
      `${codec} via kcat`,
    );
    const viaPython = await consumeWithKafkaPython(broker.bootstrap, topic, [0]);
    assert.deepEqual(
      viaPython.map((r) => [r.offset, r.key, r.value, r.headers]),
      expected,
      `${codec} via kafka-python`,
    );
  }
});
