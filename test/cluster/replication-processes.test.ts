import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { consumeWithKcat } from '../integration/clients.js';
import { type ClusterBroker, eventually, kafkaFor, startCluster, stopCluster } from './cluster-helpers.js';
import { etcdUnavailable, startEtcd } from './etcd.js';

/** The bytes of a partition's segment files in one broker's log dir, in offset order. */
async function segmentBytes(dir: string, nodeId: number, topic: string): Promise<Buffer> {
  const partitionDir = join(dir, `broker-${nodeId}`, `${topic}-0`);
  const files = (await readdir(partitionDir)).filter((f) => f.endsWith('.log')).sort();
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(partitionDir, f)))));
}

test('samsa server processes with default.replication.factor=3 and min.insync.replicas=2 from server.properties: a ' +
  'follower killed with -9 leaves the ISR while acks=all writes go on, and once restarted catches up and rejoins', {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-replication-processes-'));
  let brokers: ClusterBroker[] = [];
  try {
    brokers = await startCluster(etcd, dir, [1, 2, 3], {
      extra: {
        'default.replication.factor': 3,
        'min.insync.replicas': 2,
        'replica.lag.time.max.ms': 3000,
        'replica.fetch.backoff.ms': 100,
      },
    });
    const kafka = kafkaFor(brokers.map((b) => b.bootstrap));
    const admin = kafka.admin();
    await admin.connect();
    const isrOf = async () => {
      const md = await admin.fetchTopicMetadata({ topics: ['orders'] });
      const p = md.topics[0]!.partitions[0]!;
      return { leader: p.leader, replicas: p.replicas, isr: [...p.isr].sort().join() };
    };
    try {
      await eventually('three brokers', async () =>
        (await admin.describeCluster()).brokers.length === 3 ? true : undefined,
      );
      await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] });
      const created = await isrOf();
      assert.equal(created.replicas.length, 3);
      // Idempotent: on a loaded machine the other follower may drop out too while a write waits, which the producer
      // retries (NOT_ENOUGH_REPLICAS_AFTER_APPEND, or a request timeout); its retries must not store a record twice.
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      try {
        for (let i = 0; i < 30; i++) {
          await producer.send({ topic: 'orders', acks: -1, messages: [{ value: `before-${i}` }] });
        }
        const follower = brokers.find((b) => b.nodeId !== created.leader)!;
        await follower.process.kill();
        // Writes wait for the killed follower until it leaves the ISR, then go on with two replicas.
        for (let i = 0; i < 30; i++) {
          await producer.send({ topic: 'orders', acks: -1, messages: [{ value: `during-${i}` }] });
        }
        // (Polled: on a loaded machine the other follower may drop out and come back meanwhile.)
        await eventually('the killed follower is out of the ISR, the other in it', async () => {
          const { isr } = await isrOf();
          return isr.split(',').length === 2 && !isr.includes(String(follower.nodeId)) ? true : undefined;
        });

        // Restarted (once its old registration expired), it copies what it missed and is taken back.
        await follower.restart();
        await eventually('the follower rejoins the ISR', async () =>
          (await isrOf()).isr === '1,2,3' ? true : undefined,
        );
        const leaderBytes = await segmentBytes(dir, created.leader, 'orders');
        await eventually('the follower holds the leader batches', async () =>
          (await segmentBytes(dir, follower.nodeId, 'orders')).equals(leaderBytes) ? true : undefined,
        );
      } finally {
        await producer.disconnect();
      }
      const leader = brokers.find((b) => b.nodeId === created.leader)!;
      const read = await consumeWithKcat(leader.bootstrap, 'orders', 0, 'read_uncommitted');
      assert.deepEqual(
        read.map((r) => r.value),
        [
          ...Array.from({ length: 30 }, (_, i) => `before-${i}`),
          ...Array.from({ length: 30 }, (_, i) => `during-${i}`),
        ],
      );
    } finally {
      await admin.disconnect();
    }
  } finally {
    await stopCluster(brokers);
    await rm(dir, { recursive: true, force: true });
    await etcd.destroy();
  }
});
