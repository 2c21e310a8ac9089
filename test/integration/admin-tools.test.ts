import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { samsa } from './cli.js';
import { RawClient } from './raw-client.js';

let broker: Broker;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker.stop();
});

test('samsa configs: alter and describe topic, broker and default broker configs like Kafka', async () => {
  const b = ['--bootstrap-server', broker.bootstrap];
  assert.equal((await samsa(['topics', ...b, '--create', '--topic', 'conf', '--partitions', '1'])).code, 0);

  const added = await samsa([
    'configs',
    ...b,
    '--entity-type',
    'topics',
    '--entity-name',
    'conf',
    '--alter',
    '--add-config',
    'retention.ms=60000,cleanup.policy=[compact,delete],segment.ms=100000',
  ]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, 'Completed updating config for topic conf.\n');

  const deleted = await samsa(['configs', ...b, '--topic', 'conf', '--alter', '--delete-config', 'segment.ms']);
  assert.equal(deleted.stdout, 'Completed updating config for topic conf.\n', deleted.stderr);

  const described = await samsa(['configs', ...b, '--entity-type', 'topics', '--entity-name', 'conf', '--describe']);
  assert.equal(
    described.stdout,
    [
      'Dynamic configs for topic conf are:',
      '  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}',
      '  retention.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=60000}',
      '',
    ].join('\n'),
    described.stderr,
  );

  const brokerAltered = await samsa([
    'configs',
    ...b,
    '--entity-type',
    'brokers',
    '--entity-name',
    '0',
    '--alter',
    '--add-config',
    'log.retention.ms=7200000',
  ]);
  assert.equal(brokerAltered.stdout, 'Completed updating config for broker 0.\n', brokerAltered.stderr);
  const defaultAltered = await samsa([
    'configs',
    ...b,
    '--entity-type',
    'brokers',
    '--entity-default',
    '--alter',
    '--add-config',
    'log.segment.bytes=2097152',
  ]);
  assert.equal(
    defaultAltered.stdout,
    'Completed updating default config for brokers in the cluster.\n',
    defaultAltered.stderr,
  );

  // No name: every broker, then the cluster defaults.
  const brokers = await samsa(['configs', ...b, '--entity-type', 'brokers', '--describe']);
  assert.equal(brokers.code, 0, brokers.stderr);
  const lines = brokers.stdout.trimEnd().split('\n');
  assert.equal(lines[0], 'Dynamic configs for broker 0 are:');
  assert.match(
    lines[1]!,
    /^ {2}log\.retention\.ms=7200000 sensitive=false synonyms=\{DYNAMIC_BROKER_CONFIG:log\.retention\.ms=7200000, .*\}$/,
  );
  assert.equal(lines[2], 'Default configs for brokers in the cluster are:');
  assert.match(
    lines[3]!,
    /^ {2}log\.segment\.bytes=2097152 sensitive=false synonyms=\{DYNAMIC_DEFAULT_BROKER_CONFIG:log\.segment\.bytes=2097152.*\}$/,
  );
  assert.equal(lines.length, 4);

  const all = await samsa(['configs', ...b, '--broker', '0', '--describe', '--all']);
  assert.match(all.stdout, /^All configs for broker 0 are:\n/);
  assert.match(
    all.stdout,
    /\n {2}log\.segment\.bytes=2097152 sensitive=false synonyms=\{DYNAMIC_DEFAULT_BROKER_CONFIG:/,
  );
  assert.match(all.stdout, /\n {2}log\.retention\.ms=7200000 sensitive=false /);

  // Bad usage is found before any connection: exit 2 with the usage.
  const noChange = await samsa(['configs', ...b, '--topic', 'conf', '--alter']);
  assert.equal(noChange.code, 2);
  assert.match(
    noChange.stderr,
    /^samsa configs: --alter needs --add-config or --delete-config\n\nusage: samsa configs /,
  );

  const unknown = await samsa(['configs', ...b, '--topic', 'conf', '--alter', '--add-config', 'no.such=1']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^samsa configs: INVALID_CONFIG/);
});

test('samsa get-offsets: topic:partition:offset lines for latest, a timestamp and the max timestamp', async () => {
  const b = ['--bootstrap-server', broker.bootstrap];
  const kafka = new Kafka({ clientId: 'get-offsets-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'offs', numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: 'offs',
    messages: [
      { partition: 0, value: 'a', timestamp: '1000' },
      { partition: 0, value: 'b', timestamp: '3000' },
      { partition: 0, value: 'c', timestamp: '2000' },
      { partition: 1, value: 'd', timestamp: '5000' },
    ],
  });
  await producer.disconnect();

  const latest = await samsa(['get-offsets', ...b, '--topic', 'offs']);
  assert.equal(latest.stdout, 'offs:0:3\noffs:1:1\n', latest.stderr);
  // The first record at or after the timestamp, only in the partitions asked for.
  const byTime = await samsa(['get-offsets', ...b, '--topic', 'of.*', '--partitions', '0-0', '--time', '2000']);
  assert.equal(byTime.stdout, 'offs:0:1\n', byTime.stderr);
  const maxTimestamp = await samsa(['get-offsets', ...b, '--topic', 'offs', '--time', '-3']);
  assert.equal(maxTimestamp.stdout, 'offs:0:1\noffs:1:0\n', maxTimestamp.stderr);
  // A partition with no record at or after the timestamp gets no line, as in Kafka's tool.
  const late = await samsa(['get-offsets', ...b, '--topic', 'offs', '--time', '4000']);
  assert.equal(late.stdout, 'offs:1:0\n', late.stderr);
  const none = await samsa(['get-offsets', ...b, '--topic', 'nope']);
  assert.deepEqual(
    [none.code, none.stdout, none.stderr],
    [1, '', 'samsa get-offsets: Could not match any topic-partitions with the specified filters\n'],
  );
});

test("samsa broker-api-versions: every broker's API ranges and usable versions, as Kafka prints them", async () => {
  const client = await RawClient.connect(broker.port);
  const advertised = await client
    .request(apis.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })
    .finally(() => client.close());
  const known = new Map(Object.values(apis).map((api) => [api.key, api]));
  const expected = advertised.apiKeys.map((a) => {
    const api = known.get(a.apiKey)!;
    const ours = api.latestVersionUnstable ? api.maxVersion - 1 : api.maxVersion;
    const range = a.minVersion === a.maxVersion ? `${a.minVersion}` : `${a.minVersion} to ${a.maxVersion}`;
    return { key: a.apiKey, text: `${api.name}(${a.apiKey}): ${range} [usable: ${Math.min(ours, a.maxVersion)}]` };
  });
  // Client APIs the broker does not advertise are listed as UNSUPPORTED, as Kafka's tool lists them.
  for (const api of known.values()) {
    if (api.listeners.includes('broker') && !expected.some((e) => e.key === api.key)) {
      expected.push({ key: api.key, text: `${api.name}(${api.key}): UNSUPPORTED` });
    }
  }
  expected.sort((a, b) => a.key - b.key);

  const run = await samsa(['broker-api-versions', '--bootstrap-server', broker.bootstrap]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    `${broker.bootstrap} (id: 0 rack: null isFenced: false) -> (\n\t${expected.map((e) => e.text).join(',\n\t')}\n)\n`,
  );
  assert.match(run.stdout, /\n\tProduce\(0\): 0 to \d+ \[usable: \d+\],\n\tFetch\(1\): /);
});

test('samsa delete-records: low watermarks per partition from an offset json file, errors per partition', async () => {
  const kafka = new Kafka({ clientId: 'delete-records-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-delete-records-'));
  try {
    await admin.createTopics({ topics: [{ topic: 'trim', numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'trim',
      messages: [0, 0, 0, 0, 0, 1, 1].map((partition, i) => ({ partition, value: `v${i}` })),
    });
    await producer.disconnect();

    const file = join(dir, 'offsets.json');
    await writeFile(
      file,
      JSON.stringify({
        partitions: [
          { topic: 'trim', partition: 0, offset: 3 },
          { topic: 'trim', partition: 1, offset: -1 },
          { topic: 'trim', partition: 7, offset: 1 },
        ],
        version: 1,
      }),
    );
    const run = await samsa(['delete-records', '--bootstrap-server', broker.bootstrap, '--offset-json-file', file]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'Executing records delete operation',
      'Records delete operation completed:',
      'partition: trim-0\tlow_watermark: 3',
      'partition: trim-1\tlow_watermark: 2',
    ]);
    assert.match(lines[4]!, /^partition: trim-7\terror: UNKNOWN_TOPIC_OR_PARTITION/);
    assert.equal(lines.length, 5);
    const offsets = await admin.fetchTopicOffsets('trim');
    assert.deepEqual(offsets.map((o) => [o.partition, o.low]).sort(), [
      [0, '3'],
      [1, '2'],
    ]);
  } finally {
    await admin.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

test('samsa log-dirs: the JSON of log directories and partition sizes, narrowed by --topic-list', async () => {
  const kafka = new Kafka({ clientId: 'log-dirs-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'sized', numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'sized', messages: [{ partition: 1, value: 'x'.repeat(100) }] });
  await producer.disconnect();

  const b = ['--bootstrap-server', broker.bootstrap];
  const run = await samsa(['log-dirs', ...b, '--describe', '--topic-list', 'sized']);
  assert.equal(run.code, 0, run.stderr);
  const [querying, received, json, ...rest] = run.stdout.trimEnd().split('\n');
  assert.equal(querying, 'Querying brokers for log directories information');
  assert.equal(received, 'Received log directory information from brokers 0');
  assert.deepEqual(rest, []);
  const doc = JSON.parse(json!) as {
    brokers: Array<{ logDirs: Array<{ partitions: Array<{ partition: string; size: number }> }> }>;
  };
  const partitions = doc.brokers[0]!.logDirs[0]!.partitions.sort((x, y) => (x.partition < y.partition ? -1 : 1));
  assert.equal(partitions[1]!.partition, 'sized-1');
  assert.ok(partitions[1]!.size > 100, 'the record batch is counted');
  assert.equal(
    json,
    JSON.stringify({
      version: 1,
      brokers: [
        {
          broker: 0,
          logDirs: [
            {
              logDir: broker.settings.logDirs[0],
              error: null,
              partitions: doc.brokers[0]!.logDirs[0]!.partitions.map((p) => ({
                partition: p.partition,
                size: p.partition === 'sized-0' ? 0 : partitions[1]!.size,
                offsetLag: 0,
                isFuture: false,
              })),
            },
          ],
        },
      ],
    }),
  );

  const noSuchBroker = await samsa(['log-dirs', ...b, '--describe', '--broker-list', '0,5']);
  assert.equal(noSuchBroker.code, 1);
  assert.equal(
    noSuchBroker.stderr,
    'ERROR: The given brokers do not exist from --broker-list: 5. Current existent brokers: 0\n',
  );
});
