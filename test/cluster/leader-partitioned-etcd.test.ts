import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
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
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';
import { netnsUnavailable, partitionTestsOnDemand, TestNetwork } from './netns.js';

const TOPIC = 'etcd-cut';
const NODE_IDS = [1, 2, 3];

/** Run on demand, as leader-partitioned.test.ts (network namespaces, root). */
const onDemand = partitionTestsOnDemand;

async function produceTo(
  broker: ClusterBroker,
  value: string,
  acks: number,
): Promise<{ errorCode: number; offset: bigint }> {
  const client = await RawClient.connect(broker.port, { host: broker.host });
  try {
    const records = buildRecordBatch([{ key: null, value: Buffer.from(value), timestamp: BigInt(Date.now()) }]);
    const r = await client.request(apis.Produce, 9, {
      transactionalId: null,
      acks,
      timeoutMs: 3000,
      topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }],
    });
    const p = r.responses[0]!.partitionResponses[0]!;
    return { errorCode: p.errorCode, offset: p.baseOffset };
  } finally {
    client.close();
  }
}

test('a leader cut off from etcd alone (its followers and clients still reach it) keeps serving, but once another ' +
  'replica is elected it acknowledges no acks=all write (its followers fetch from the new leader, its ISR ' +
  'cannot shrink); an acks=1 write it took is lost; healed, it finds its lease expired, fences and follows', {
  skip: etcdUnavailable || netnsUnavailable || onDemand,
}, async () => {
  const network = await TestNetwork.create(['etcd', ...NODE_IDS.map((id) => `b${id}`)]);
  const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-etcd-cut-'));
  let etcd: EtcdServer | null = null;
  let brokers: ClusterBroker[] = [];
  try {
    etcd = await startEtcd({ host: network.address('etcd'), wrapper: network.exec('etcd') });
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      placement: (id) => ({ host: network.address(`b${id}`), wrapper: network.exec(`b${id}`) }),
      extra: {
        'auto.create.topics.enable': 'false',
        'min.insync.replicas': 2,
        'broker.session.timeout.ms': 4000,
      },
    });
    const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    await waitAllInSync(brokers, TOPIC, 1);

    const producer = startIdempotentProducer(brokers.map((b) => b.bootstrap).join(','), TOPIC, 1, 20);
    let lostValue = '';
    try {
      await producer.nextAck();
      const oldLeaderId = (await partitionStates(brokers, TOPIC, 1)).get(0)!.leader;
      const oldLeader = brokers.find((b) => b.nodeId === oldLeaderId)!;
      const others = brokers.filter((b) => b !== oldLeader);
      await network.cut(`b${oldLeaderId}`, ['etcd']);

      // Its lease expires in etcd: the others elect one of themselves, and both know it.
      const newLeaderId = await eventually('a new leader known to both other brokers', async () => {
        const seen = await Promise.all(
          others.map(async (b) => (await partitionStates([b, ...brokers.filter((x) => x !== b)], TOPIC, 1)).get(0)!),
        );
        const leader = seen[0]!.leader;
        return leader !== oldLeaderId && seen.every((s) => s.leader === leader) ? leader : undefined;
      });
      // The cut-off broker still believes it leads (it cannot hear otherwise) and is not fenced...
      assert.ok(!oldLeader.process.log.includes('lease lost'), 'not fenced while etcd cannot tell it');
      // ...but an acks=all write to it is never acknowledged: no follower fetches from it any more.
      const refused = await produceTo(oldLeader, 'to-the-old-leader-acks-all', -1);
      assert.equal(refused.errorCode, ErrorCode.REQUEST_TIMED_OUT, 'acks=all to a leader no one follows');
      // An acks=1 write it takes is acknowledged, and will be lost (as in Kafka).
      lostValue = `to-the-old-leader-acks-1-${Date.now()}`;
      const acks1 = await produceTo(oldLeader, lostValue, 1);
      assert.equal(acks1.errorCode, ErrorCode.NONE, 'an acks=1 write to the cut-off leader is acknowledged');

      const electedAt = Date.now();
      await eventually('a write acknowledged after the election', async () => {
        const next = await producer.nextAck(0);
        return next.atMs > electedAt ? next : undefined;
      });

      await network.heal(`b${oldLeaderId}`);
      // Back in touch with etcd, it learns its lease expired, fences itself, registers again and follows.
      await eventually('the old leader fenced on reaching etcd, then registered again', async () =>
        oldLeader.process.log.includes('lease lost') && oldLeader.process.log.includes('broker registered again')
          ? true
          : undefined,
      );
      // The states are asked of the others first: they never had a stale view.
      brokers = [...others, oldLeader];
      await waitAllInSync(brokers, TOPIC, 1);
      assert.ok(newLeaderId !== oldLeaderId);
      await producer.nextAck();
      assert.deepEqual(await producer.stop(), [], 'deliveries that failed');
    } finally {
      producer.kill();
    }

    const leaderId = (await partitionStates(brokers, TOPIC, 1)).get(0)!.leader;
    const leader = brokers.find((b) => b.nodeId === leaderId)!;
    const client = await RawClient.connect(leader.port, { host: leader.host });
    let read: Awaited<ReturnType<typeof readPartition>>;
    try {
      read = await readPartition(client, TOPIC, 0);
    } finally {
      client.close();
    }
    const stored = await checkStored(1, producer.acks, async () => read);
    assert.deepEqual(stored, { lost: [], duplicated: [], outOfOrder: [], holes: [] });
    const values = new Set(read.records.map((r) => r.value));
    assert.ok(!values.has('to-the-old-leader-acks-all'), 'the refused acks=all write is not in the log');
    assert.ok(!values.has(lostValue), 'the acks=1 write to the cut-off leader is lost');
    for (const b of brokers) await b.process.stop();
    const copies = await replicaBatches(dir, TOPIC, 0, NODE_IDS);
    for (const id of NODE_IDS) assert.deepEqual(copies.get(id), copies.get(leaderId), `broker ${id}'s log`);
  } finally {
    await stopCluster(brokers);
    await etcd?.destroy();
    await network.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
