import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { EMBEDDED_METADATA_DIR, JOURNAL_FILE } from '../../src/cluster/embedded-metadata-store.js';
import { ZERO_UUID } from '../../src/cluster/topic-metadata.js';
import { startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import {
  CLEANER_OFFSET_CHECKPOINT_FILE,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  PARTITION_METADATA_FILE,
  RECOVERY_POINT_CHECKPOINT_FILE,
  REPLICATION_OFFSET_CHECKPOINT_FILE,
} from '../../src/storage/log-manager.js';
import { withTempDir } from '../storage/helpers.js';
import { fillDisk, smallDiskUnavailable, withSmallDisk } from '../storage/small-disk.js';
import { consumeWithKafkaPython, createTopics } from './clients.js';
import { RawClient } from './raw-client.js';

const RECORDS_PER_PARTITION = 20;

function kafka(bootstrap: string): Kafka {
  return new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
}

/** A logger keeping its lines, to check what an operator is told. */
function recordingLogger(lines: string[]): Logger {
  return new Logger('broker', { level: 'info', sink: { write: (line) => lines.push(line) } });
}

/** Creates `topic` with two partitions and produces keyed records to each with KafkaJS. */
async function produceRecords(bootstrap: string, topic: string): Promise<void> {
  await createTopics(kafka(bootstrap), [{ topic, numPartitions: 2 }]);
  const producer = kafka(bootstrap).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (const partition of [0, 1]) {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({
        partition,
        key: `k${i}`,
        value: `${topic}-${partition}-${i}`,
      })),
    });
  }
  await producer.disconnect();
}

async function assertRecordsBack(bootstrap: string, topic: string): Promise<void> {
  const records = await consumeWithKafkaPython(bootstrap, topic, [0, 1]);
  for (const partition of [0, 1]) {
    assert.deepEqual(
      records.filter((r) => r.partition === partition).map((r) => r.value),
      Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => `${topic}-${partition}-${i}`),
    );
  }
}

test('a missing or garbled partition.metadata: the records come back after a restart, and the operator is warned', () =>
  withTempDir(async (dir) => {
    const first = await startBroker({ logDirs: [dir] });
    await produceRecords(first.bootstrap, 'orders');
    await first.stop();
    await rm(join(dir, 'orders-0', PARTITION_METADATA_FILE));
    await writeFile(join(dir, 'orders-1', PARTITION_METADATA_FILE), 'version: 0\ntopic_id: ###\n');

    const lines: string[] = [];
    const again = await startBroker({ logDirs: [dir], logger: recordingLogger(lines) });
    try {
      await assertRecordsBack(again.bootstrap, 'orders');
      for (const partition of [0, 1]) {
        const file = join(dir, `orders-${partition}`, PARTITION_METADATA_FILE);
        assert.ok(
          lines.some((l) => l.includes('WARN') && l.includes(file)),
          lines.join(''),
        );
      }
    } finally {
      await again.stop();
    }
  }));

test('damaged checkpoint files (garbled, empty): the broker starts, warns naming each, and serves every record', () =>
  withTempDir(async (dir) => {
    const first = await startBroker({ logDirs: [dir] });
    await produceRecords(first.bootstrap, 'events');
    await first.stop();
    await writeFile(join(dir, RECOVERY_POINT_CHECKPOINT_FILE), 'garbage\n');
    await writeFile(join(dir, LOG_START_OFFSET_CHECKPOINT_FILE), '');
    await writeFile(join(dir, CLEANER_OFFSET_CHECKPOINT_FILE), '0\n3\nevents 0 1\n');
    await writeFile(join(dir, REPLICATION_OFFSET_CHECKPOINT_FILE), '0\n1\n');

    const lines: string[] = [];
    const again = await startBroker({ logDirs: [dir], logger: recordingLogger(lines) });
    try {
      await assertRecordsBack(again.bootstrap, 'events');
      for (const file of [
        RECOVERY_POINT_CHECKPOINT_FILE,
        LOG_START_OFFSET_CHECKPOINT_FILE,
        CLEANER_OFFSET_CHECKPOINT_FILE,
      ]) {
        assert.ok(
          lines.some((l) => l.includes('WARN') && l.includes(join(dir, file))),
          lines.join(''),
        );
      }
    } finally {
      await again.stop();
    }
  }));

test('a missing metadata journal: start-up is refused naming the file, and no partition log is touched', () =>
  withTempDir(async (dir) => {
    const first = await startBroker({ logDirs: [dir] });
    await produceRecords(first.bootstrap, 'kept');
    await first.stop();
    const journal = join(dir, EMBEDDED_METADATA_DIR, JOURNAL_FILE);
    await rm(journal);

    await assert.rejects(startBroker({ logDirs: [dir] }), (e: Error) => e.message.includes(journal));
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('kept')).sort(), ['kept-0', 'kept-1']);
  }));

test(
  'CreateTopics on a full disk answers KAFKA_STORAGE_ERROR and leaves no topic; once space is freed it works',
  {
    skip: smallDiskUnavailable,
  },
  (t) =>
    withSmallDisk(t, async (dir) => {
      const lines: string[] = [];
      const broker = await startBroker({ logDirs: [dir], logger: recordingLogger(lines) });
      try {
        const filler = await fillDisk(dir);
        const admin = kafka(broker.bootstrap).admin();
        await admin.connect();
        try {
          const failed = await admin.createTopics({ topics: [{ topic: 'full', numPartitions: 2 }] }).then(
            () => null,
            (e: { errors?: Array<{ type: string }>; type?: string }) => e,
          );
          assert.ok(failed, 'CreateTopics must not answer OK');
          const types = failed.errors?.map((x) => x.type) ?? [failed.type];
          assert.deepEqual(types, ['KAFKA_STORAGE_ERROR']);
          assert.ok(
            lines.some((l) => l.includes('ERROR') && l.includes('topic creation failed')),
            lines.join(''),
          );
          assert.deepEqual(await admin.listTopics(), []);
          assert.deepEqual(
            (await readdir(dir)).filter((n) => n.startsWith('full')),
            [],
          );

          // Auto-creation through Metadata takes the same path.
          const client = await RawClient.connect(broker.port);
          try {
            const metadata = await client.request(apis.Metadata, 12, {
              topics: [{ topicId: ZERO_UUID, name: 'auto' }],
              allowAutoTopicCreation: true,
              includeClusterAuthorizedOperations: false,
              includeTopicAuthorizedOperations: false,
            });
            assert.equal(metadata.topics[0]?.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
          } finally {
            client.close();
          }
          assert.deepEqual(await admin.listTopics(), []);

          await rm(filler);
          await admin.createTopics({ topics: [{ topic: 'full', numPartitions: 2 }] });
        } finally {
          await admin.disconnect();
        }
        const producer = kafka(broker.bootstrap).producer({ allowAutoTopicCreation: false });
        await producer.connect();
        await producer.send({ topic: 'full', acks: -1, messages: [{ partition: 1, key: 'a', value: 'after' }] });
        await producer.disconnect();
        const records = await consumeWithKafkaPython(broker.bootstrap, 'full', [1]);
        assert.deepEqual(
          records.map((r) => r.value),
          ['after'],
        );
      } finally {
        await broker.stop();
      }
    }),
);

test(
  'CreatePartitions on a full disk answers KAFKA_STORAGE_ERROR and the topic keeps its partitions and records',
  {
    skip: smallDiskUnavailable,
  },
  (t) =>
    withSmallDisk(t, async (dir) => {
      const broker = await startBroker({ logDirs: [dir] });
      try {
        await createTopics(kafka(broker.bootstrap), [{ topic: 'grow', numPartitions: 1 }]);
        const producer = kafka(broker.bootstrap).producer({ allowAutoTopicCreation: false });
        await producer.connect();
        await producer.send({ topic: 'grow', acks: -1, messages: [{ key: 'a', value: 'before' }] });
        await producer.disconnect();
        const filler = await fillDisk(dir);
        const admin = kafka(broker.bootstrap).admin();
        await admin.connect();
        try {
          const failed = await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] }).then(
            () => null,
            (e: { errors?: Array<{ type: string }>; type?: string }) => e,
          );
          assert.ok(failed, 'CreatePartitions must not answer OK');
          assert.deepEqual(failed.errors?.map((x) => x.type) ?? [failed.type], ['KAFKA_STORAGE_ERROR']);
          const [described] = (await admin.fetchTopicMetadata({ topics: ['grow'] })).topics;
          assert.equal(described?.partitions.length, 1);
          await rm(filler);
          await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] });
        } finally {
          await admin.disconnect();
        }
        assert.deepEqual(
          (await consumeWithKafkaPython(broker.bootstrap, 'grow', [0, 1, 2])).map((r) => r.value),
          ['before'],
        );
      } finally {
        await broker.stop();
      }
    }),
);
