import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { withTempDir } from '../storage/helpers.js';
import { MAIN, startedPort } from './cli.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

test('samsa server with samsa.memory.profile=small: the profile sizes the keys left unset, DescribeConfigs says so, records go through', () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    await writeFile(
      props,
      `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\nsamsa.memory.profile=small\nfetch.max.bytes=1048576\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', props], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    try {
      const port = await startedPort(child);
      assert.match(log, /samsa\.memory\.profile=small/);
      const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      const r = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.BROKER, name: '0' }],
        includeSynonyms: false,
      });
      await admin.disconnect();
      const value = (name: string) => r.resources[0]!.configEntries.find((e) => e.configName === name)?.configValue;
      assert.equal(value('samsa.memory.profile'), 'small');
      assert.equal(value('queued.max.request.bytes'), String(16 * 1024 * 1024));
      assert.equal(value('samsa.log.tail.cache.bytes'), String(8 * 1024 * 1024));
      assert.equal(value('samsa.log.read.buffer.pool.bytes'), String(8 * 1024 * 1024));
      assert.equal(value('fetch.max.bytes'), '1048576', 'a key set in the file wins over the profile');

      const producer = kafka.producer();
      await producer.connect();
      const values = Array.from({ length: 100 }, (_, i) => `record-${i}`);
      await producer.send({ topic: 'small', messages: values.map((v) => ({ value: v })) });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: 'small-profile' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'small', fromBeginning: true });
      const seen: string[] = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
            if (seen.length === values.length) resolve();
          },
        });
      });
      await consumer.disconnect();
      assert.deepEqual(seen, values);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }));
