import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { type PartitionAssignment, TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { partitionForGroup } from '../../src/coordinator/group/offsets-records.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { consumeWithKcat } from '../integration/clients.js';
import { fetchRequest, RawClient } from '../integration/raw-client.js';
import { eventually, kafkaFor } from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';

const PREFIX = '/samsa/replication';
/**
 * Kafka's default. A stopped broker leaves the ISR by its controlled shutdown, before its stop resolves, so no test
 * here waits for the lag; a low value would instead let a caught-up follower drop out whenever the machine stalls
 * (three brokers share this process's event loop and thread pool).
 */
const LAG_TIME_MAX_MS = 30_000;

let etcd: EtcdServer;
let dir: string;
const brokers = new Map<number, Broker>();

function logDirOf(nodeId: number): string {
  return join(dir, `broker-${nodeId}`);
}

/** Starts (or starts again, on the same log dir) broker `nodeId`. */
async function start(nodeId: number): Promise<Broker> {
  const broker = await startBroker({
    nodeId,
    etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
    logDirs: [logDirOf(nodeId)],
    replication: { replicaLagTimeMaxMs: LAG_TIME_MAX_MS, replicaFetchBackoffMs: 100 },
    // /metrics, for the replication gauges and byte counters.
    httpListener: { host: '127.0.0.1', port: 0 },
  });
  brokers.set(nodeId, broker);
  return broker;
}

async function stop(nodeId: number): Promise<void> {
  await brokers.get(nodeId)!.stop();
  brokers.delete(nodeId);
}

before(async () => {
  if (etcdUnavailable) return;
  etcd = await startEtcd();
  dir = await mkdtemp(join(tmpdir(), 'samsa-replication-'));
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
  await rm(dir, { recursive: true, force: true });
});

/** Starts whichever of brokers 1-3 an earlier test left stopped, and waits until broker 1 sees all three. */
async function threeLive(): Promise<void> {
  for (const id of [1, 2, 3]) if (!brokers.has(id)) await start(id);
  await eventually('broker 1 sees three brokers', async () =>
    (await metadata(brokers.get(1)!, [])).brokers.length === 3 ? true : undefined,
  );
}

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

async function createTopic(broker: Broker, name: string, configs: Record<string, string> = {}, replicas?: number[]) {
  const r = await withRaw(broker, (c) =>
    c.request(apis.CreateTopics, 7, {
      topics: [
        {
          name,
          numPartitions: replicas ? -1 : 1,
          replicationFactor: replicas ? -1 : 3,
          assignments: replicas ? [{ partitionIndex: 0, brokerIds: replicas }] : [],
          configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    }),
  );
  assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE, r.topics[0]!.errorMessage ?? '');
}

/** Produces one record (acks=all unless said) straight to `broker`; the partition's error code. */
async function produceTo(broker: Broker, topic: string, value: string, acks = -1, timeoutMs = 10_000): Promise<number> {
  const records = buildRecordBatch([{ key: null, value: Buffer.from(value), timestamp: BigInt(Date.now()) }]);
  const r = await withRaw(broker, (c) =>
    c.request(apis.Produce, 9, {
      transactionalId: null,
      acks,
      timeoutMs,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    }),
  );
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

/** The bytes of a partition's segment files on one broker, in offset order. */
async function segmentBytes(nodeId: number, topic: string): Promise<Buffer> {
  const dir = join(logDirOf(nodeId), `${topic}-0`);
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
  // Replication has its own byte counters; BytesOut counts consumers only (none yet), as Kafka's.
  const leader = brokers.get(state.leader)!;
  assert.ok((await gauge(leader, 'kafka_server_brokertopicmetrics_replicationbytesout_total')) >= 2 * bytes.length);
  assert.equal(await gauge(leader, 'kafka_server_brokertopicmetrics_bytesout_total'), 0);
  for (const id of [1, 2, 3].filter((id) => id !== state.leader)) {
    const follower = brokers.get(id)!;
    assert.ok((await gauge(follower, 'kafka_server_brokertopicmetrics_replicationbytesin_total')) >= bytes.length);
  }
  // kcat (librdkafka) finds the leader and reads the twenty, in order.
  const read = await consumeWithKcat(first.bootstrap, 'replicated', 0, 'read_uncommitted');
  assert.deepEqual(
    read.map((r) => r.value),
    Array.from({ length: 20 }, (_, i) => `value-${i}`),
  );
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

/** A gauge's value from a broker's /metrics. */
async function gauge(broker: Broker, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

/** A partition's ISR as the topic record in the store holds it (what the leader's view catches up to). */
async function storedIsr(topic: string): Promise<string> {
  const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
  const topics = await TopicMetadata.load(store);
  try {
    return [...topics.get(topic)!.partitions[0]!.isr].sort().join();
  } finally {
    topics.close();
    await store.close();
  }
}

/** Writes a change to a topic record in the store, as the controller does. */
async function changeRecord(topic: string, change: (p: PartitionAssignment) => Partial<PartitionAssignment> | null) {
  const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
  const topics = await TopicMetadata.load(store);
  try {
    const outcome = await topics.modify(topic, (t) => ({
      ...t,
      partitions: t.partitions.map((p) => ({ ...p, ...(change(p) ?? {}) })),
    }));
    assert.equal(outcome, 'updated');
  } finally {
    topics.close();
    await store.close();
  }
}

test('the group coordinator moves with the leadership of its __consumer_offsets partition (replicated three times): ' +
  'the new leader loads the group from its replica and serves the committed offsets', {
  skip: etcdUnavailable,
}, async () => {
  const first = brokers.get(1)!;
  const groupId = 'replicated-readers';
  const md = await metadata(first, ['__consumer_offsets']);
  const partition = partitionForGroup(groupId, md.topics[0]!.partitions.length);
  const before = md.topics[0]!.partitions.find((p) => p.partitionIndex === partition)!;
  assert.equal(before.replicaNodes.length, 3);
  const next = before.replicaNodes.find((id) => id !== before.leaderId)!;
  await changeRecord('__consumer_offsets', (p) =>
    p.partition === partition ? { leader: next, leaderEpoch: p.leaderEpoch + 1 } : null,
  );
  await eventually('FindCoordinator names the new leader', async () => {
    const r = await withRaw(first, (c) =>
      c.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [groupId] }),
    );
    return r.coordinators[0]!.nodeId === next ? true : undefined;
  });
  const admin = kafkaFor([brokers.get(next)!.bootstrap]).admin();
  await admin.connect();
  try {
    // COORDINATOR_LOAD_IN_PROGRESS (retriable) until the new leader has loaded the partition, which it does once its
    // followers confirmed what it holds; KafkaJS's admin does not retry it by itself.
    const committed = await eventually('the new coordinator answers', () =>
      admin.fetchOffsets({ groupId, topics: ['replicated'] }),
    );
    assert.deepEqual(
      committed[0]!.partitions.map((p) => [p.partition, p.offset]),
      [[0, '20']],
    );
  } finally {
    await admin.disconnect();
  }
  // The previous leader dropped the group when it stopped leading its partition.
  const stale = await withRaw(brokers.get(before.leaderId)!, (c) =>
    c.request(apis.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: 'replicated', partitionIndexes: [0] }] }],
      requireStable: false,
    }),
  );
  assert.equal(stale.groups[0]!.errorCode, ErrorCode.NOT_COORDINATOR);
});

test('transactions on replicated partitions: the state log and the markers are replicated; kcat reads the committed ' +
  'records under read_committed, none of the aborted ones, and every replica holds the same batches', {
  skip: etcdUnavailable,
}, async () => {
  const first = brokers.get(1)!;
  await createTopic(first, 'replicated-txn');
  const kafka = kafkaFor([first.bootstrap], 'replicated-txn');
  const producer = kafka.producer({ transactionalId: 'replicated-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const committed = await producer.transaction();
    await committed.send({ topic: 'replicated-txn', messages: [{ value: 'committed-1' }, { value: 'committed-2' }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'replicated-txn', messages: [{ value: 'aborted' }] });
    await aborted.abort();
  } finally {
    await producer.disconnect();
  }
  const state = await partitionState(first, '__transaction_state');
  assert.equal(state.replicas.length, 3);
  await replicasIdentical('replicated-txn', [1, 2, 3]);
  const { leader } = await partitionState(first, 'replicated-txn');
  const read = await consumeWithKcat(brokers.get(leader)!.bootstrap, 'replicated-txn', 0, 'read_committed');
  assert.deepEqual(
    read.map((r) => r.value),
    ['committed-1', 'committed-2'],
  );
});

test('KIP-890 across brokers: a transactional batch for a partition led by another broker than its transaction ' +
  'coordinator is verified with the coordinator (AddPartitionsToTxn v4, verify only): refused outside the ' +
  'transaction, with a fenced epoch or after the commit, taken in order when pipelined, and nothing hangs; ' +
  'TxnOffsetCommit too', {
  skip: etcdUnavailable,
}, async () => {
  await threeLive();
  const transactionalId = 'verified-across-brokers';
  const coordinatorId = await eventually('a transaction coordinator', () =>
    withRaw(brokers.get(1)!, async (c) => {
      const found = await c.request(apis.FindCoordinator, 3, { key: transactionalId, keyType: 1, coordinatorKeys: [] });
      return found.errorCode === ErrorCode.NONE ? found.nodeId : undefined;
    }),
  );
  const coordinator = brokers.get(coordinatorId)!;
  const leaderId = [1, 2, 3].find((id) => id !== coordinatorId)!;
  const leader = brokers.get(leaderId)!;
  await createTopic(coordinator, 'verified-txn', {}, [leaderId]);
  const { producerId, producerEpoch } = await eventually('a producer id', () =>
    withRaw(coordinator, async (c) => {
      const r = await c.request(apis.InitProducerId, 3, {
        transactionalId,
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      return r.errorCode === ErrorCode.NONE ? r : undefined;
    }),
  );
  const batch = (sequence: number, value: string, epoch = producerEpoch) =>
    buildRecordBatch([{ key: null, value: Buffer.from(value), timestamp: BigInt(Date.now()) }], {
      producerId,
      producerEpoch: epoch,
      baseSequence: sequence,
      isTransactional: true,
    });
  const produce = (c: RawClient, records: Buffer) =>
    c
      .request(apis.Produce, 9, {
        transactionalId,
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: 'verified-txn', partitionData: [{ index: 0, records }] }],
      })
      .then((r) => r.responses[0]!.partitionResponses[0]!);
  const offsets = (c: RawClient, isolationLevel: number) =>
    c
      .request(apis.ListOffsets, 4, {
        replicaId: -1,
        isolationLevel,
        topics: [
          {
            name: 'verified-txn',
            partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
          },
        ],
      })
      .then((r) => r.topics[0]!.partitions[0]!.offset);
  const verify = (c: RawClient, version: number, pid = producerId) =>
    c
      .request(apis.AddPartitionsToTxn, version, {
        transactions: [
          {
            transactionalId,
            producerId: pid,
            producerEpoch,
            verifyOnly: true,
            topics: [{ name: 'verified-txn', partitions: [0] }],
          },
        ],
        v3AndBelowTransactionalId: '',
        v3AndBelowProducerId: 0n,
        v3AndBelowProducerEpoch: 0,
        v3AndBelowTopics: [],
      })
      .then((r) => ({
        errorCode: r.errorCode,
        partition: r.resultsByTransaction[0]?.topicResults[0]?.resultsByPartition[0]?.partitionErrorCode,
      }));

  await withRaw(leader, async (c) => {
    await eventually('the leader serves the partition', async () =>
      (await produce(c, buildRecordBatch([{ key: null, value: Buffer.from('plain'), timestamp: 0n }]))).errorCode ===
      ErrorCode.NONE
        ? true
        : undefined,
    );
    // Not added to the transaction: without the check this batch would open a transaction nobody ends.
    const outside = await produce(c, batch(0, 'outside'));
    assert.equal(outside.errorCode, ErrorCode.INVALID_TXN_STATE);
    assert.equal(outside.errorMessage, 'Partition was not added to the transaction');
    assert.equal(await offsets(c, 0), 1n);
    assert.equal(await offsets(c, 1), 1n, 'no transaction opened: the last stable offset is the high watermark');
  });
  await withRaw(coordinator, async (c) => {
    const added = await c.request(apis.AddPartitionsToTxn, 3, {
      transactions: [],
      v3AndBelowTransactionalId: transactionalId,
      v3AndBelowProducerId: producerId,
      v3AndBelowProducerEpoch: producerEpoch,
      v3AndBelowTopics: [{ name: 'verified-txn', partitions: [0] }],
    });
    assert.equal(added.resultsByTopicV3AndBelow[0]!.resultsByPartition[0]!.partitionErrorCode, ErrorCode.NONE);
    assert.deepEqual(await verify(c, 4), { errorCode: ErrorCode.NONE, partition: ErrorCode.NONE });
    // Another producer id than the transactional id's.
    assert.deepEqual(await verify(c, 4, producerId + 1000n), {
      errorCode: ErrorCode.NONE,
      partition: ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    });
  });
  await withRaw(leader, async (c) => {
    // The coordinator's question is the leader's, not the coordinator's own: another broker answers NOT_COORDINATOR.
    assert.deepEqual(await verify(c, 4), { errorCode: ErrorCode.NONE, partition: ErrorCode.NOT_COORDINATOR });
    // A newer epoch than the coordinator's is fenced there (PRODUCER_FENCED, which producers know as this).
    assert.equal((await produce(c, batch(0, 'future', producerEpoch + 1))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    // Three batches pipelined: the first waits for its verification, the others behind it, in order.
    const answers = await Promise.all([
      produce(c, batch(0, 'in-1')),
      produce(c, batch(1, 'in-2')),
      produce(c, batch(2, 'in-3')),
    ]);
    assert.deepEqual(
      answers.map((a) => [a.errorCode, a.baseOffset]),
      [
        [ErrorCode.NONE, 1n],
        [ErrorCode.NONE, 2n],
        [ErrorCode.NONE, 3n],
      ],
    );
    assert.equal(await offsets(c, 1), 1n, 'the open transaction holds the last stable offset');
  });
  // A TxnOffsetCommit to a group coordinator on another broker is verified the same way (Kafka 3.6+): refused
  // until AddOffsetsToTxn added the group's partition of __consumer_offsets to the transaction.
  let groupId = '';
  let groupCoordinatorId = coordinatorId;
  for (let i = 0; groupCoordinatorId === coordinatorId; i++) {
    groupId = `verified-group-${i}`;
    groupCoordinatorId = await eventually('a group coordinator', () =>
      withRaw(coordinator, async (c) => {
        const found = await c.request(apis.FindCoordinator, 3, { key: groupId, keyType: 0, coordinatorKeys: [] });
        return found.errorCode === ErrorCode.NONE ? found.nodeId : undefined;
      }),
    );
  }
  const commitOffsets = () =>
    withRaw(brokers.get(groupCoordinatorId)!, (c) =>
      c.request(apis.TxnOffsetCommit, 3, {
        transactionalId,
        groupId,
        producerId,
        producerEpoch,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [
          {
            name: 'verified-txn',
            partitions: [{ partitionIndex: 0, committedOffset: 4n, committedLeaderEpoch: -1, committedMetadata: null }],
          },
        ],
      }),
    ).then((r) => r.topics[0]!.partitions[0]!.errorCode);
  assert.equal(await commitOffsets(), ErrorCode.INVALID_TXN_STATE);
  await withRaw(coordinator, async (c) => {
    const added = await c.request(apis.AddOffsetsToTxn, 3, { transactionalId, producerId, producerEpoch, groupId });
    assert.equal(added.errorCode, ErrorCode.NONE);
  });
  assert.equal(await commitOffsets(), ErrorCode.NONE);
  await withRaw(coordinator, async (c) => {
    const ended = await c.request(apis.EndTxn, 3, { transactionalId, producerId, producerEpoch, committed: true });
    assert.equal(ended.errorCode, ErrorCode.NONE);
    assert.deepEqual(await verify(c, 4), { errorCode: ErrorCode.NONE, partition: ErrorCode.INVALID_TXN_STATE });
    assert.deepEqual(await verify(c, 5), { errorCode: ErrorCode.NONE, partition: ErrorCode.TRANSACTION_ABORTABLE });
  });
  await withRaw(leader, async (c) => {
    // The marker came: the last stable offset passed the transaction (records 1-3 and the marker at 4).
    await eventually('the commit marker written', async () => ((await offsets(c, 1)) === 5n ? true : undefined));
    // The transaction is over: a late batch of it is refused instead of opening another.
    assert.equal((await produce(c, batch(3, 'late'))).errorCode, ErrorCode.INVALID_TXN_STATE);
    assert.equal(await offsets(c, 1), 5n);
    assert.equal(await offsets(c, 0), 5n);
  });
});

test('followers refuse client produces, and fetches without a rack (Fetch v10-), with NOT_LEADER_OR_FOLLOWER and ' +
  'the leader hint, as does a broker holding no replica; a consumer Fetch v11+ is served by a follower (KIP-392); ' +
  'a fetch naming a newer leader epoch than the leader knows is UNKNOWN_LEADER_EPOCH', {
  skip: etcdUnavailable,
}, async () => {
  await threeLive();
  const first = brokers.get(1)!;
  await createTopic(first, 'roles', {}, [1, 2]);
  const { leader, epoch } = await partitionState(first, 'roles');
  const follower = brokers.get(2)!;
  const outsider = brokers.get(3)!;
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
    const old = await c.request(apis.Fetch, 10, fetchRequest('roles', {}, { currentLeaderEpoch: -1 }));
    assert.equal(old.responses[0]!.partitions[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    await eventually('the follower serves a consumer', async () => {
      const served = await c.request(apis.Fetch, 12, fetchRequest('roles', {}, { currentLeaderEpoch: -1 }));
      return served.responses[0]!.partitions[0]!.errorCode === ErrorCode.NONE ? true : undefined;
    });
  });
  await withRaw(outsider, async (c) => {
    const fetched = await c.request(apis.Fetch, 12, fetchRequest('roles', {}, { currentLeaderEpoch: -1 }));
    const f = fetched.responses[0]!.partitions[0]!;
    assert.equal(f.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(f.currentLeader.leaderId, leader);
  });
  const leaderBroker = brokers.get(leader)!;
  await withRaw(leaderBroker, async (c) => {
    // The leader serves once its own watch has created the log (the topic was created through broker 1).
    await eventually('the leader serves the partition', async () => {
      const current = await c.request(apis.Fetch, 12, fetchRequest('roles', {}, { currentLeaderEpoch: epoch }));
      return current.responses[0]!.partitions[0]!.errorCode === ErrorCode.NONE ? true : undefined;
    });
    const newer = await c.request(apis.Fetch, 12, fetchRequest('roles', {}, { currentLeaderEpoch: epoch + 1 }));
    assert.equal(newer.responses[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
  });
});

test('a cleanly stopped follower leaves the ISR at once (controlled shutdown) and acks=all goes on with ' +
  'min.insync.replicas=2; with two stopped NOT_ENOUGH_REPLICAS; restarted, they catch up and rejoin the ISR', {
  skip: etcdUnavailable,
}, async () => {
  await threeLive();
  const leader = brokers.get(1)!;
  await createTopic(leader, 'isr', { 'min.insync.replicas': '2' }, [1, 2, 3]);
  assert.equal(await produceTo(leader, 'isr', 'all three'), ErrorCode.NONE);

  await stop(3);
  // Out of the ISR in the store once its stop resolved: no lag time waited for.
  assert.equal(await storedIsr('isr'), '1,2');
  await eventually('broker 3 leaves the ISR', async () => {
    const { isr } = await partitionState(leader, 'isr');
    return isr.join() === '1,2' ? true : undefined;
  });
  assert.equal(await produceTo(leader, 'isr', 'two of three'), ErrorCode.NONE);
  assert.ok((await gauge(leader, 'kafka_server_replicamanager_underreplicatedpartitions')) >= 1);
  assert.ok((await gauge(leader, 'kafka_server_replicamanager_leadercount')) >= 1);

  // Broker 2 stops too: its controlled shutdown takes it out of the ISR before it goes (as Kafka's controller
  // does), so the ISR is smaller than min.insync.replicas and writes are refused before they are appended. (A
  // follower that dies instead leaves after replica.lag.time.max.ms: replication-processes.test.ts kills one.)
  await stop(2);
  assert.equal(await storedIsr('isr'), '1');
  await eventually('broker 2 leaves the ISR', async () => {
    const { isr } = await partitionState(leader, 'isr');
    return isr.join() === '1' ? true : undefined;
  });
  assert.equal(await produceTo(leader, 'isr', 'refused'), ErrorCode.NOT_ENOUGH_REPLICAS);
  // acks=1 still writes, as in Kafka.
  assert.equal(await produceTo(leader, 'isr', 'acks=1', 1), ErrorCode.NONE);

  await start(2);
  await start(3);
  await eventually('brokers 2 and 3 rejoin the ISR', async () => {
    const { isr } = await partitionState(leader, 'isr');
    return isr.join() === '1,2,3' ? true : undefined;
  });
  await replicasIdentical('isr', [1, 2, 3]);
  assert.equal(await produceTo(leader, 'isr', 'all three again'), ErrorCode.NONE);
});

test('a follower behind its leader log start (records deleted while it was down) starts its log over there', {
  skip: etcdUnavailable,
}, async () => {
  await threeLive();
  const leader = brokers.get(1)!;
  await createTopic(leader, 'behind', {}, [1, 2, 3]);
  assert.equal(await produceTo(leader, 'behind', 'first'), ErrorCode.NONE);
  await stop(3);
  for (let i = 0; i < 5; i++) assert.equal(await produceTo(leader, 'behind', `while-down-${i}`), ErrorCode.NONE);
  const deleted = await withRaw(leader, (c) =>
    c.request(apis.DeleteRecords, 2, {
      topics: [{ name: 'behind', partitions: [{ partitionIndex: 0, offset: 4n }] }],
      timeoutMs: 10_000,
    }),
  );
  assert.equal(deleted.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  await start(3);
  await eventually('broker 3 rejoins the ISR', async () => {
    const { isr } = await partitionState(leader, 'behind');
    return isr.join() === '1,2,3' ? true : undefined;
  });
  // Its fetch from offset 1 was out of range: its log starts at the leader's log start, 4, with the last two.
  const files = (await readdir(join(logDirOf(3), 'behind-0'))).filter((f) => f.endsWith('.log'));
  assert.deepEqual(files, ['00000000000000000004.log']);
  const bytes = await segmentBytes(3, 'behind');
  assert.equal(bytes.includes(Buffer.from('while-down-4')), true);
  assert.equal(bytes.includes(Buffer.from('while-down-2')), false);
});

test('leadership moved in the topic record (as the controller will): the old leader becomes a follower and truncates ' +
  'the tail it wrote alone under the old epoch; the new leader serves (epoch 0 fenced), and every replica ends identical', {
  skip: etcdUnavailable,
}, async () => {
  await threeLive();
  const old = brokers.get(1)!;
  await createTopic(old, 'moved', {}, [1, 2, 3]);
  for (let i = 0; i < 3; i++) assert.equal(await produceTo(old, 'moved', `committed-${i}`), ErrorCode.NONE);
  await replicasIdentical('moved', [1, 2, 3]);

  // The followers stop; the leader takes two records alone (acks=1): a tail no other replica has.
  await stop(2);
  await stop(3);
  assert.equal(await produceTo(old, 'moved', 'divergent-1', 1), ErrorCode.NONE);
  assert.equal(await produceTo(old, 'moved', 'divergent-2', 1), ErrorCode.NONE);

  // Broker 2 leads from epoch 1 with the ISR {2, 3}: the write the controller makes on a failover.
  await changeRecord('moved', (p) => ({ leader: 2, leaderEpoch: p.leaderEpoch + 1, isr: [2, 3] }));
  const fresh = await start(2);
  await start(3);
  await eventually('broker 2 leads', async () =>
    (await produceTo(fresh, 'moved', 'new-leader', -1, 5_000)) === ErrorCode.NONE ? true : undefined,
  );
  // Broker 1 truncated its two records and copied the new leader's; the ISR takes it back.
  await eventually('broker 1 rejoins the ISR', async () => {
    const { isr, leader } = await partitionState(fresh, 'moved');
    return leader === 2 && isr.join() === '1,2,3' ? true : undefined;
  });
  const bytes = await replicasIdentical('moved', [1, 2, 3]);
  assert.equal(bytes.includes(Buffer.from('divergent-1')), false);
  assert.equal(bytes.includes(Buffer.from('new-leader')), true);
  // A client still on epoch 0 is fenced by the new leader (epoch 1).
  const stale = await withRaw(fresh, (c) =>
    c.request(apis.Fetch, 12, fetchRequest('moved', {}, { currentLeaderEpoch: 0 })),
  );
  assert.equal(stale.responses[0]!.partitions[0]!.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  // The old leader refuses clients that do not read from followers now (Fetch v10-), and serves the others as a
  // follower (KIP-392) at the new epoch: one still on epoch 0 is fenced there too.
  const p = await withRaw(old, (c) => c.request(apis.Fetch, 10, fetchRequest('moved', {}, { currentLeaderEpoch: -1 })));
  assert.equal(p.responses[0]!.partitions[0]!.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const staleThere = await withRaw(old, (c) =>
    c.request(apis.Fetch, 12, fetchRequest('moved', {}, { currentLeaderEpoch: 0 })),
  );
  assert.equal(staleThere.responses[0]!.partitions[0]!.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
});
