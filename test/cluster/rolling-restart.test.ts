import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fastTempRoot } from '../chaos/harness.js';
import { startIdempotentProducer } from '../chaos/kill-loop.js';
import { eventually, kafkaFor, startCluster, stopCluster, waitAllInSync } from './cluster-helpers.js';
import { etcdUnavailable, startEtcd } from './etcd.js';

const TOPIC = 'rolling';
const PARTITIONS = 4;
const GROUP = 'rolling-group';
/** Consumers in the group: two, so that each restart of the coordinator's broker also rebalances them. */
const MEMBERS = 2;

test('rolling restart of three brokers under an idempotent acks=all producer and a consumer group: ' +
  'no delivery fails, and the group reads every acknowledged record', { skip: etcdUnavailable }, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-rolling-'));
  const brokers = await startCluster(etcd, dir, [1, 2, 3], {
    extra: {
      'auto.create.topics.enable': 'false',
      'min.insync.replicas': 2,
      // A dead broker's partitions move this long after its last lease renewal (Kafka's default: 9 s).
      'broker.session.timeout.ms': 4000,
      // replica.lag.time.max.ms stays Kafka's 30 s: a killed or stopped broker leaves the ISRs with its registration
      // (the controller's doing), and a shorter lag let followers that stalled with a loaded machine drop out too,
      // leaving acks=all writes and markers below min.insync.replicas.
      'offsets.topic.replication.factor': 3,
      'transaction.state.log.replication.factor': 3,
    },
  });
  const live = () => brokers.filter((b) => b.process.running);
  const kafka = kafkaFor(brokers.map((b) => b.bootstrap));
  const consumers = Array.from({ length: MEMBERS }, () =>
    kafka.consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500, retry: { retries: 50 } }),
  );
  const seen = new Set<string>();
  const crashes: string[] = [];
  const producer = startIdempotentProducer(brokers.map((b) => b.bootstrap).join(','), TOPIC, PARTITIONS, 100);
  try {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    for (const consumer of consumers) {
      consumer.on(consumer.events.CRASH, (e) => {
        // KafkaJS restarts the consumer after a retriable error; a crash it does not restart from is a failure.
        if (!e.payload.restart) crashes.push(String(e.payload.error));
      });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.add(message.value!.toString());
        },
      });
    }
    await waitAllInSync(live(), TOPIC, PARTITIONS);
    for (const broker of brokers) {
      await producer.nextAck();
      await broker.process.stop();
      // Writes go on while the broker is away: two replicas of three are enough for min.insync.replicas=2.
      await producer.nextAck();
      await broker.restart();
      await waitAllInSync(live(), TOPIC, PARTITIONS);
    }
    await producer.nextAck();
    const producerErrors = await producer.stop();
    assert.deepEqual(producerErrors, [], 'deliveries that failed');
    await eventually(
      'the group read every acknowledged record',
      async () => (producer.acks.every((a) => seen.has(a.value)) ? true : undefined),
      120_000,
    );
    assert.deepEqual(crashes, [], 'consumers that crashed without restarting');
  } finally {
    producer.kill();
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
