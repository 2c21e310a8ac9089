import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { ErrorCode } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { defaultFetchRequest } from '../../src/protocol/generated/messages/fetch-request.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { samsa } from '../integration/cli.js';
import { consumeWithKcat, PYTHON } from '../integration/clients.js';
import { type ClusterBroker, eventually, kafkaFor, RawClient, startCluster, stopCluster } from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';

const run = promisify(execFile);
let etcd: EtcdServer;
let dir: string;
let brokers: ClusterBroker[] = [];

before(async () => {
  if (etcdUnavailable) return;
  etcd = await startEtcd();
  // One cluster for the file's tests: three broker processes start in seconds each, on a shared machine.
  dir = await mkdtemp(join(tmpdir(), 'samsa-cluster-'));
  // Auto-created topics get three partitions, so that their placement shows.
  brokers = await startCluster(etcd, dir, [1, 2, 3], { extra: { 'num.partitions': 3 } });
  // Every broker sees the other two before the tests start placing partitions.
  for (const b of brokers) {
    await eventually(`broker ${b.nodeId} sees three brokers`, async () => {
      const c = await RawClient.connect(b.port);
      try {
        const md = await c.request(apis.Metadata, 12, {
          topics: [],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        return md.brokers.length === 3 ? true : undefined;
      } finally {
        c.close();
      }
    });
  }
});

after(async () => {
  if (etcdUnavailable) return;
  await stopCluster(brokers);
  await rm(dir, { recursive: true, force: true });
  await etcd.destroy();
});

async function withRaw<T>(port: number, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

async function metadata(port: number, topic: string) {
  return withRaw(port, (c) =>
    c.request(apis.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    }),
  );
}

/** Partition -> leader, once every broker of the test's view reports the topic with live leaders. */
async function leaders(topic: string, port = brokers[0]!.port): Promise<Map<number, number>> {
  return eventually(`${topic} has leaders`, async () => {
    const md = await metadata(port, topic);
    const t = md.topics[0]!;
    if (t.errorCode !== ErrorCode.NONE || t.partitions.some((p) => p.errorCode !== ErrorCode.NONE)) return undefined;
    return new Map(t.partitions.map((p) => [p.partitionIndex, p.leaderId]));
  });
}

const broker = (nodeId: number) => brokers.find((b) => b.nodeId === nodeId)!;

test('a topic of 6 partitions on 3 brokers leads 2 on each; each broker holds logs only for the partitions it leads; ' +
  'a client writes to all of them through one broker and reads them back through another', {
  skip: etcdUnavailable,
}, async () => {
  const kafka = kafkaFor([brokers[0]!.bootstrap]);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();
  const led = await leaders('spread');
  assert.deepEqual(
    [1, 2, 3].map((id) => [...led.values()].filter((l) => l === id).length),
    [2, 2, 2],
    'two leaders per broker',
  );
  // Every broker answers the same leaders.
  for (const b of brokers) assert.deepEqual(await leaders('spread', b.port), led);
  for (const b of brokers) {
    const held = await eventually(`broker ${b.nodeId} created its logs`, async () => {
      const dirs = (await readdir(join(dir, `broker-${b.nodeId}`))).filter((d) => d.startsWith('spread-')).sort();
      return dirs.length === 2 ? dirs : undefined;
    });
    const expected = [...led].filter(([, l]) => l === b.nodeId).map(([p]) => `spread-${p}`);
    assert.deepEqual(held, expected.sort(), `broker ${b.nodeId} holds only its own partitions`);
  }

  const producer = kafka.producer();
  await producer.connect();
  const sent = Array.from({ length: 60 }, (_, i) => ({ partition: i % 6, key: `k${i}`, value: `v${i}` }));
  await producer.send({ topic: 'spread', messages: sent });
  await producer.disconnect();

  const consumer = kafkaFor([brokers[2]!.bootstrap], 'reader').consumer({ groupId: 'spread-readers' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'spread', fromBeginning: true });
  const received: Array<{ partition: number; key: string; value: string; offset: string }> = [];
  const all = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          key: message.key!.toString(),
          value: message.value!.toString(),
          offset: message.offset,
        });
        if (received.length === sent.length) resolve();
      },
    });
  });
  await all;
  await consumer.disconnect();
  for (let p = 0; p < 6; p++) {
    const expected = sent.filter((m) => m.partition === p).map((m) => `${m.key}=${m.value}`);
    const got = received.filter((m) => m.partition === p);
    assert.deepEqual(
      got.map((m) => `${m.key}=${m.value}`),
      expected,
      `partition ${p} in order`,
    );
    assert.deepEqual(
      got.map((m) => m.offset),
      expected.map((_, i) => String(i)),
    );
  }
});

test('Produce, Fetch and ListOffsets sent to a broker that does not lead the partition: NOT_LEADER_OR_FOLLOWER, ' +
  "with KIP-951's current leader and its endpoint", { skip: etcdUnavailable }, async () => {
  const admin = kafkaFor([brokers[0]!.bootstrap]).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'hints', numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const led = await leaders('hints');
  const leader = broker(led.get(0)!);
  const other = brokers.find((b) => b !== leader)!;
  const records = buildRecordBatch([{ key: null, value: Buffer.from('x'), timestamp: BigInt(Date.now()) }]);
  const md = await metadata(other.port, 'hints');
  const leaderEpoch = md.topics[0]!.partitions.find((p) => p.partitionIndex === 0)!.leaderEpoch;
  const topicId = md.topics[0]!.topicId;
  await withRaw(other.port, async (c) => {
    const produced = await c.request(apis.Produce, 11, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'hints', partitionData: [{ index: 0, records }] }],
    });
    const p = produced.responses[0]!.partitionResponses[0]!;
    assert.equal(p.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.deepEqual(p.currentLeader, { leaderId: leader.nodeId, leaderEpoch });
    assert.deepEqual(produced.nodeEndpoints, [
      { nodeId: leader.nodeId, host: '127.0.0.1', port: leader.port, rack: null },
    ]);

    const fetched = await c.request(apis.Fetch, 16, {
      ...defaultFetchRequest(),
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      sessionEpoch: -1,
      topics: [
        {
          topic: '',
          topicId,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1 << 20,
              replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
            },
          ],
        },
      ],
    });
    const f = fetched.responses[0]!.partitions[0]!;
    assert.equal(f.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.deepEqual(f.currentLeader, { leaderId: leader.nodeId, leaderEpoch });
    assert.deepEqual(
      fetched.nodeEndpoints.map((e) => [e.nodeId, e.port]),
      [[leader.nodeId, leader.port]],
    );

    const listed = await c.request(apis.ListOffsets, 8, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: 'hints',
          partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
        },
      ],
    });
    assert.equal(listed.topics[0]!.partitions[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });
  // The leader itself takes the write.
  await withRaw(leader.port, async (c) => {
    const produced = await c.request(apis.Produce, 11, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'hints', partitionData: [{ index: 0, records }] }],
    });
    assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    assert.deepEqual(produced.nodeEndpoints, []);
  });
});

test('replication factor 2 is placed on two brokers, 4 exceeds the brokers: INVALID_REPLICATION_FACTOR, saying why', {
  skip: etcdUnavailable,
}, async () => {
  await withRaw(brokers[1]!.port, async (c) => {
    const created = await c.request(apis.CreateTopics, 7, {
      topics: [
        { name: 'rf2', numPartitions: 1, replicationFactor: 2, assignments: [], configs: [] },
        { name: 'rf4', numPartitions: 1, replicationFactor: 4, assignments: [], configs: [] },
        {
          name: 'rf2-assigned',
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
          configs: [],
        },
      ],
      timeoutMs: 5000,
      validateOnly: false,
    });
    const [rf2, rf4, assigned] = created.topics;
    assert.equal(rf2!.errorCode, ErrorCode.NONE);
    assert.equal(rf4!.errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
    assert.match(rf4!.errorMessage!, /only 3 broker\(s\) are registered/);
    assert.equal(assigned!.errorCode, ErrorCode.NONE);
    const md = await metadata(brokers[1]!.port, 'rf2-assigned');
    assert.deepEqual(md.topics[0]!.partitions[0]!.replicaNodes, [1, 2]);
    assert.equal(md.topics[0]!.partitions[0]!.leaderId, 1);
  });
});

test('consumer groups and transactions whose coordinator is another broker: FindCoordinator points at the leader of ' +
  "the key's partition, and commits and fetches of offsets work through a bootstrap broker that is not it", {
  skip: etcdUnavailable,
}, async () => {
  const bootstrap = brokers[0]!;
  // A group whose coordinator is not the bootstrap broker.
  let groupId = '';
  let coordinator = -1;
  for (let i = 0; coordinator === -1 || coordinator === bootstrap.nodeId; i++) {
    groupId = `group-${i}`;
    const found = await eventually('a coordinator', async () => {
      const r = await withRaw(bootstrap.port, (c) =>
        c.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [groupId] }),
      );
      const one = r.coordinators[0]!;
      return one.errorCode === ErrorCode.NONE ? one : undefined;
    });
    coordinator = found.nodeId;
    assert.equal(found.port, broker(coordinator).port, 'the endpoint is the coordinator broker');
  }
  const partition = await eventually('__consumer_offsets leaders', async () => {
    const md = await metadata(bootstrap.port, '__consumer_offsets');
    return md.topics[0]!.errorCode === ErrorCode.NONE ? md.topics[0]! : undefined;
  });
  assert.ok(
    new Set(partition.partitions.map((p) => p.leaderId)).size === 3,
    '__consumer_offsets is led by all three brokers',
  );

  const kafka = kafkaFor([bootstrap.bootstrap]);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'committed', numPartitions: 3 }], waitForLeaders: true });
  await admin.setOffsets({
    groupId,
    topic: 'committed',
    partitions: [
      { partition: 0, offset: '0' },
      { partition: 1, offset: '0' },
      { partition: 2, offset: '0' },
    ],
  });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: 'committed',
    messages: Array.from({ length: 9 }, (_, i) => ({ partition: i % 3, value: `m${i}` })),
  });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: 'committed' });
  let count = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        await consumer.commitOffsets([{ topic: 'committed', partition, offset: String(Number(message.offset) + 1) }]);
        if (++count === 9) resolve();
      },
    });
  });
  await consumer.disconnect();
  const offsets = await admin.fetchOffsets({ groupId, topics: ['committed'] });
  assert.deepEqual(offsets[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [
    [0, '3'],
    [1, '3'],
    [2, '3'],
  ]);
  await admin.disconnect();

  // A transactional id whose coordinator is on another broker is found there too.
  const txn = await eventually('a transaction coordinator', async () => {
    const r = await withRaw(bootstrap.port, (c) =>
      c.request(apis.FindCoordinator, 4, {
        key: '',
        keyType: 1,
        coordinatorKeys: Array.from({ length: 12 }, (_, i) => `txn-${i}`),
      }),
    );
    return r.coordinators.every((x) => x.errorCode === ErrorCode.NONE) ? r.coordinators : undefined;
  });
  assert.ok(
    txn.some((x) => x.nodeId !== bootstrap.nodeId),
    'some transactional ids are coordinated elsewhere',
  );
  for (const x of txn) assert.equal(x.port, broker(x.nodeId).port);
});

test('a broker killed with -9: its partitions report no leader (LEADER_NOT_AVAILABLE, the replica offline); ' +
  'restarted, it rejoins and leads them again with its records', { skip: etcdUnavailable }, async () => {
  const kafka = kafkaFor([brokers[0]!.bootstrap]);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'rejoin', numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const led = await leaders('rejoin');
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'rejoin', messages: [0, 1, 2].map((p) => ({ partition: p, value: `before-${p}` })) });
  await producer.disconnect();

  const victim = broker(led.get(2)!);
  const survivor = brokers.find((b) => b !== victim)!;
  await victim.process.kill();
  const offline = await eventually('the dead leader is noticed', async () => {
    const md = await metadata(survivor.port, 'rejoin');
    const p = md.topics[0]!.partitions.find((x) => x.partitionIndex === 2)!;
    return p.leaderId === -1 ? p : undefined;
  });
  assert.equal(offline.errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
  assert.deepEqual(offline.offlineReplicas, [victim.nodeId]);

  await victim.restart();
  const back = await leaders('rejoin', survivor.port);
  assert.deepEqual(back, led, 'the restarted broker leads its partitions again');
  const consumer = kafkaFor([survivor.bootstrap], 'rejoin-reader').consumer({ groupId: 'rejoin-readers' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'rejoin', fromBeginning: true });
  const values: string[] = [];
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value!.toString());
        if (values.length === 3) resolve();
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual(values.sort(), ['before-0', 'before-1', 'before-2']);
});

/** The partition directories of `topic` in each broker's log dir, by node id. */
async function logDirsOf(topic: string): Promise<Map<number, string[]>> {
  const held = new Map<number, string[]>();
  for (const b of brokers) {
    const dirs = await readdir(join(dir, `broker-${b.nodeId}`));
    held.set(b.nodeId, dirs.filter((d) => d.startsWith(`${topic}-`) && /^\d+$/.test(d.slice(topic.length + 1))).sort());
  }
  return held;
}

test('kcat (librdkafka) auto-creates a topic through one broker: its partitions are spread over the three; it writes ' +
  'each partition on its leader, and reads every record back through another broker', {
  skip: etcdUnavailable,
}, async () => {
  const lines = Array.from({ length: 30 }, (_, i) => `k${i}:v${i}`).join('\n');
  // -p -1 lets librdkafka's partitioner spread the keys; the metadata tells it which broker leads each.
  await run('sh', [
    '-c',
    `printf '%s\\n' "$0" | kcat -b ${brokers[2]!.bootstrap} -P -t kcat-auto -K : -X acks=all`,
    lines,
  ]);
  const led = await leaders('kcat-auto');
  assert.equal(led.size, 3, 'num.partitions partitions');
  assert.deepEqual([...new Set(led.values())].sort(), [1, 2, 3], 'one partition led by each broker');
  const read: string[] = [];
  for (let p = 0; p < 3; p++) {
    for (const r of await consumeWithKcat(brokers[0]!.bootstrap, 'kcat-auto', p)) read.push(`${r.key}:${r.value}`);
  }
  assert.deepEqual(read.sort(), lines.split('\n').sort());
});

test('a topic deleted through one broker: every broker removes the logs it held', {
  skip: etcdUnavailable,
}, async () => {
  const admin = kafkaFor([brokers[1]!.bootstrap]).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 6 }], waitForLeaders: true });
  await leaders('doomed');
  const before = await eventually('every broker holds its logs', async () => {
    const held = await logDirsOf('doomed');
    return [...held.values()].every((d) => d.length === 2) ? held : undefined;
  });
  assert.equal(before.size, 3);
  await admin.deleteTopics({ topics: ['doomed'] });
  await admin.disconnect();
  await eventually('every broker removed them', async () => {
    const held = await logDirsOf('doomed');
    return [...held.values()].every((d) => d.length === 0) ? true : undefined;
  });
});

test("samsa topics --describe (kafka-topics.sh) through any broker shows each partition's leader, replicas and ISR", {
  skip: etcdUnavailable,
}, async () => {
  const admin = kafkaFor([brokers[0]!.bootstrap]).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'described', numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const led = await leaders('described');
  assert.equal(new Set(led.values()).size, 3, 'three leaders');
  const { code, stdout } = await samsa([
    'topics',
    '--bootstrap-server',
    brokers[2]!.bootstrap,
    '--describe',
    '--topic',
    'described',
  ]);
  assert.equal(code, 0);
  for (const [partition, leader] of led) {
    assert.match(
      stdout,
      new RegExp(`Partition: ${partition}\\tLeader: ${leader}\\tReplicas: ${leader}\\tIsr: ${leader}`),
    );
  }
});

test('CreatePartitions continues the round-robin: three partitions added to three leave two led by each broker', {
  skip: etcdUnavailable,
}, async () => {
  const admin = kafkaFor([brokers[1]!.bootstrap]).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'grown', numPartitions: 3 }], waitForLeaders: true });
  const before = await leaders('grown');
  await admin.createPartitions({ topicPartitions: [{ topic: 'grown', count: 6 }] });
  await admin.disconnect();
  const after = await eventually('six partitions', async () => {
    const led = await leaders('grown');
    return led.size === 6 ? led : undefined;
  });
  for (let p = 0; p < 3; p++) assert.equal(after.get(p), before.get(p), 'existing partitions keep their leader');
  assert.deepEqual(
    [1, 2, 3].map((id) => [...after.values()].filter((l) => l === id).length),
    [2, 2, 2],
  );
  for (let p = 3; p < 6; p++) assert.equal(after.get(p), after.get(p - 3), "Kafka's round continues where it began");
});

test('@platformatic/kafka: an idempotent producer writes to partitions on three brokers through one, and a KIP-848 ' +
  'consumer group reads every record back through another, its coordinator wherever its partition is led', {
  skip: etcdUnavailable,
}, async () => {
  const admin = kafkaFor([brokers[0]!.bootstrap]).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'platformatic', numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  assert.equal(new Set((await leaders('platformatic')).values()).size, 3, 'three leaders');
  const producer = new Producer({
    clientId: 'cluster-producer',
    bootstrapBrokers: [brokers[2]!.bootstrap],
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
  });
  const sent = Array.from({ length: 30 }, (_, i) => ({
    topic: 'platformatic',
    partition: i % 3,
    key: `k${i}`,
    value: `v${i}`,
  }));
  try {
    await producer.send({ messages: sent });
  } finally {
    await producer.close();
  }
  const consumer = new Consumer({
    groupId: 'platformatic-readers',
    groupProtocol: 'consumer',
    clientId: 'cluster-consumer',
    bootstrapBrokers: [brokers[0]!.bootstrap],
    deserializers: stringDeserializers,
  });
  const received: string[] = [];
  try {
    const stream = await consumer.consume({
      topics: ['platformatic'],
      mode: 'earliest',
      autocommit: true,
      maxWaitTime: 200,
    });
    await new Promise<void>((resolve) => {
      stream.on('data', (m) => {
        received.push(`${m.partition}:${m.key}=${m.value}`);
        if (received.length === sent.length) resolve();
      });
    });
    await stream.close();
  } finally {
    await consumer.close();
  }
  assert.deepEqual(received.sort(), sent.map((m) => `${m.partition}:${m.key}=${m.value}`).sort());
});

test('a transaction over partitions led by three brokers, its coordinator on one of them: committed, its records and ' +
  'offsets are there for read_committed readers; aborted, they are not; markers reach every leader', {
  skip: etcdUnavailable,
}, async () => {
  const kafka = kafkaFor([brokers[0]!.bootstrap], 'txn-cluster');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'txn-spread', numPartitions: 3 },
      { topic: 'txn-source', numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
  assert.equal(new Set((await leaders('txn-spread')).values()).size, 3, 'three leaders');
  const producer = kafka.producer({ transactionalId: 'cluster-txn', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  try {
    const committed = await producer.transaction();
    await committed.send({
      topic: 'txn-spread',
      messages: [0, 1, 2].flatMap((p) => [0, 1].map((i) => ({ partition: p, value: `committed-${p}-${i}` }))),
    });
    await committed.sendOffsets({
      consumerGroupId: 'txn-cluster-group',
      topics: [{ topic: 'txn-source', partitions: [{ partition: 0, offset: '7' }] }],
    });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({
      topic: 'txn-spread',
      messages: [0, 1, 2].map((p) => ({ partition: p, value: `aborted-${p}` })),
    });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic: 'txn-spread', messages: [0, 1, 2].map((p) => ({ partition: p, value: `last-${p}` })) });
    await last.commit();
  } finally {
    await producer.disconnect();
  }
  // read_committed stops at the last stable offset: a partition whose marker was not written shows nothing.
  for (let p = 0; p < 3; p++) {
    const read = await consumeWithKcat(brokers[1]!.bootstrap, 'txn-spread', p, 'read_committed');
    assert.deepEqual(
      read.map((r) => r.value),
      [`committed-${p}-0`, `committed-${p}-1`, `last-${p}`],
      `partition ${p}`,
    );
  }
  const offsets = await admin.fetchOffsets({ groupId: 'txn-cluster-group', topics: ['txn-source'] });
  assert.deepEqual(
    offsets[0]!.partitions.map((p) => [p.partition, p.offset]),
    [[0, '7']],
  );
  await admin.disconnect();
});

test("librdkafka's exactly-once loop (confluent-kafka-python) across three leaders: the transaction's partitions " +
  'led by the other brokers, verified with its coordinator (KIP-890); each input once in the output', {
  skip: etcdUnavailable,
}, async () => {
  const kafka = kafkaFor([brokers[0]!.bootstrap], 'eos-spread');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        { topic: 'eos-spread-in', numPartitions: 3 },
        { topic: 'eos-spread-out', numPartitions: 3 },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  assert.equal(new Set((await leaders('eos-spread-out')).values()).size, 3, 'three leaders');
  const inputs = Array.from({ length: 300 }, (_, i) => `i${i}`);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'eos-spread-in', messages: inputs.map((value, i) => ({ value, partition: i % 3 })) });
  await producer.disconnect();

  const bootstrap = brokers.map((b) => b.bootstrap).join(',');
  const script = join(import.meta.dirname, '..', 'integration', 'python', 'eos_processor.py');
  const { stderr } = await run(
    PYTHON,
    [script, bootstrap, 'eos-spread-in', 'eos-spread-out', 'eos-spread-group', 'eos-spread'],
    {
      timeout: 120_000,
    },
  );
  assert.doesNotMatch(stderr, /Traceback/);
  const outputs: string[] = [];
  for (let p = 0; p < 3; p++)
    for (const r of await consumeWithKcat(brokers[1]!.bootstrap, 'eos-spread-out', p, 'read_committed'))
      outputs.push(r.value!);
  assert.deepEqual(outputs.sort(), inputs.map((v) => `out-${v}`).sort(), 'every input exactly once');
});
