import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { RACK_AWARE_REPLICA_SELECTOR } from '../../src/cluster/replica-selector.js';
import { TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { eventually, kafkaFor, RawClient } from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

const PREFIX = '/samsa/fetch-from-follower';
const TOPIC = 'nearby';
const RECORDS = 200;

function fetchRequest(fetchOffset: bigint, rackId: string, maxWaitMs = 0) {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: TOPIC,
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId,
  };
}

async function fetchFrom(broker: Broker, version: number, fetchOffset: bigint, rackId: string, maxWaitMs = 0) {
  const c = await RawClient.connect(broker.port);
  try {
    const r = await c.request(apis.Fetch, version, fetchRequest(fetchOffset, rackId, maxWaitMs));
    return r.responses[0]!.partitions[0]!;
  } finally {
    c.close();
  }
}

test(
  'KIP-392: with the rack-aware replica selector the leader sends a consumer in another rack to the in-sync ' +
    'follower there; the follower serves it up to the high watermark; a consumer group with client.rack reads ' +
    'every record from that follower and none from the third broker',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const dirs = await mkdtemp(join(tmpdir(), 'samsa-follower-fetch-'));
      const brokers = new Map<number, Broker>();
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
      const topics = await TopicMetadata.load(store);
      try {
        for (const nodeId of [1, 2, 3]) {
          brokers.set(
            nodeId,
            await startBroker({
              nodeId,
              rack: `r${nodeId}`,
              logDirs: [join(dirs, `broker-${nodeId}`)],
              etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
              replication: { replicaSelector: RACK_AWARE_REPLICA_SELECTOR, replicaFetchBackoffMs: 100 },
              // The group's offsets on one broker: the test counts only the data topic's reads.
              groups: { offsetsTopicReplicationFactor: 1 },
              // Its metrics (bytes out) are kept only with the HTTP listener on.
              httpListener: { host: '127.0.0.1', port: 0 },
            }),
          );
        }
        const [one, two] = [brokers.get(1)!, brokers.get(2)!];
        const kafka = kafkaFor([one.bootstrap]);
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({
          topics: [{ topic: TOPIC, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }] }],
        });
        await admin.disconnect();
        await eventually('the topic led by broker 1', async () =>
          topics.get(TOPIC)?.partitions[0]?.leader === 1 ? true : undefined,
        );
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({
          topic: TOPIC,
          acks: -1,
          messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
        });
        await producer.disconnect();

        // Both followers in the ISR and their fetches past the records: the leader's view of them is current.
        await eventually('the leader sends a consumer in rack r2 to broker 2', async () => {
          const p = await fetchFrom(one, 11, 0n, 'r2');
          return p.preferredReadReplica === 2 ? p : undefined;
        }).then((p) => {
          // Named, and nothing read: the consumer reads from broker 2 next.
          assert.equal(p.errorCode, ErrorCode.NONE);
          assert.equal(p.records?.length ?? 0, 0);
          assert.equal(p.highWatermark, BigInt(RECORDS));
        });
        // Its answer comes at once even though it holds no records (a long poll would wait out max_wait_ms).
        const pointed = await fetchFrom(one, 11, 0n, 'r2', 60_000);
        assert.equal(pointed.preferredReadReplica, 2);
        // A consumer in the leader's rack, in no rack, or in a rack without replicas reads from the leader.
        for (const rack of ['r1', '', 'elsewhere']) {
          const p = await fetchFrom(one, 11, 0n, rack);
          assert.equal(p.preferredReadReplica, -1, `rack '${rack}'`);
          assert.ok((p.records?.length ?? 0) > 0, `rack '${rack}' reads from the leader`);
        }
        // Fetch v10 carries no rack: a follower refuses it as before KIP-392.
        assert.equal((await fetchFrom(two, 10, 0n, '')).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
        // The follower serves v11 up to the high watermark it learned from the leader (in the answer to its next
        // fetch); past its log, Kafka's error.
        const served = await eventually('broker 2 learns the high watermark', async () => {
          const p = await fetchFrom(two, 11, 0n, 'r2');
          return p.highWatermark === BigInt(RECORDS) ? p : undefined;
        });
        assert.equal(served.errorCode, ErrorCode.NONE);
        assert.ok((served.records?.length ?? 0) > 0);
        assert.equal((await fetchFrom(two, 11, BigInt(RECORDS + 10), 'r2')).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);

        const outBefore = new Map([...brokers].map(([id, b]) => [id, b.metrics.throughputTotals().bytesOut]));
        const consumer = kafkaFor([one.bootstrap], 'rack-r2').consumer({
          groupId: 'near',
          rackId: 'r2',
          maxWaitTimeInMs: 500,
        });
        const seen: string[] = [];
        await consumer.connect();
        await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
          },
        });
        await eventually('the consumer read every record', async () => (seen.length >= RECORDS ? true : undefined));
        await consumer.disconnect();
        assert.deepEqual(
          seen,
          Array.from({ length: RECORDS }, (_, i) => `v${i}`),
        );
        const out = (id: number) => brokers.get(id)!.metrics.throughputTotals().bytesOut - outBefore.get(id)!;
        assert.ok(out(2) > 0, 'the consumer read from broker 2, its rack');
        assert.equal(out(3), 0, 'nothing was read from broker 3');
      } finally {
        topics.close();
        await store.close();
        for (const b of brokers.values()) await b.stop();
        await rm(dirs, { recursive: true, force: true });
      }
    }),
);
