import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis, defaultFetchRequest, defaultProduceRequest } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { RawClient } from './raw-client.js';

const FETCH_MAX_BYTES = 4096;
const INT32_MAX = 2 ** 31 - 1;
let broker: Broker;
let c: RawClient;

before(async () => {
  broker = await startBroker({ fetchMaxBytes: FETCH_MAX_BYTES });
  c = await RawClient.connect(broker.port);
});
after(async () => {
  c.close();
  await broker.stop();
});

/** Creates `topic` and writes `batches` batches of one record of `valueBytes` each. */
async function produce(topic: string, valueBytes: number, batches: number): Promise<void> {
  const created = await c.request(apis.CreateTopics, 7, {
    topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  for (let i = 0; i < batches; i++) {
    const records = buildRecordBatch([{ key: null, value: Buffer.alloc(valueBytes, 0x61), timestamp: 1n }]);
    const res = await c.request(apis.Produce, 9, {
      ...defaultProduceRequest(),
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
    assert.equal(res.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
  }
}

/** A fetch from offset 0 asking for as much as the protocol can say. */
function fetchAll(topic: string, version: number, fields: { minBytes?: number; maxWaitMs?: number } = {}) {
  return c.request(apis.Fetch, version, {
    ...defaultFetchRequest(),
    maxWaitMs: fields.maxWaitMs ?? 0,
    minBytes: fields.minBytes ?? 0,
    maxBytes: INT32_MAX,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: INT32_MAX,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
  });
}

/** Walks a v2 record set's batches by their length fields; fails on a cut batch. */
function batchCount(records: Buffer): number {
  let n = 0;
  for (let pos = 0; pos < records.length; n++) {
    const size = 12 + records.readInt32BE(pos + 8);
    assert.ok(pos + size <= records.length, 'whole batches only');
    pos += size;
  }
  return n;
}

test('fetch.max.bytes bounds a Fetch asking for 2^31-1 bytes, in every version, with whole batches', async () => {
  await produce('capped', 1000, 20);
  for (const version of [3, 4, 12]) {
    const res = await fetchAll('capped', version);
    const records = res.responses[0]!.partitions[0]!.records!;
    assert.ok(records.length > 0 && records.length <= FETCH_MAX_BYTES, `v${version}: ${records.length} bytes`);
    assert.ok(batchCount(records) >= 2, `v${version}: as many whole batches as fit`);
  }
  // v0-2 carry no maximum of their own; the broker's still applies (their message sets are converted).
  const v2 = await fetchAll('capped', 2);
  assert.ok(v2.responses[0]!.partitions[0]!.records!.length <= FETCH_MAX_BYTES);
});

test('a batch larger than fetch.max.bytes still comes back whole, alone', async () => {
  await produce('large-batch', 3 * FETCH_MAX_BYTES, 2);
  const res = await fetchAll('large-batch', 12);
  const records = res.responses[0]!.partitions[0]!.records!;
  assert.ok(records.length > 3 * FETCH_MAX_BYTES);
  assert.equal(batchCount(records), 1);
});

test('min_bytes past fetch.max.bytes is answered once fetch.max.bytes are there, not at max_wait_ms', async () => {
  await produce('min-capped', 1000, 10);
  // Without the cap on min_bytes this waits the whole ten minutes.
  const res = await fetchAll('min-capped', 12, { minBytes: INT32_MAX, maxWaitMs: 600_000 });
  assert.ok(res.responses[0]!.partitions[0]!.records!.length > 0);
});

test('DescribeConfigs reports fetch.max.bytes and queued.max.request.bytes', async () => {
  const res = await c.request(apis.DescribeConfigs, 4, {
    resources: [
      { resourceType: 4, resourceName: '0', configurationKeys: ['fetch.max.bytes', 'queued.max.request.bytes'] },
    ],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  const values = new Map(res.results[0]!.configs.map((e) => [e.name, e.value]));
  assert.equal(values.get('fetch.max.bytes'), String(FETCH_MAX_BYTES));
  assert.equal(values.get('queued.max.request.bytes'), String(100 * 1024 * 1024));
});

test('Fetches pipelined on one connection are read one at a time and all answered, in order', async () => {
  await produce('pipelined', 1000, 10);
  const answers = await Promise.all(Array.from({ length: 8 }, () => fetchAll('pipelined', 12)));
  for (const res of answers) assert.ok(res.responses[0]!.partitions[0]!.records!.length > 0);
});
