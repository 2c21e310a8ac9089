import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { fastTempRoot, readPartition } from '../chaos/harness.js';
import { checkStored, startIdempotentProducer } from '../chaos/kill-loop.js';
import {
  type ClusterBroker,
  eventually,
  kafkaFor,
  partitionStates,
  RawClient,
  replicaBatches,
  startCluster,
  stopCluster,
  waitAllInSync,
} from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd, withEtcd } from './etcd.js';

const TOPIC = 'outage';
const PARTITIONS = 3;
const NODE_IDS = [1, 2, 3];
/** broker.session.timeout.ms of the brokers: etcd is paused for several of these. */
const SESSION_MS = 3000;
/** How long etcd stays paused: long past every broker's lease. */
const OUTAGE_MS = 3 * SESSION_MS;

test('etcd paused for longer than the brokers’ sessions: the leaders go on acknowledging an acks=all producer ' +
  '(RF 3, min.insync.replicas=2), CreateTopics, DeleteTopics and IncrementalAlterConfigs answer REQUEST_TIMED_OUT, and once etcd is back every ' +
  'acknowledged record is there once and in order, on every replica', { skip: etcdUnavailable }, async (t) => {
  const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-etcd-outage-'));
  let etcd: EtcdServer | null = null;
  let brokers: ClusterBroker[] = [];
  let pausedAt = 0;
  let resumedAt = 0;
  let createTopicsMs = 0;
  try {
    etcd = await startEtcd();
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: {
        'auto.create.topics.enable': 'false',
        'min.insync.replicas': 2,
        'broker.session.timeout.ms': SESSION_MS,
      },
    });
    const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 },
        // Only for the deletion and config change tried during the outage (which etcd may apply once back).
        { topic: 'spare', numPartitions: 1, replicationFactor: 3 },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
    await waitAllInSync(brokers, TOPIC, PARTITIONS);
    const leadersBefore = await partitionStates(brokers, TOPIC, PARTITIONS);

    const producer = startIdempotentProducer(brokers.map((b) => b.bootstrap).join(','), TOPIC, PARTITIONS, 5);
    try {
      for (let p = 0; p < PARTITIONS; p++) await producer.nextAck(p);

      etcd.pause();
      pausedAt = Date.now();
      try {
        // Every partition keeps being acknowledged after every lease has run out without a renewal.
        for (let p = 0; p < PARTITIONS; p++) {
          await eventually(`partition ${p} acknowledged after the sessions ran out`, async () => {
            const ack = await producer.nextAck(p);
            return ack.atMs > pausedAt + 2 * SESSION_MS ? ack : undefined;
          });
        }
        // What needs etcd answers that it timed out, within the request's timeout, rather than hang.
        const client = await RawClient.connect(brokers[0]!.port);
        try {
          const askedAt = Date.now();
          const created = await client.request(apis.CreateTopics, 7, {
            topics: [{ name: 'during-outage', numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] }],
            timeoutMs: 2000,
            validateOnly: false,
          });
          assert.equal(created.topics[0]!.errorCode, ErrorCode.REQUEST_TIMED_OUT);
          createTopicsMs = Date.now() - askedAt;
          const deleted = await client.request(apis.DeleteTopics, 5, {
            topics: [],
            topicNames: ['spare'],
            timeoutMs: 2000,
          });
          assert.equal(deleted.responses[0]!.errorCode, ErrorCode.REQUEST_TIMED_OUT);
          const altered = await client.request(apis.IncrementalAlterConfigs, 1, {
            resources: [
              {
                resourceType: 2,
                resourceName: 'spare',
                configs: [{ name: 'retention.ms', configOperation: 0, value: '60000' }],
              },
            ],
            validateOnly: false,
          });
          assert.equal(altered.responses[0]!.errorCode, ErrorCode.REQUEST_TIMED_OUT);
        } finally {
          client.close();
        }
        // The leaders did not move: every broker still leads what it led (nobody could elect anew).
        for (const b of brokers) {
          const states = await partitionStates([b, ...brokers.filter((x) => x !== b)], TOPIC, PARTITIONS);
          for (const [p, s] of states) assert.equal(s.leader, leadersBefore.get(p)!.leader, `broker ${b.nodeId}`);
        }
        while (Date.now() - pausedAt < OUTAGE_MS) await producer.nextAck();
        for (const b of brokers)
          assert.ok(
            !b.process.log.includes('lease lost'),
            `broker ${b.nodeId} counted its lease lost:\n${b.process.log}`,
          );
      } finally {
        etcd.resume();
      }
      resumedAt = Date.now();

      // etcd expires the leases it could not renew while paused (an expired lease cannot be renewed): every
      // broker finds its lease lost, fences, registers again and goes on.
      for (const b of brokers)
        await eventually(`broker ${b.nodeId} registered again`, async () =>
          b.process.log.includes('broker registered again') ? true : undefined,
        );
      await waitAllInSync(brokers, TOPIC, PARTITIONS);
      for (let p = 0; p < PARTITIONS; p++) {
        await eventually(`partition ${p} acknowledged after etcd came back`, async () => {
          const ack = await producer.nextAck(p);
          return ack.atMs > resumedAt ? ack : undefined;
        });
      }
      assert.deepEqual(await producer.stop(), [], 'deliveries that failed');
    } finally {
      producer.kill();
    }

    await waitAllInSync(brokers, TOPIC, PARTITIONS);
    const states = await partitionStates(brokers, TOPIC, PARTITIONS);
    const stored = await checkStored(PARTITIONS, producer.acks, async (partition) => {
      const leader = brokers.find((b) => b.nodeId === states.get(partition)!.leader)!;
      const client = await RawClient.connect(leader.port);
      try {
        return await readPartition(client, TOPIC, partition);
      } finally {
        client.close();
      }
    });
    assert.deepEqual(stored, { lost: [], duplicated: [], outOfOrder: [], holes: [] });
    const during = producer.acks.filter((a) => a.atMs >= pausedAt && a.atMs < resumedAt);
    const firstAfter = (p: number) => producer.acks.find((a) => a.partition === p && a.atMs > resumedAt)!.atMs;
    const longestGap = (acks: typeof producer.acks) =>
      acks.reduce((max, a, i) => (i === 0 ? 0 : Math.max(max, a.atMs - acks[i - 1]!.atMs)), 0);
    const figures = {
      outageMs: resumedAt - pausedAt,
      acked: producer.acks.length,
      ackedDuringOutage: during.length,
      longestAckGapDuringOutageMs: longestGap(during),
      createTopicsAnswerMs: createTopicsMs,
      everyPartitionAckedAfterResumeMs: Math.max(...[0, 1, 2].map(firstAfter)) - resumedAt,
      longestAckGapMs: longestGap(producer.acks),
    };
    t.diagnostic(
      `etcd-outage: ${Object.entries(figures)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    for (const b of brokers) await b.process.stop();
    for (let p = 0; p < PARTITIONS; p++) {
      const copies = await replicaBatches(dir, TOPIC, p, NODE_IDS);
      const leaderId = states.get(p)!.leader;
      for (const id of NODE_IDS)
        assert.deepEqual(copies.get(id), copies.get(leaderId), `partition ${p}: broker ${id}'s log`);
    }
  } finally {
    await stopCluster(brokers);
    await etcd?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

async function produceOne(client: RawClient, topic: string): Promise<number> {
  const records = buildRecordBatch([{ key: null, value: Buffer.from('x'), timestamp: BigInt(Date.now()) }]);
  const r = await client.request(apis.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

test(
  'etcd stopped for longer than a session and started again: acks=all writes go on meanwhile, CreateTopics is ' +
    'refused at once (REQUEST_TIMED_OUT), and no broker loses its registration (a restarted etcd renews the leases)',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      // Renewed every third of it: a stall of the brokers' process (this one) longer than two renewals, before etcd
      // stops or after it starts again, would lose a lease, which this test asserts is kept.
      const SESSION = 4000;
      const etcdSettings = { endpoints: [etcd.endpoint], prefix: '/samsa/etcd-restart', sessionTimeoutMs: SESSION };
      const groups = { offsetsTopicReplicationFactor: 1 };
      const first = await startBroker({ nodeId: 1, etcd: etcdSettings, groups });
      const second = await startBroker({ nodeId: 2, etcd: etcdSettings, groups });
      const c = await RawClient.connect(first.port);
      try {
        const created = await c.request(apis.CreateTopics, 7, {
          topics: [
            {
              name: 'kept',
              numPartitions: -1,
              replicationFactor: -1,
              assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
              configs: [{ name: 'min.insync.replicas', value: '2' }],
            },
          ],
          timeoutMs: 5000,
          validateOnly: false,
        });
        assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
        await eventually('an acks=all write with both replicas in sync', async () =>
          (await produceOne(c, 'kept')) === ErrorCode.NONE ? true : undefined,
        );

        await etcd.stop();
        const stoppedAt = Date.now();
        await eventually('both brokers finding etcd out of reach', async () =>
          first.metadataStoreUnreachable && second.metadataStoreUnreachable ? true : undefined,
        );
        // Past two sessions without a renewal, the leader still acknowledges acks=all writes.
        while (Date.now() - stoppedAt < 2 * SESSION) assert.equal(await produceOne(c, 'kept'), ErrorCode.NONE);
        const refused = await c.request(apis.CreateTopics, 7, {
          topics: [{ name: 'not-now', numPartitions: 1, replicationFactor: 2, assignments: [], configs: [] }],
          timeoutMs: 5000,
          validateOnly: false,
        });
        assert.equal(refused.topics[0]!.errorCode, ErrorCode.REQUEST_TIMED_OUT);
        assert.equal(first.registrationLost || second.registrationLost, false);

        await etcd.start();
        await eventually('both brokers renewing again', async () =>
          !first.metadataStoreUnreachable && !second.metadataStoreUnreachable ? true : undefined,
        );
        assert.equal(first.registrationLost || second.registrationLost, false, 'the leases survived the restart');
        assert.equal(await produceOne(c, 'kept'), ErrorCode.NONE);
      } finally {
        c.close();
        await second.stop();
        await first.stop();
      }
    }),
);
