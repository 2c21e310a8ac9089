import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { RawClient } from '../integration/raw-client.js';
import { eventually, kafkaFor } from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';

const PREFIX = '/samsa/replication';
/** Low, so that a stopped follower leaves the ISR within the test (Kafka's default is 30 s). */
const LAG_TIME_MAX_MS = 1_500;

let etcd: EtcdServer;
const brokers = new Map<number, Broker>();
const logDirs = new Map<number, string>();

async function start(nodeId: number): Promise<Broker> {
  const broker = await startBroker({
    nodeId,
    etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
    ...(logDirs.has(nodeId) ? { logDirs: [logDirs.get(nodeId)!] } : {}),
    replication: { replicaLagTimeMaxMs: LAG_TIME_MAX_MS, replicaFetchBackoffMs: 100 },
  });
  logDirs.set(nodeId, broker.settings.logDirs[0]!);
  brokers.set(nodeId, broker);
  return broker;
}

before(async () => {
  if (etcdUnavailable) return;
  etcd = await startEtcd();
  for (const id of [1, 2, 3]) await start(id);
  for (const b of brokers.values()) {
    await eventually(`broker ${b.settings.nodeId} sees three brokers`, async () =>
      (await metadata(b, [])).brokers.length === 3 ? true : undefined,
    );
  }
});

after(async () => {
  if (etcdUnavailable) return;
  for (const b of brokers.values()) await b.stop();
  await etcd.destroy();
});

async function withRaw<T>(broker: Broker, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(broker.port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function metadata(broker: Broker, topics: string[]) {
  return withRaw(broker, (c) =>
    c.request(apis.Metadata, 12, {
      topics: topics.map((name) => ({ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    }),
  );
}

async function partitionState(broker: Broker, topic: string) {
  const md = await metadata(broker, [topic]);
  const p = md.topics[0]!.partitions[0]!;
  return { leader: p.leaderId, epoch: p.leaderEpoch, replicas: p.replicaNodes, isr: [...p.isrNodes].sort() };
}

async function createTopic(broker: Broker, name: string, configs: Record<string, string> = {}) {
  const r = await withRaw(broker, (c) =>
    c.request(apis.CreateTopics, 7, {
      topics: [
        {
          name,
          numPartitions: 1,
          replicationFactor: 3,
          assignments: [],
          configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    }),
  );
  assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE, r.topics[0]!.errorMessage ?? '');
}

/** Produces one record with acks=all straight to `broker`; the partition's error code. */
async function produceTo(broker: Broker, topic: string, value: string, timeoutMs = 10_000): Promise<number> {
  const records = buildRecordBatch([{ key: null, value: Buffer.from(value), timestamp: BigInt(Date.now()) }]);
  const r = await withRaw(broker, (c) =>
    c.request(apis.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    }),
  );
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

/** The bytes of a partition's segment files on one broker, in offset order. */
async function segmentBytes(nodeId: number, topic: string): Promise<Buffer> {
  const dir = join(logDirs.get(nodeId)!, `${topic}-0`);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(dir, f)))));
}

/** Waits until every live replica's segments equal the leader's, and returns them. */
async function replicasIdentical(topic: string, nodeIds: number[]): Promise<Buffer> {
  return eventually(`${topic}: replicas ${nodeIds.join(',')} identical`, async () => {
    const all = await Promise.all(nodeIds.map((id) => segmentBytes(id, topic)));
    return all.every((b) => b.equals(all[0]!)) && all[0]!.length > 0 ? all[0] : undefined;
  });
}

test('a topic of replication factor 3: acks=all produces through KafkaJS are answered once every replica has them, ' +
  'and every broker holds the same batches, byte for byte', { skip: etcdUnavailable }, async () => {
  const first = brokers.get(1)!;
  await createTopic(first, 'replicated');
  const state = await partitionState(first, 'replicated');
  assert.equal(state.replicas.length, 3);
  assert.deepEqual(state.isr, [1, 2, 3]);
  const kafka = kafkaFor([first.bootstrap]);
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < 20; i++) {
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: `k${i}`, value: `value-${i}` }] });
    }
  } finally {
    await producer.disconnect();
  }
  const bytes = await replicasIdentical('replicated', [1, 2, 3]);
  assert.ok(bytes.length > 0);
  // A consumer reads all twenty from the leader, up to the high watermark.
  const consumer = kafka.consumer({ groupId: 'replicated-readers' });
  await consumer.connect();
  const seen: string[] = [];
  try {
    await consumer.subscribe({ topic: 'replicated', fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
            if (seen.length === 20) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => `value-${i}`),
  );
});

test('followers refuse client produces and fetches with NOT_LEADER_OR_FOLLOWER and the leader hint; a fetch naming an ' +
  'old leader epoch is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH', { skip: etcdUnavailable }, async () => {
  const first = brokers.get(1)!;
  await createTopic(first, 'roles');
  const { leader, epoch } = await partitionState(first, 'roles');
  const follower = [...brokers.values()].find((b) => b.settings.nodeId !== leader)!;
  const records = buildRecordBatch([{ key: null, value: Buffer.from('x'), timestamp: BigInt(Date.now()) }]);
  await withRaw(follower, async (c) => {
    const produced = await c.request(apis.Produce, 10, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'roles', partitionData: [{ index: 0, records }] }],
    });
    const p = produced.responses[0]!.partitionResponses[0]!;
    assert.equal(p.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.deepEqual(p.currentLeader, { leaderId: leader, leaderEpoch: epoch });
    const fetched = await c.request(apis.Fetch, 12, fetchRequest('roles', -1));
    const f = fetched.responses[0]!.partitions[0]!;
    assert.equal(f.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(f.currentLeader.leaderId, leader);
  });
  const leaderBroker = brokers.get(leader)!;
  await withRaw(leaderBroker, async (c) => {
    const older = await c.request(apis.Fetch, 12, fetchRequest('roles', epoch - 1 < 0 ? -1 : epoch - 1));
    if (epoch > 0) assert.equal(older.responses[0]!.partitions[0]!.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
    const newer = await c.request(apis.Fetch, 12, fetchRequest('roles', epoch + 1));
    assert.equal(newer.responses[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
    const current = await c.request(apis.Fetch, 12, fetchRequest('roles', epoch));
    assert.equal(current.responses[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  });
});

function fetchRequest(topic: string, currentLeaderEpoch: number, replicaId = -1) {
  return {
    clusterId: null,
    replicaId,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}
