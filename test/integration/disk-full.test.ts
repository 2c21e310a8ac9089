import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { withTempDir } from '../storage/helpers.js';
import { copyDir, mountSmallDisk, unmountSmallDisk } from '../storage/small-disk.js';
import { createTopics } from './clients.js';

const VALUE_BYTES = 8 * 1024;
const PRODUCERS = 4;
/** Refusals each producer sees before it stops: the broker keeps refusing, it does not start writing again. */
const REFUSALS_PER_PRODUCER = 3;

interface LogLine {
  level: string;
  component: string;
  message: string;
  [field: string]: unknown;
}

test('a producer filling the disk gets KAFKA_STORAGE_ERROR, and every acknowledged record is there after a restart on a larger disk', async (t) => {
  await withTempDir(async (dir) => {
    const disk = join(dir, 'small');
    const cannot = await mountSmallDisk(disk, '2m');
    if (cannot) {
      t.skip(cannot);
      return;
    }
    const lines: LogLine[] = [];
    const acknowledged: string[] = [];
    const refusals: string[] = [];
    let broker: Broker | null = null;
    try {
      broker = await startBroker({
        logDirs: [disk],
        logger: new Logger('broker', {
          format: 'json',
          sink: { write: (line) => lines.push(JSON.parse(line) as LogLine) },
        }),
        logDefaults: { segmentBytes: 256 * 1024 },
      });
      const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
      await createTopics(kafka, [{ topic: 'fill', numPartitions: 1 }]);
      const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
      await producer.connect();
      let next = 0;
      const padding = 'x'.repeat(VALUE_BYTES);
      await Promise.all(
        Array.from({ length: PRODUCERS }, async () => {
          let refused = 0;
          while (refused < REFUSALS_PER_PRODUCER) {
            const value = `m${next++}`;
            try {
              await producer.send({ topic: 'fill', acks: -1, messages: [{ value: `${value} ${padding}` }] });
              acknowledged.push(value);
            } catch (e) {
              refused++;
              // KafkaJS wraps the broker's error once its (zero) retries are spent.
              const error = e as { type?: string; cause?: { type?: string } };
              refusals.push(error.cause?.type ?? error.type ?? String(e));
            }
          }
        }),
      );
      await producer.disconnect();
      assert.ok(acknowledged.length > 50, `${acknowledged.length} records fitted first`);
      assert.deepEqual(new Set(refusals), new Set(['KAFKA_STORAGE_ERROR']));
      const offline = lines.filter((l) => l.message.startsWith('partition offline'));
      assert.equal(offline.length, 1, 'the partition going offline is logged once');
      assert.equal(offline[0]!.level, 'error');
      assert.equal(offline[0]!.component, 'log');
      assert.equal(offline[0]!.topic, 'fill');
      assert.equal(offline[0]!.code, 'ENOSPC');
      // The broker stops even though the full disk may refuse its checkpoints; with a partition offline the log
      // dir gets no clean shutdown marker, so that the next start recovers it.
      await broker.stop();
      await assert.rejects(stat(join(disk, '.kafka_cleanshutdown')), { code: 'ENOENT' });
      await copyDir(disk, join(dir, 'large'));
    } finally {
      await broker?.stop().catch(() => {});
      await unmountSmallDisk(disk);
    }

    const restarted = await startBroker({ logDirs: [join(dir, 'large')] });
    try {
      const kafka = new Kafka({ brokers: [restarted.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      const [end] = await admin.fetchTopicOffsets('fill');
      await admin.disconnect();
      const highWatermark = Number(end!.high);
      const records: Array<{ offset: number; value: string }> = [];
      const consumer = kafka.consumer({ groupId: 'check' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'fill', fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ message }) => {
              records.push({ offset: Number(message.offset), value: message.value!.toString().split(' ')[0]! });
              if (Number(message.offset) === highWatermark - 1) resolve();
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      const values = records.map((r) => r.value);
      assert.deepEqual(
        records.map((r) => r.offset),
        values.map((_, i) => i),
        'offsets are dense from 0',
      );
      const stored = new Set(values);
      assert.equal(stored.size, values.length, 'no record twice');
      for (const v of acknowledged) assert.ok(stored.has(v), `acknowledged ${v} is stored`);
    } finally {
      await restarted.stop();
    }
  });
});
