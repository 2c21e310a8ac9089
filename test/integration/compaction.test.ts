import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { consumeWithKcat } from './clients.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

/** How long a test waits for the cleaner's next pass to show before it gives up: a bound on a hang, not on speed. */
const CLEANER_WAIT_MS = 60_000;
const POLL_MS = 200;

/** Polls `probe` until `done` holds for its answer (or the wait runs out); returns the last answer. */
async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await probe();
  for (let waited = 0; waited < CLEANER_WAIT_MS && !done(value); waited += POLL_MS) {
    await sleep(POLL_MS);
    value = await probe();
  }
  return value;
}

test('compaction: a compacted topic produced with KafkaJS reads back with kcat as one record per key', async () => {
  const broker = await startBroker({ logCleanerBackoffMs: 100 });
  try {
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'table',
          numPartitions: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: '1024' },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          ],
        },
      ],
    });
    const producer = kafka.producer();
    await producer.connect();
    const keys = 5;
    const count = 60;
    for (let i = 0; i < count; i++) {
      await producer.send({ topic: 'table', messages: [{ key: `k${i % keys}`, value: `v${i}` }] });
    }
    // A record nearly the size of a segment rolls the log, so that every keyed record is in a cleanable segment.
    await producer.send({ topic: 'table', messages: [{ key: 'end', value: 'x'.repeat(900) }] });
    await producer.disconnect();

    const records = await waitFor(
      () => consumeWithKcat(broker.bootstrap, 'table', 0),
      (r) => r.length === keys + 1,
    );
    assert.deepEqual(
      records.map((r) => [r.offset, r.key, r.value?.slice(0, 3)]),
      [
        [55, 'k0', 'v55'],
        [56, 'k1', 'v56'],
        [57, 'k2', 'v57'],
        [58, 'k3', 'v58'],
        [59, 'k4', 'v59'],
        [60, 'end', 'xxx'],
      ],
      'the last value of each key, at its original offset',
    );
    const offsets = await admin.fetchTopicOffsets('table');
    assert.deepEqual([offsets[0]!.low, offsets[0]!.high], ['0', '61'], 'the log keeps its start and end');
    await admin.disconnect();
  } finally {
    await broker.stop();
  }
});

test('compaction: committed offsets survive the cleaning of __consumer_offsets and a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-compaction-'));
  const options = { logDirs: [dir], logCleanerBackoffMs: 100, groups: { offsetsTopicNumPartitions: 1 } };
  let broker: Broker | undefined;
  try {
    broker = await startBroker(options);
    let kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    let admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 1 }] });
    const commits = 40;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'events',
      messages: Array.from({ length: commits }, (_, i) => ({ value: `event ${i}` })),
    });
    await producer.disconnect();
    // Finding the coordinator creates __consumer_offsets; small segments then let the cleaner reach its records.
    await admin.fetchOffsets({ groupId: 'readers', topics: ['events'] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: '__consumer_offsets',
          // AlterConfigs replaces all overrides: the policy is given again.
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: '1024' },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          ],
        },
      ],
    });
    // A group member commits after each record: one offset record per commit in __consumer_offsets.
    const consumer = kafka.consumer({ groupId: 'readers', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'events', fromBeginning: true });
    let committed = 0;
    const allCommitted = new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          await consumer.commitOffsets([{ topic: 'events', partition, offset: String(Number(message.offset) + 1) }]);
          if (++committed === commits) resolve();
        },
      });
    });
    await allCommitted;
    await consumer.disconnect();
    const bootstrap = broker.bootstrap;
    const stored = await waitFor(
      () => consumeWithKcat(bootstrap, '__consumer_offsets', 0, 'read_uncommitted'),
      (r) => r.length < commits / 2,
    );
    assert.ok(stored.length < commits / 2, `superseded commits were removed (${stored.length} records left)`);
    await admin.disconnect();
    await broker.stop();

    broker = await startBroker(options);
    kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    const fetched = await admin.fetchOffsets({ groupId: 'readers', topics: ['events'] });
    assert.equal(fetched[0]!.partitions[0]!.offset, String(commits), 'the last commit is restored');
    await admin.disconnect();
    await broker.stop();
  } finally {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
