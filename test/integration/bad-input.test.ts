import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  apis,
  decodeResponseHeader,
  defaultFetchRequest,
  defaultProduceRequest,
} from '../../src/protocol/generated/index.js';
import { Reader } from '../../src/protocol/primitives/index.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { consumeWithKafkaPython } from './clients.js';
import { RawClient } from './raw-client.js';

const MAX_MESSAGE_BYTES = 2000;
const MAX_REQUEST_BYTES = 100_000;
/** How long a connection may stay open after input the broker must refuse by closing it (a bound on a hang). */
const CLOSE_WAIT_MS = 60_000;
let broker: Broker;

before(async () => {
  broker = await startBroker({ messageMaxBytes: MAX_MESSAGE_BYTES, socketRequestMaxBytes: MAX_REQUEST_BYTES });
});
after(async () => {
  await broker.stop();
});

function frame(payload: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(payload.length);
  return Buffer.concat([prefix, payload]);
}

/** A request header v1 for `apiKey`/`version`, then `body`. */
function request(apiKey: number, version: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(10);
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(version, 2);
  h.writeInt32BE(1, 4);
  h.writeInt16BE(-1, 8); // null client id
  return frame(Buffer.concat([h, body]));
}

function produce(topic: string, records: Buffer) {
  return {
    ...defaultProduceRequest(),
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  };
}

test('bad input gets an error code or a closed connection while another client keeps producing', async () => {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'steady', numPartitions: 1 },
      { topic: 'target', numPartitions: 1 },
    ],
  });
  const producer = kafka.producer();
  await producer.connect();
  let acknowledged = 0;
  let producing = true;
  const background = (async () => {
    while (producing) {
      await producer.send({
        topic: 'steady',
        acks: -1,
        messages: [{ key: String(acknowledged), value: `m${acknowledged}` }],
      });
      acknowledged++;
    }
  })();

  // Framing and header problems close the connection.
  const closes: Array<[string, Buffer]> = [
    [
      'oversize frame',
      (() => {
        const b = Buffer.alloc(4);
        b.writeInt32BE(MAX_REQUEST_BYTES + 1);
        return b;
      })(),
    ],
    ['negative frame size', Buffer.from([0xff, 0xff, 0xff, 0xfe])],
    ['truncated request', frame(Buffer.from([0, 3, 0]))],
    ['unknown API key', request(9999, 0)],
    ['unsupported Produce version', request(0, 99)],
    ['Metadata body cut short', request(3, 1, Buffer.from([0, 0, 0, 5, 0, 1]))],
  ];
  for (const [name, bytes] of closes) {
    const c = await RawClient.connect(broker.port);
    c.sendRaw(bytes);
    // The broker must close the connection; one still open after a while fails the case by name.
    const wait = new AbortController();
    const closedByBroker = await Promise.race([
      c.closed.then(() => true),
      sleep(CLOSE_WAIT_MS, false, { signal: wait.signal }).catch(() => false),
    ]);
    wait.abort();
    c.close();
    assert.ok(closedByBroker, `${name}: the broker closes the connection`);
  }

  const c = await RawClient.connect(broker.port);
  // KIP-511: an ApiVersions version the broker does not know gets UNSUPPORTED_VERSION in v0, with the ranges.
  // Versions past 3 are flexible, so the header is v2: a tagged-field section follows the client id.
  c.sendRaw(request(18, 99, Buffer.from([0])));
  const raw = await c.nextFrame();
  assert.equal(raw.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION);

  const good = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: BigInt(Date.now()) }]);
  const corrupt = Buffer.from(good);
  corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 0xff;
  const big = buildRecordBatch([{ key: null, value: Buffer.alloc(MAX_MESSAGE_BYTES), timestamp: 1n }]);
  const cases: Array<[string, Buffer, number]> = [
    ['corrupted CRC', corrupt, ErrorCode.CORRUPT_MESSAGE],
    ['batch over max.message.bytes', big, ErrorCode.MESSAGE_TOO_LARGE],
    [
      'bytes that are no batch',
      Buffer.from('not a record batch at all, not at all, not at all, not at all'),
      ErrorCode.CORRUPT_MESSAGE,
    ],
  ];
  for (const [name, records, code] of cases) {
    const res = await c.request(apis.Produce, 9, produce('target', records));
    assert.equal(res.responses[0]!.partitionResponses[0]!.errorCode, code, name);
  }
  const unknown = await c.request(apis.Produce, 9, produce('no-such-topic', good));
  assert.equal(unknown.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  const created = await c.request(apis.CreateTopics, 7, {
    topics: [{ name: 'bad name!', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  const meta = await c.request(apis.Metadata, 12, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'bad/name' }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  assert.equal(meta.topics[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);

  const fetch = await c.request(apis.Fetch, 12, {
    ...defaultFetchRequest(),
    maxWaitMs: 0,
    maxBytes: 1 << 20,
    topics: [
      {
        topic: 'target',
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: -5n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
  });
  assert.equal(fetch.responses[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);

  // The good batch is still accepted on the same connection.
  const ok = await c.request(apis.Produce, 9, produce('target', good));
  assert.equal(ok.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
  c.close();

  producing = false;
  await background;
  await producer.disconnect();
  await admin.disconnect();
  assert.ok(acknowledged > 0);
  // Everything acknowledged to the steady producer is there, once, in order.
  const steady = await consumeWithKafkaPython(broker.bootstrap, 'steady', [0]);
  assert.deepEqual(
    steady.map((r) => r.value),
    Array.from({ length: acknowledged }, (_, i) => `m${i}`),
  );
});

test('acks=0 produce that fails closes the connection, so the client notices', async () => {
  const c = await RawClient.connect(broker.port);
  const good = buildRecordBatch([{ key: null, value: Buffer.from('v'), timestamp: BigInt(Date.now()) }]);
  c.send(apis.Produce, 9, { ...produce('no-such-topic-for-acks-0', good), acks: 0 });
  await c.closed;
});

test('acks=all to a partition with fewer in-sync replicas than min.insync.replicas gets NOT_ENOUGH_REPLICAS', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    const created = await c.request(apis.CreateTopics, 7, {
      topics: [
        {
          name: 'guarded',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'min.insync.replicas', value: '2' }],
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('v'), timestamp: BigInt(Date.now()) }]);
    const all = await c.request(apis.Produce, 9, produce('guarded', batch));
    assert.equal(all.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
    const one = await c.request(apis.Produce, 9, { ...produce('guarded', batch), acks: 1 });
    assert.equal(one.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    assert.equal(one.responses[0]!.partitionResponses[0]!.baseOffset, 0n, 'the refused write left nothing behind');
  } finally {
    c.close();
  }
});

test('CreateTime timestamps outside message.timestamp.before/after.max.ms get INVALID_TIMESTAMP', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    const created = await c.request(apis.CreateTopics, 7, {
      topics: [
        {
          name: 'timely',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [
            { name: 'message.timestamp.before.max.ms', value: '60000' },
            { name: 'message.timestamp.after.max.ms', value: '60000' },
          ],
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
    const now = BigInt(Date.now());
    const batch = (timestamps: bigint[], compression = CompressionType.None) =>
      buildRecordBatch(
        timestamps.map((timestamp) => ({ key: null, value: Buffer.from('v'), timestamp })),
        { compression },
      );
    const cases: Array<[string, Buffer, number]> = [
      ['now', batch([now, now]), ErrorCode.NONE],
      ['an hour ago', batch([now - 3_600_000n]), ErrorCode.INVALID_TIMESTAMP],
      ['an hour ahead', batch([now + 3_600_000n]), ErrorCode.INVALID_TIMESTAMP],
      ['one stale record among fresh ones', batch([now, now - 3_600_000n, now]), ErrorCode.INVALID_TIMESTAMP],
      ['compressed, stale', batch([now - 3_600_000n], CompressionType.Gzip), ErrorCode.INVALID_TIMESTAMP],
    ];
    for (const [name, records, code] of cases) {
      const res = await c.request(apis.Produce, 9, produce('timely', records));
      assert.equal(res.responses[0]!.partitionResponses[0]!.errorCode, code, name);
    }
  } finally {
    c.close();
  }
});

test('a record without a key sent to a compacted topic gets INVALID_RECORD, compressed or not', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    const created = await c.request(apis.CreateTopics, 7, {
      topics: [
        {
          name: 'keyed-only',
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
    const batch = (keys: Array<string | null>, compression = CompressionType.None) =>
      buildRecordBatch(
        keys.map((k) => ({ key: k === null ? null : Buffer.from(k), value: Buffer.from('v'), timestamp: 1n })),
        { compression },
      );
    const cases: Array<[string, Buffer, number]> = [
      ['keyed', batch(['a', 'b']), ErrorCode.NONE],
      ['one record without a key', batch(['a', null]), ErrorCode.INVALID_RECORD],
      ['keyed, compressed', batch(['a', 'b'], CompressionType.Lz4), ErrorCode.NONE],
      ['without a key, compressed', batch([null], CompressionType.Gzip), ErrorCode.INVALID_RECORD],
    ];
    for (const [name, records, code] of cases) {
      const res = await c.request(apis.Produce, 9, produce('keyed-only', records));
      const p = res.responses[0]!.partitionResponses[0]!;
      assert.equal(p.errorCode, code, name);
      if (code !== ErrorCode.NONE) assert.match(p.errorMessage ?? '', /without key/, name);
    }
  } finally {
    c.close();
  }
});

test('Metadata by topic id: resolved from v12, refused with INVALID_REQUEST in v10-11, the connection kept', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    // Metadata v10 asking for topic id 0102...10 with a null name, as a fuzzer sent it.
    c.sendRaw(Buffer.from('000000250003000a00000001000372617700020102030405060708090a0b0c0d0e0f10000000000000', 'hex'));
    const raw = new Reader(await c.nextFrame());
    assert.equal(decodeResponseHeader(raw, 1).correlationId, 1);
    const v10 = apis.Metadata.decodeResponse(raw, 10);
    assert.equal(v10.topics.length, 1);
    assert.equal(v10.topics[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(v10.topics[0]!.name, '');

    const created = await c.request(apis.CreateTopics, 7, {
      topics: [{ name: 'by-id', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const topicId = created.topics[0]!.topicId;
    const ask = (version: number, topics: Array<{ topicId: string; name: string | null }>) =>
      c.request(apis.Metadata, version, {
        topics,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
    const unknownId = 'AQIDBAUGBwgJCgsMDQ4PEA';
    const v12 = await ask(12, [
      { topicId, name: null },
      { topicId: unknownId, name: null },
    ]);
    assert.deepEqual(
      v12.topics.map((t) => [t.errorCode, t.name, t.topicId, t.partitions.length]),
      [
        [ErrorCode.NONE, 'by-id', topicId, 2],
        [ErrorCode.UNKNOWN_TOPIC_ID, null, unknownId, 0],
      ],
    );
    const v11 = await ask(11, [{ topicId, name: 'by-id' }]);
    assert.equal(v11.topics[0]!.errorCode, ErrorCode.INVALID_REQUEST, 'ids are refused before v12, as in Kafka');
    const byName = await ask(11, [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'by-id' }]);
    assert.equal(byName.topics[0]!.errorCode, ErrorCode.NONE, 'the same connection still serves');
  } finally {
    c.close();
  }
});

test('Metadata v1-v9 asking for the topic "" gets INVALID_TOPIC_EXCEPTION for it, the connection kept', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    for (const version of [1, 4, 9]) {
      const answer = await c.request(apis.Metadata, version, {
        topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: '' }],
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      assert.deepEqual(
        answer.topics.map((t) => [t.errorCode, t.name]),
        [[ErrorCode.INVALID_TOPIC_EXCEPTION, '']],
        `version ${version}`,
      );
    }
  } finally {
    c.close();
  }
});
