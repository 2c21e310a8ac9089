import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { type PartitionAssignment, TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { samsa } from '../integration/cli.js';
import { type ClusterBroker, eventually, kafkaFor, RawClient, startCluster, stopCluster } from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, withEtcd } from './etcd.js';

/** The cluster's topic records as the store holds them, followed by a watch (the test's own view). */
async function recordsView(etcd: EtcdServer, prefix: string) {
  const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix });
  const topics = await TopicMetadata.load(store);
  return {
    topics,
    partition: (topic: string, partition: number): PartitionAssignment | undefined =>
      topics.get(topic)?.partitions[partition],
    close: async () => {
      topics.close();
      await store.close();
    },
  };
}

async function metadata(port: number, topic: string) {
  const c = await RawClient.connect(port);
  try {
    return await c.request(apis.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
  } finally {
    c.close();
  }
}

test(
  'kill -9 of the leader of RF=3 partitions: the controller names a new leader from the ISR at a higher epoch, ' +
    'drops the dead broker from every ISR, and Metadata through a survivor says so; a producer writes to the new leader; restarted and back in the ISR, ' +
    'samsa leader-election gives it back its partitions; the controller killed too, the next one moves its partitions',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const dir = await mkdtemp(join(tmpdir(), 'samsa-failover-'));
      let brokers: ClusterBroker[] = [];
      const view = await recordsView(etcd, '/samsa/cluster-test');
      try {
        brokers = await startCluster(etcd, dir, [1, 2, 3]);
        const kafka = kafkaFor([brokers[0]!.bootstrap]);
        const admin = kafka.admin();
        await admin.connect();
        await eventually('three brokers', async () =>
          (await admin.describeCluster()).brokers.length === 3 ? true : undefined,
        );
        await admin.createTopics({
          topics: [{ topic: 'failover', numPartitions: 3, replicationFactor: 3 }],
          waitForLeaders: true,
        });
        await admin.disconnect();
        const before = await eventually('the topic record', async () =>
          view.topics.get('failover') ? structuredClone(view.topics.get('failover')!.partitions) : undefined,
        );
        for (const p of before) assert.deepEqual([...p.isr].sort(), [1, 2, 3], 'every replica in sync at creation');
        // The victim is not the first broker, the controller, so that the failover is the running controller's.
        const victimId = before.find((p) => p.leader !== 1)?.leader ?? 2;
        const victim = brokers.find((b) => b.nodeId === victimId)!;
        const led = before.filter((p) => p.leader === victimId);
        assert.ok(led.length > 0);
        await victim.process.kill();

        const after = await eventually('the victim out of every ISR', async () => {
          const ps = view.topics.get('failover')!.partitions;
          return ps.every((p) => !p.isr.includes(victimId)) ? structuredClone(ps) : undefined;
        });
        for (const old of before) {
          const now = after[old.partition]!;
          assert.deepEqual(now.replicas, old.replicas, 'the assignment stays');
          assert.deepEqual([...now.isr].sort(), old.isr.filter((r) => r !== victimId).sort());
          if (old.leader === victimId) {
            const expected = old.replicas.find((r) => r !== victimId && old.isr.includes(r));
            assert.equal(now.leader, expected, 'the first live ISR member in assignment order');
            assert.equal(now.leaderEpoch, old.leaderEpoch + 1);
          } else {
            assert.equal(now.leader, old.leader, 'a partition led elsewhere keeps its leader');
            assert.equal(now.leaderEpoch, old.leaderEpoch);
          }
        }
        const survivor = brokers.find((b) => b.nodeId !== victimId)!;
        await eventually('Metadata through a survivor names the new leaders', async () => {
          const md = await metadata(survivor.port, 'failover');
          const ok = md.topics[0]!.partitions.every((p) => {
            const now = after[p.partitionIndex]!;
            return (
              p.errorCode === ErrorCode.NONE &&
              p.leaderId === now.leader &&
              p.leaderEpoch === now.leaderEpoch &&
              !p.isrNodes.includes(victimId)
            );
          });
          return ok ? true : undefined;
        });

        const producer = kafkaFor([survivor.bootstrap]).producer();
        await producer.connect();
        const sent = await producer.send({
          topic: 'failover',
          messages: [{ partition: led[0]!.partition, value: 'after the failover' }],
        });
        assert.equal(sent[0]!.errorCode, 0);
        await producer.disconnect();

        // The victim restarted, then caught up: its partitions' leaders add it to their ISRs (written here as
        // they would write it, followers' fetching being the data path's). A preferred election with the tool
        // gives it back the partitions it led.
        await victim.restart();
        await eventually('the victim back in every ISR', async () => {
          const outcome = await view.topics.modify('failover', (t) =>
            t.partitions.every((p) => p.isr.includes(victimId))
              ? null
              : { ...t, partitions: t.partitions.map((p) => ({ ...p, isr: [...new Set([...p.isr, victimId])] })) },
          );
          return outcome === 'updated' || outcome === 'skipped' ? true : undefined;
        });
        await eventually('the preferred leaders back', async () => {
          const run = await samsa([
            'leader-election',
            '--bootstrap-server',
            survivor.bootstrap,
            '--election-type',
            'PREFERRED',
            '--all-topic-partitions',
          ]);
          assert.equal(run.code, 0, run.stderr);
          const ps = view.topics.get('failover')!.partitions;
          return ps.every((p) => p.leader === p.replicas[0]) ? true : undefined;
        });
        for (const old of led) {
          const now = view.partition('failover', old.partition)!;
          assert.equal(now.leader, victimId);
          assert.equal(now.leaderEpoch, old.leaderEpoch + 2, 'moved away, then back');
        }

        // The controller itself (broker 1) killed -9: the broker taking over its place elects new leaders for the
        // partitions it led, in the full pass a new controller makes first.
        const controllerLed = view.topics
          .get('failover')!
          .partitions.filter((p) => p.leader === 1)
          .map((p) => p.partition);
        assert.ok(controllerLed.length > 0);
        await brokers.find((b) => b.nodeId === 1)!.process.kill();
        await eventually("new leaders for the dead controller's partitions", async () =>
          view.topics.get('failover')!.partitions.every((p) => p.leader !== 1 && p.leader !== -1 && !p.isr.includes(1))
            ? true
            : undefined,
        );
      } finally {
        await view.close();
        await stopCluster(brokers);
        await rm(dir, { recursive: true, force: true });
      }
    }),
);

test(
  'a clean stop moves leadership to the next ISR member first (controlled shutdown); with every ISR member gone the ' +
    'partition is offline (LEADER_NOT_AVAILABLE), a replica outside the ISR leads it only under ' +
    'unclean.leader.election.enable, and it comes back when its ISR member returns',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const prefix = '/samsa/offline';
      const dirs = await mkdtemp(join(tmpdir(), 'samsa-offline-'));
      const started = new Map<number, Broker>();
      const start = async (nodeId: number) => {
        started.set(
          nodeId,
          await startBroker({
            nodeId,
            logDirs: [join(dirs, `broker-${nodeId}`)],
            etcd: { endpoints: [etcd.endpoint], prefix },
          }),
        );
      };
      const stop = async (nodeId: number) => {
        await started.get(nodeId)!.stop();
        started.delete(nodeId);
      };
      const view = await recordsView(etcd, prefix);
      try {
        // Broker 1 starts first: it is the controller throughout.
        for (const id of [1, 2, 3]) await start(id);
        const admin = kafkaFor([started.get(1)!.bootstrap]).admin();
        await admin.connect();
        await admin.createTopics({
          topics: [
            { topic: 'offline-clean', replicaAssignment: [{ partition: 0, replicas: [2, 3] }] },
            {
              topic: 'offline-unclean',
              replicaAssignment: [{ partition: 0, replicas: [2, 3] }],
              configEntries: [{ name: 'unclean.leader.election.enable', value: 'true' }],
            },
          ],
        });
        await admin.disconnect();
        const state = (topic: string) => {
          const p = view.partition(topic, 0);
          return p && { leader: p.leader, leaderEpoch: p.leaderEpoch, isr: p.isr };
        };
        // The state last seen is the error eventually reports when the expected one is not reached.
        const reach = (
          topic: string,
          expected: { leader: number; leaderEpoch: number; isr: number[] },
          matches = (now: ReturnType<typeof state>) => JSON.stringify(now) === JSON.stringify(expected),
        ) =>
          eventually(`${topic}: ${JSON.stringify(expected)}`, async () => {
            const now = state(topic);
            if (!matches(now)) throw new Error(`at ${JSON.stringify(now)}`);
            return true;
          });
        for (const topic of ['offline-clean', 'offline-unclean'])
          await reach(topic, { leader: 2, leaderEpoch: 0, isr: [2, 3] });

        // Broker 2 stops cleanly: it hands its partitions to broker 3 before it goes.
        await stop(2);
        for (const topic of ['offline-clean', 'offline-unclean'])
          await reach(topic, { leader: 3, leaderEpoch: 1, isr: [3] });

        // Broker 3, the last ISR member, stops: nobody in sync is left, the partitions go offline, the ISR keeps it.
        await stop(3);
        for (const topic of ['offline-clean', 'offline-unclean'])
          await reach(topic, { leader: -1, leaderEpoch: 2, isr: [3] });
        const md = await metadata(started.get(1)!.port, 'offline-clean');
        assert.equal(md.topics[0]!.partitions[0]!.errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
        assert.equal(md.topics[0]!.partitions[0]!.leaderId, -1);

        // Broker 2 comes back, out of the ISR: only the topic allowing unclean election takes it as leader. The
        // controller's pass looks at the topics in creation order, so the clean one was decided first.
        await start(2);
        await reach('offline-unclean', { leader: 2, leaderEpoch: 3, isr: [2] });
        assert.deepEqual(state('offline-clean'), { leader: -1, leaderEpoch: 2, isr: [3] }, 'no unclean election');

        // The last ISR member returns and leads again. Broker 2, its follower, may be back in the ISR by the time
        // the record is read (it has nothing to catch up on), so the ISR is only required to hold broker 3.
        await start(3);
        await reach(
          'offline-clean',
          { leader: 3, leaderEpoch: 3, isr: [3] },
          (now) => now?.leader === 3 && now.leaderEpoch === 3 && now.isr.includes(3),
        );
        const back = await metadata(started.get(1)!.port, 'offline-clean');
        await eventually('Metadata names broker 3', async () => {
          const p = (await metadata(started.get(1)!.port, 'offline-clean')).topics[0]!.partitions[0]!;
          return p.errorCode === ErrorCode.NONE && p.leaderId === 3 ? true : undefined;
        });
        assert.ok(back);
      } finally {
        await view.close();
        for (const id of [...started.keys()]) await stop(id);
        await rm(dirs, { recursive: true, force: true });
      }
    }),
);
