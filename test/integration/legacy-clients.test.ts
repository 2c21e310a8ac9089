import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Broker, startBroker } from '../../src/index.js';
import { consumeWithKcat, PYTHON } from './clients.js';

const run = promisify(execFile);
let broker: Broker;

before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker.stop();
});

/**
 * kafka-python pinned to an old protocol generation: 0.9 speaks Produce/Fetch v0-1 with message format v0,
 * 0.10.1 speaks Produce v2 / Fetch v3 with format v1 (timestamps, relative offsets in compressed sets).
 */
async function oldClientRoundTrip(apiVersion: string, topic: string, compression: string): Promise<unknown[]> {
  const script = `
import json, sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
v = tuple(int(x) for x in sys.argv[2].split('.'))
comp = None if sys.argv[4] == 'none' else sys.argv[4]
p = KafkaProducer(bootstrap_servers=sys.argv[1], api_version=v, compression_type=comp, acks=1)
for i in range(5):
    p.send(sys.argv[3], key=b'k%d' % i, value=b'v%d' % i, partition=0, timestamp_ms=1700000000000 + i if v >= (0, 10) else None)
p.flush(); p.close()
c = KafkaConsumer(bootstrap_servers=sys.argv[1], api_version=v, group_id=None, consumer_timeout_ms=60000)
tp = TopicPartition(sys.argv[3], 0)
c.assign([tp]); c.seek_to_beginning(tp)
out = []
for m in c:
    out.append([m.offset, m.key.decode(), m.value.decode(), m.timestamp])
    if len(out) == 5: break
c.close()
print(json.dumps(out))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap, apiVersion, topic, compression], {
    timeout: 120_000,
  });
  return JSON.parse(stdout) as unknown[];
}

test('0.9-generation client (message format v0): produce and consume, plain and gzip', async () => {
  for (const compression of ['none', 'gzip']) {
    const topic = `legacy-v0-${compression}`;
    const records = await oldClientRoundTrip('0.9', topic, compression);
    assert.deepEqual(
      records,
      // Message format v0 has no timestamps; kafka-python reports None.
      [0, 1, 2, 3, 4].map((i) => [i, `k${i}`, `v${i}`, null]),
      compression,
    );
    // A modern client reads what the old one wrote.
    const modern = await consumeWithKcat(broker.bootstrap, topic, 0);
    assert.deepEqual(
      modern.map((r) => [r.offset, r.key, r.value]),
      [0, 1, 2, 3, 4].map((i) => [i, `k${i}`, `v${i}`]),
    );
  }
});

test('0.10.1-generation client (message format v1): produce and consume with timestamps, plain and gzip', async () => {
  for (const compression of ['none', 'gzip']) {
    const records = await oldClientRoundTrip('0.10.1', `legacy-v1-${compression}`, compression);
    assert.deepEqual(
      records,
      [0, 1, 2, 3, 4].map((i) => [i, `k${i}`, `v${i}`, 1700000000000 + i]),
      compression,
    );
  }
});
