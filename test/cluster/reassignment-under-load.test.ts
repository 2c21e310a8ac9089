import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fastTempRoot, readPartition } from '../chaos/harness.js';
import { checkStored, startIdempotentProducer } from '../chaos/kill-loop.js';
import { samsa } from '../integration/cli.js';
import {
  type ClusterBroker,
  eventually,
  kafkaFor,
  partitionStates,
  RawClient,
  replicaBatches,
  startCluster,
  stopCluster,
} from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

const TOPIC = 'moving-under-load';
/** Records the producer keeps unacknowledged at most. */
const MAX_IN_FLIGHT = 100;
/** Acknowledged writes awaited on each side of the move, so that the producer writes throughout it. */
const ACKS_AROUND_THE_MOVE = 50;

test(
  'reassignment under load (KIP-455): a partition moved from brokers {1,2,3} to {2,3,4} with samsa ' +
    'reassign-partitions while an idempotent acks=all producer (librdkafka) writes: verify reports it completed, ' +
    'every acknowledged record is stored once and in order, the new replicas hold identical batches, and broker 1 ' +
    'neither appears in the partition metadata nor keeps its log',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-reassign-load-'));
      let brokers: ClusterBroker[] = [];
      try {
        brokers = await startCluster(etcd, dir, [1, 2, 3, 4], {
          extra: { 'auto.create.topics.enable': 'false', 'min.insync.replicas': 2 },
        });
        const byId = (nodeId: number) => brokers.find((b) => b.nodeId === nodeId)!;
        const bootstrap = brokers.map((b) => b.bootstrap);
        const admin = kafkaFor(bootstrap).admin();
        await admin.connect();
        try {
          await admin.createTopics({
            topics: [{ topic: TOPIC, replicaAssignment: [{ partition: 0, replicas: [1, 2, 3] }] }],
            waitForLeaders: true,
          });
        } finally {
          await admin.disconnect();
        }
        await eventually('{1,2,3} in sync', async () => {
          const s = (await partitionStates(brokers, TOPIC, 1)).get(0)!;
          return s.isr.length === 3 ? true : undefined;
        });

        const producer = startIdempotentProducer(bootstrap.join(','), TOPIC, 1, MAX_IN_FLIGHT);
        let producerErrors: string[];
        try {
          const acked = async (n: number) => {
            for (let i = 0; i < n; i++) await producer.nextAck();
          };
          await acked(ACKS_AROUND_THE_MOVE);
          const plan = join(dir, 'plan.json');
          await writeFile(
            plan,
            JSON.stringify({ version: 1, partitions: [{ topic: TOPIC, partition: 0, replicas: [2, 3, 4] }] }),
          );
          const tool = (action: string) =>
            samsa([
              'reassign-partitions',
              '--bootstrap-server',
              bootstrap[1]!,
              action,
              '--reassignment-json-file',
              plan,
            ]);
          const executed = await tool('--execute');
          assert.equal(executed.code, 0, executed.stderr);
          assert.match(executed.stdout, new RegExp(`Successfully started partition reassignment for ${TOPIC}-0`));
          await eventually('verify reports the move completed', async () => {
            const verified = await tool('--verify');
            return verified.stdout.includes(`Reassignment of partition ${TOPIC}-0 is completed.`) ? true : undefined;
          });
          // Writes go on, now on the new replicas.
          await acked(ACKS_AROUND_THE_MOVE);
          producerErrors = await producer.stop();
        } finally {
          producer.kill();
        }
        assert.ok(producer.acks.length >= 2 * ACKS_AROUND_THE_MOVE);
        assert.deepEqual(producerErrors, [], "the producer's errors");

        // Broker 1's answer names only the new replicas, all in sync.
        const md = await kafkaFor([byId(1).bootstrap])
          .admin()
          .fetchTopicMetadata({ topics: [TOPIC] });
        const p0 = md.topics[0]!.partitions[0]!;
        assert.deepEqual([...p0.replicas].sort(), [2, 3, 4]);
        assert.deepEqual([...p0.isr].sort(), [2, 3, 4]);
        assert.ok([2, 3, 4].includes(p0.leader), `leader ${p0.leader}`);

        const leader = byId(p0.leader);
        const stored = await checkStored(1, producer.acks, async (partition) => {
          const client = await RawClient.connect(leader.port);
          try {
            return await readPartition(client, TOPIC, partition);
          } finally {
            client.close();
          }
        });
        assert.deepEqual(stored, { lost: [], duplicated: [], outOfOrder: [], holes: [] });

        // Broker 1 removed its replica's log (a -delete directory is deleted as far as the broker is concerned:
        // Kafka removes the files file.delete.delay.ms later).
        await eventually('broker 1 deleted its log', async () => {
          const logs = (await readdir(join(dir, 'broker-1'))).filter(
            (d) => d.startsWith(`${TOPIC}-`) && !d.endsWith('-delete'),
          );
          return logs.length === 0 ? true : undefined;
        });

        // Stopped cleanly so that every replica's files are complete, then compared batch by batch.
        for (const b of brokers) await b.process.stop();
        const copies = await replicaBatches(dir, TOPIC, 0, [2, 3, 4]);
        const reference = copies.get(p0.leader)!;
        assert.ok(reference.length > 0);
        for (const [nodeId, batches] of copies) assert.deepEqual(batches, reference, `broker ${nodeId}'s batches`);
      } finally {
        await stopCluster(brokers);
        await rm(dir, { recursive: true, force: true });
      }
    }),
);
