import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
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

const TOPIC = 'partitioned';
const NODE_IDS = [1, 2, 3];

/**
 * Run on demand (SAMSA_PARTITION_TESTS=1 npm test -- test/cluster/leader-partitioned): on a loaded machine it
 * sometimes hangs after the healing, or ends with leadership moved again, and the cause is not found yet (the
 * leading guess: the new leader's own 4 s session expiring under load). It passes when run alone.
 */
const onDemand = partitionTestsOnDemand;

test('a leader cut off from etcd and from its followers acknowledges nothing more; another replica leads; once ' +
  "healed the old leader follows, its log the new leader's, and no acknowledged record is lost", {
  skip: etcdUnavailable || netnsUnavailable || onDemand,
}, async () => {
  // etcd and each broker in a network namespace of its own; the clients (this process) reach all of them.
  const network = await TestNetwork.create(['etcd', ...NODE_IDS.map((id) => `b${id}`)]);
  const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-partitioned-'));
  let etcd: EtcdServer | null = null;
  let brokers: ClusterBroker[] = [];
  const producerBootstrap = () => brokers.map((b) => b.bootstrap).join(',');
  try {
    etcd = await startEtcd({ host: network.address('etcd'), wrapper: network.exec('etcd') });
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      placement: (id) => ({ host: network.address(`b${id}`), wrapper: network.exec(`b${id}`) }),
      extra: {
        'auto.create.topics.enable': 'false',
        'min.insync.replicas': 2,
        // A dead broker's partitions move this long after its last lease renewal (Kafka's default: 9 s).
        'broker.session.timeout.ms': 4000,
        'replica.lag.time.max.ms': 3000,
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

    const producer = startIdempotentProducer(producerBootstrap(), TOPIC, 1, 100);
    try {
      await producer.nextAck();
      const oldLeaderId = (await partitionStates(brokers, TOPIC, 1)).get(0)!.leader;
      const others = brokers.filter((b) => b.nodeId !== oldLeaderId);
      await network.cut(`b${oldLeaderId}`, ['etcd', ...others.map((b) => `b${b.nodeId}`)]);

      // The others elect one of themselves (the old leader's registration expires); writes go on there.
      const newLeaderId = await eventually('a new leader among the connected brokers', async () => {
        const leader = (await partitionStates(others, TOPIC, 1)).get(0)!.leader;
        return leader !== oldLeaderId ? leader : undefined;
      });
      const electedAt = Date.now();
      const ack = await eventually('a write acknowledged after the election', async () => {
        const next = await producer.nextAck(0);
        return next.atMs > electedAt ? next : undefined;
      });
      assert.ok(ack);

      await network.heal(`b${oldLeaderId}`);
      // Cut off, the old leader served on from its last view (etcd out of reach is not a lost lease); back in
      // touch, it finds its lease expired, fences itself and registers again. Until then its own answers are that
      // stale view, so the states are asked of the others first.
      const oldLeader = brokers.find((b) => b.nodeId === oldLeaderId)!;
      await eventually('the old leader registered again', async () =>
        oldLeader.process.log.includes('broker registered again') ? true : undefined,
      );
      brokers = [...others, oldLeader];
      // The old leader comes back as a follower of the new one and catches up.
      await waitAllInSync(brokers, TOPIC, 1);
      // Leadership may move on after the healing (the elections that follow are the controller's to make); what
      // must hold is checked below: nothing acknowledged lost, and every replica holding the leader's log.
      assert.ok(newLeaderId !== oldLeaderId);
      await producer.nextAck();
      assert.deepEqual(await producer.stop(), [], 'deliveries that failed');
    } finally {
      producer.kill();
    }

    const leaderId = (await partitionStates(brokers, TOPIC, 1)).get(0)!.leader;
    const leader = brokers.find((b) => b.nodeId === leaderId)!;
    const stored = await checkStored(1, producer.acks, async (partition) => {
      const client = await RawClient.connect(leader.port, { host: leader.host });
      try {
        return await readPartition(client, TOPIC, partition);
      } finally {
        client.close();
      }
    });
    assert.deepEqual(stored, { lost: [], duplicated: [], outOfOrder: [], holes: [] });
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
