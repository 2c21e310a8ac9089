import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../src/broker/broker.js';
import { withTempDir } from '../storage/helpers.js';
import { MAIN } from './cli.js';
import { consumeWithKcat } from './clients.js';

/** The Kafka error type KafkaJS reports, wherever it nests it. */
function errorType(e: unknown): string | undefined {
  const err = e as { type?: string; errors?: unknown[]; originalError?: unknown; cause?: unknown };
  if (err?.type && err.type !== 'UNKNOWN') return err.type;
  for (const inner of [err?.originalError, err?.cause, ...(err?.errors ?? [])]) {
    const t = inner ? errorType(inner) : undefined;
    if (t) return t;
  }
  return err?.type;
}

function rejectsWith(type: string) {
  return (e: unknown) => {
    assert.equal(errorType(e), type, String(e));
    return true;
  };
}

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

test('past samsa.max.broker.partitions, CreateTopics, CreatePartitions and auto-creation get POLICY_VIOLATION', async () => {
  const broker = await startBroker({ maxBrokerPartitions: 10, numPartitions: 2 });
  try {
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    await withAdmin(kafka, async (admin) => {
      // Concurrent requests cannot pass the limit together.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => admin.createTopics({ topics: [{ topic: `t${i}`, numPartitions: 2 }] })),
      );
      const created = outcomes.filter((o) => o.status === 'fulfilled').length;
      const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(errorType(o.reason))] : []));
      assert.equal(created, 5, `five topics of two partitions fill the limit of ten (refused: ${refusals.join(', ')})`);
      for (const o of outcomes) if (o.status === 'rejected') rejectsWith('POLICY_VIOLATION')(o.reason);
      assert.equal((await admin.listTopics()).length, 5);
      for (let i = 0; i < 8; i++) {
        if (outcomes[i]!.status === 'fulfilled' && i > 0) {
          await admin.deleteTopics({ topics: [`t${i}`] });
          break;
        }
      }
      // 8 partitions now: 2 left.
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: 'huge', numPartitions: 1_000_000 }] }),
        rejectsWith('POLICY_VIOLATION'),
      );
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: 'three', numPartitions: 3 }], validateOnly: true }),
        rejectsWith('POLICY_VIOLATION'),
      );
      const t0 = (await admin.listTopics()).find((t) => t.startsWith('t'))!;
      await assert.rejects(
        admin.createPartitions({ topicPartitions: [{ topic: t0, count: 5 }] }),
        rejectsWith('POLICY_VIOLATION'),
      );
      await admin.createPartitions({ topicPartitions: [{ topic: t0, count: 3 }] });
      await admin.createTopics({ topics: [{ topic: 'last', numPartitions: 1 }] });
    });
    // Full: a producer writing to a new topic gets the error from the auto-creation, and the broker serves on.
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
    await producer.connect();
    await assert.rejects(
      producer.send({ topic: 'auto-created', messages: [{ value: 'x' }] }),
      rejectsWith('POLICY_VIOLATION'),
    );
    await producer.disconnect();
    // (A new producer: KafkaJS keeps asking for the topic it failed to create.)
    const another = kafka.producer();
    await another.connect();
    await another.send({ topic: 'last', messages: [{ value: 'still served' }] });
    await another.disconnect();
    await withAdmin(kafka, async (admin) => assert.ok(!(await admin.listTopics()).includes('auto-created')));
  } finally {
    await broker.stop();
  }
});

/** Starts `samsa server` under an open-files limit; resolves with the child and its port once it listens. */
async function startLimitedServer(props: string, openFiles: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    'prlimit',
    [`--nofile=${openFiles}:${openFiles}`, process.execPath, '--import', 'tsx', MAIN, 'server', props],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = / started .*listener=[^ ]*:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${log}`)));
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

/** Open descriptors of a process. */
async function openFiles(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

const OPEN_FILES_LIMIT = 256;

test('under a small open-files limit, partitions are refused before descriptors run out; the broker serves and restarts', () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    // Small segments, so that every partition has several and a restart opens them all.
    await writeFile(
      props,
      `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\nnum.partitions=1\nlog.segment.bytes=1024\n`,
    );
    let { child, port } = await startLimitedServer(props, OPEN_FILES_LIMIT);
    try {
      const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
      const topics: string[] = [];
      let refusal: unknown = null;
      await withAdmin(kafka, async (admin) => {
        // The default limit (from the open-files limit) must refuse long before the descriptors run out.
        for (let i = 0; i < OPEN_FILES_LIMIT && refusal === null; i++) {
          try {
            await admin.createTopics({ topics: [{ topic: `p${i}`, numPartitions: 1 }] });
            topics.push(`p${i}`);
          } catch (e) {
            refusal = e;
          }
        }
      });
      assert.ok(refusal, 'creation was refused at some point');
      rejectsWith('POLICY_VIOLATION')(refusal);
      assert.ok(topics.length >= 10, `${topics.length} partitions allowed`);

      // Several segments in every partition.
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      for (let round = 0; round < 4; round++) {
        await producer.sendBatch({
          topicMessages: topics.map((topic) => ({ topic, messages: [{ value: 'v'.repeat(600) }] })),
        });
      }
      await producer.disconnect();
      // Auto-creation is refused too, and the producer is told.
      const autoCreating = kafka.producer({ allowAutoTopicCreation: true });
      await autoCreating.connect();
      await assert.rejects(
        autoCreating.send({ topic: 'one-too-many', messages: [{ value: 'x' }] }),
        rejectsWith('POLICY_VIOLATION'),
      );
      await autoCreating.disconnect();
      const segments = (await readdir(join(dir, 'data', `${topics[0]}-0`))).filter((f) => f.endsWith('.log'));
      assert.ok(segments.length >= 3, `segments: ${segments.join(', ')}`);

      // New connections are still accepted (descriptors are left for them).
      const admins = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const admin = kafka.admin();
          await admin.connect();
          return admin;
        }),
      );
      for (const admin of admins) assert.equal((await admin.listTopics()).length, topics.length);
      await Promise.all(admins.map((a) => a.disconnect()));
      assert.ok((await openFiles(child.pid!)) < OPEN_FILES_LIMIT);

      assert.equal(await stopServer(child), 0);
      ({ child, port } = await startLimitedServer(props, OPEN_FILES_LIMIT));
      // Every partition's old segments read back after the restart, without a consumer group (whose 50
      // partitions of __consumer_offsets would take most of this small limit).
      for (const topic of topics) {
        const records = await consumeWithKcat(`127.0.0.1:${port}`, topic, 0);
        assert.equal(records.length, 4, topic);
        assert.equal(records[0]!.value, 'v'.repeat(600));
      }
      assert.ok((await openFiles(child.pid!)) < OPEN_FILES_LIMIT);
    } finally {
      if (child.exitCode === null) await stopServer(child);
    }
  }));
