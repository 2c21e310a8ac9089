import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { withTempDir } from '../storage/helpers.js';
import { MAIN, startedPort } from './cli.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

/** Kafka's ConfigSource codes as clients see them. */
const DYNAMIC_TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;
const BROKER = 4;
/** Kafka's AlterConfigOp.OpType codes. */
const SET = 0;
const DELETE = 1;
const APPEND = 2;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  // As Kafka's shipped server.properties sets it.
  broker = await startBroker({ staticConfigs: { 'log.retention.hours': '168' } });
  kafka = new Kafka({ clientId: 'broker-configs-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

async function withAdmin<T>(fn: (admin: ReturnType<InstanceType<typeof Kafka>['admin']>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

interface Described {
  value: string | null;
  source: number;
  readOnly: boolean;
  synonyms: Array<[string, string | null, number]>;
}

/** DescribeConfigs with synonyms, as KafkaJS gives it, by config name. */
async function describe(type: number, name: string, target = kafka): Promise<Map<string, Described>> {
  const admin = target.admin();
  await admin.connect();
  try {
    const r = await admin.describeConfigs({ resources: [{ type, name }], includeSynonyms: true });
    const resource = r.resources[0]!;
    assert.equal(resource.errorCode, 0, resource.errorMessage ?? '');
    return new Map(
      resource.configEntries.map((e) => [
        e.configName,
        {
          value: e.configValue,
          source: e.configSource,
          readOnly: e.readOnly,
          synonyms: e.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource]),
        },
      ]),
    );
  } finally {
    await admin.disconnect();
  }
}

async function incremental(
  resourceName: string,
  configs: Array<{ name: string; configOperation: number; value: string | null }>,
  validateOnly = false,
  port = broker.port,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const client = await RawClient.connect(port);
  try {
    const r = await client.request(apis.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: BROKER, resourceName, configs }],
      validateOnly,
    });
    const { errorCode, errorMessage } = r.responses[0]!;
    return { errorCode, errorMessage };
  } finally {
    client.close();
  }
}

/** Legacy AlterConfigs on the cluster-wide default (KafkaJS refuses the empty resource name). */
async function alterClusterDefault(configs: Array<{ name: string; value: string }>): Promise<void> {
  const client = await RawClient.connect(broker.port);
  try {
    const r = await client.request(apis.AlterConfigs, 2, {
      resources: [{ resourceType: BROKER, resourceName: '', configs }],
      validateOnly: false,
    });
    assert.equal(r.responses[0]!.errorCode, ErrorCode.NONE, r.responses[0]!.errorMessage ?? '');
  } finally {
    client.close();
  }
}

/** DescribeConfigs of the cluster-wide default, by config name. */
async function describeClusterDefault(): Promise<Map<string, Described>> {
  const client = await RawClient.connect(broker.port);
  try {
    const r = await client.request(apis.DescribeConfigs, 4, {
      resources: [{ resourceType: BROKER, resourceName: '', configurationKeys: null }],
      includeSynonyms: true,
      includeDocumentation: false,
    });
    return new Map(
      r.results[0]!.configs.map((e) => [
        e.name,
        {
          value: e.value,
          source: e.configSource,
          readOnly: e.readOnly,
          synonyms: e.synonyms.map((x) => [x.name, x.value, x.source] as [string, string | null, number]),
        },
      ]),
    );
  } finally {
    client.close();
  }
}

test('KafkaJS: dynamic log.retention.ms per broker and as cluster default, described with Kafka synonyms in order', async () => {
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [{ topic: 'inherits' }, { topic: 'overrides', configEntries: [{ name: 'retention.ms', value: '5000' }] }],
    }),
  );
  // Before any dynamic config. Kafka lists a topic config's broker synonyms from the first entry named as its own
  // synonym (ConfigHelper.configSynonyms drops those before it): log.retention.hours alone leaves none.
  let topic = await describe(ConfigResourceTypes.TOPIC, 'inherits');
  assert.deepEqual(topic.get('retention.ms'), {
    value: '604800000',
    source: DEFAULT_CONFIG,
    readOnly: false,
    synonyms: [],
  });
  let own = await describe(ConfigResourceTypes.BROKER, '0');
  assert.deepEqual(own.get('log.retention.hours'), {
    value: '168',
    source: STATIC_BROKER_CONFIG,
    readOnly: true,
    synonyms: [
      ['log.retention.hours', '168', STATIC_BROKER_CONFIG],
      ['log.retention.hours', '168', DEFAULT_CONFIG],
    ],
  });
  assert.equal(own.get('log.retention.ms')?.readOnly, false, 'log.retention.ms is a dynamic config');

  await alterClusterDefault([{ name: 'log.retention.ms', value: '3600000' }]);
  await withAdmin((admin) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: ConfigResourceTypes.BROKER, name: '0', configEntries: [{ name: 'log.retention.ms', value: '60000' }] },
      ],
    }),
  );
  const retentionSynonyms: Array<[string, string, number]> = [
    ['log.retention.ms', '60000', DYNAMIC_BROKER_CONFIG],
    ['log.retention.ms', '3600000', DYNAMIC_DEFAULT_BROKER_CONFIG],
    ['log.retention.hours', '168', STATIC_BROKER_CONFIG],
    ['log.retention.hours', '168', DEFAULT_CONFIG],
  ];
  topic = await describe(ConfigResourceTypes.TOPIC, 'inherits');
  assert.deepEqual(topic.get('retention.ms'), {
    value: '60000',
    source: DYNAMIC_BROKER_CONFIG,
    readOnly: false,
    synonyms: retentionSynonyms,
  });
  const overridden = await describe(ConfigResourceTypes.TOPIC, 'overrides');
  assert.deepEqual(overridden.get('retention.ms')?.synonyms, [
    ['retention.ms', '5000', DYNAMIC_TOPIC_CONFIG],
    ...retentionSynonyms,
  ]);
  assert.equal(overridden.get('retention.ms')?.value, '5000');
  own = await describe(ConfigResourceTypes.BROKER, '0');
  assert.deepEqual(own.get('log.retention.ms'), {
    value: '60000',
    source: DYNAMIC_BROKER_CONFIG,
    readOnly: false,
    synonyms: retentionSynonyms,
  });
  // The cluster-wide default resource lists the dynamic defaults only, each with its default synonyms only.
  const clusterDefault = await describeClusterDefault();
  assert.deepEqual(
    [...clusterDefault.entries()],
    [
      [
        'log.retention.ms',
        {
          value: '3600000',
          source: DYNAMIC_DEFAULT_BROKER_CONFIG,
          readOnly: false,
          synonyms: [['log.retention.ms', '3600000', DYNAMIC_DEFAULT_BROKER_CONFIG]],
        },
      ],
    ],
  );
  assert.equal(broker.settings.logDefaults.retentionMs, 60_000, 'the log default follows at once');

  // AlterConfigs replaces the whole set: none left on the broker, its value falls back to the cluster default.
  await withAdmin((admin) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: '0', configEntries: [] }],
    }),
  );
  topic = await describe(ConfigResourceTypes.TOPIC, 'inherits');
  assert.equal(topic.get('retention.ms')?.value, '3600000');
  assert.equal(topic.get('retention.ms')?.source, DYNAMIC_DEFAULT_BROKER_CONFIG);
  assert.equal(broker.settings.logDefaults.retentionMs, 3_600_000);
  await alterClusterDefault([]);
  assert.equal(broker.settings.logDefaults.retentionMs, 7 * 24 * 3_600_000, 'back to server.properties');
});

test('IncrementalAlterConfigs on BROKER: read-only configs, bad values and other broker ids refused as Kafka does', async () => {
  let r = await incremental('0', [
    { name: 'broker.id', configOperation: SET, value: '3' },
    { name: 'log.dirs', configOperation: SET, value: '/elsewhere' },
  ]);
  assert.deepEqual(r, {
    errorCode: ErrorCode.INVALID_REQUEST,
    errorMessage: 'Cannot update these configs dynamically: [broker.id, log.dirs]',
  });
  r = await incremental('', [{ name: 'listeners', configOperation: SET, value: 'PLAINTEXT://:9093' }]);
  assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal(r.errorMessage, 'Cannot update these configs dynamically: [listeners]');
  r = await incremental('0', [{ name: 'log.retention.hours', configOperation: SET, value: '1' }]);
  assert.equal(r.errorMessage, 'Cannot update these configs dynamically: [log.retention.hours]');
  r = await incremental('0', [{ name: 'log.segment.bytes', configOperation: SET, value: 'big' }]);
  assert.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
  assert.match(r.errorMessage ?? '', /^Invalid value big for configuration log.segment.bytes/);
  r = await incremental('0', [{ name: 'log.segment.bytes', configOperation: SET, value: '10' }]);
  assert.match(r.errorMessage ?? '', /at least 14/);
  r = await incremental('0', [{ name: 'log.segment.bytes', configOperation: SET, value: null }]);
  assert.deepEqual(r, {
    errorCode: ErrorCode.INVALID_REQUEST,
    errorMessage: 'Null value not supported for : log.segment.bytes',
  });
  r = await incremental('7', [{ name: 'log.segment.bytes', configOperation: SET, value: '4096' }]);
  assert.deepEqual(r, {
    errorCode: ErrorCode.INVALID_REQUEST,
    errorMessage: 'Unexpected broker id, expected 0, but received 7',
  });
  r = await incremental('x', [{ name: 'log.segment.bytes', configOperation: SET, value: '4096' }]);
  assert.equal(r.errorMessage, 'Node id must be an integer, but it is: x');
  r = await incremental('0', [{ name: 'min.insync.replicas', configOperation: APPEND, value: '2' }]);
  assert.equal(r.errorCode, ErrorCode.INVALID_CONFIG);

  // Kafka's SASL tuning (librdkafka's admin test sets this one) is per broker only; it enables nothing.
  r = await incremental('', [{ name: 'sasl.kerberos.min.time.before.relogin', configOperation: SET, value: '58000' }]);
  assert.deepEqual(r, {
    errorCode: ErrorCode.INVALID_REQUEST,
    errorMessage:
      'Cannot update these configs at default cluster level, broker id must be specified: [sasl.kerberos.min.time.before.relogin]',
  });
  r = await incremental('0', [{ name: 'sasl.kerberos.min.time.before.relogin', configOperation: SET, value: '58000' }]);
  assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
  r = await incremental('0', [{ name: 'sasl.enabled.mechanisms', configOperation: SET, value: 'PLAIN' }]);
  assert.equal(r.errorMessage, 'Cannot update these configs dynamically: [sasl.enabled.mechanisms]');
  await incremental('0', [{ name: 'sasl.kerberos.min.time.before.relogin', configOperation: DELETE, value: null }]);

  // validateOnly checks and stores nothing.
  r = await incremental('0', [{ name: 'log.segment.bytes', configOperation: SET, value: '4096' }], true);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal((await describe(ConfigResourceTypes.BROKER, '0')).get('log.segment.bytes')?.source, DEFAULT_CONFIG);
  assert.equal(broker.settings.logDefaults.segmentBytes, 1073741824);

  // A name that is no broker config is kept as Kafka keeps custom configs; a list config takes APPEND.
  r = await incremental('0', [
    { name: 'custom.plugin.setting', configOperation: SET, value: 'on' },
    { name: 'log.cleanup.policy', configOperation: APPEND, value: 'compact' },
  ]);
  assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
  let own = await describe(ConfigResourceTypes.BROKER, '0');
  assert.equal(own.get('custom.plugin.setting')?.source, DYNAMIC_BROKER_CONFIG);
  assert.deepEqual(own.get('log.cleanup.policy')?.synonyms, [
    ['log.cleanup.policy', 'delete,compact', DYNAMIC_BROKER_CONFIG],
    ['log.cleanup.policy', 'delete', DEFAULT_CONFIG],
  ]);
  r = await incremental('0', [
    { name: 'custom.plugin.setting', configOperation: DELETE, value: null },
    { name: 'log.cleanup.policy', configOperation: DELETE, value: null },
  ]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  own = await describe(ConfigResourceTypes.BROKER, '0');
  assert.equal(own.get('custom.plugin.setting'), undefined);
  assert.equal(own.get('log.cleanup.policy')?.source, DEFAULT_CONFIG);
});

test('dynamic log.segment.bytes rolls topics without an override at the new size; message.max.bytes applies to produce', async () => {
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [
        { topic: 'follows-default' },
        { topic: 'keeps-override', configEntries: [{ name: 'segment.bytes', value: '1073741824' }] },
      ],
    }),
  );
  const producer = kafka.producer();
  await producer.connect();
  try {
    const value = 'x'.repeat(2000);
    const r = await incremental('', [{ name: 'log.segment.bytes', configOperation: SET, value: '4096' }]);
    assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
    for (let i = 0; i < 7; i++) {
      await producer.send({ topic: 'follows-default', messages: [{ value }] });
      await producer.send({ topic: 'keeps-override', messages: [{ value }] });
    }
    const segments = async (topic: string) =>
      (await readdir(join(broker.settings.logDirs[0]!, `${topic}-0`))).filter((f) => f.endsWith('.log')).length;
    assert.ok((await segments('follows-default')) >= 3, 'rolled at the dynamic default');
    assert.equal(await segments('keeps-override'), 1, 'its own segment.bytes wins');

    await incremental('0', [{ name: 'message.max.bytes', configOperation: SET, value: '1000' }]);
    await assert.rejects(
      producer.send({ topic: 'follows-default', messages: [{ value }], acks: -1 }),
      (e: Error & { type?: string }) => e.type === 'MESSAGE_TOO_LARGE' || /too large/i.test(e.message),
    );
  } finally {
    await producer.disconnect();
    await incremental('', [{ name: 'log.segment.bytes', configOperation: DELETE, value: null }]);
    await incremental('0', [{ name: 'message.max.bytes', configOperation: DELETE, value: null }]);
  }
  assert.equal(broker.settings.messageMaxBytes, 1048588);
  assert.equal(broker.settings.logDefaults.segmentBytes, 1073741824);
});

test('dynamic broker configs are kept in the metadata store: a restart applies and describes them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-broker-configs-'));
  try {
    let b = await startBroker({ logDirs: [dir] });
    assert.equal(
      (await incremental('0', [{ name: 'log.retention.bytes', configOperation: SET, value: '12345' }], false, b.port))
        .errorCode,
      ErrorCode.NONE,
    );
    assert.equal(
      (await incremental('', [{ name: 'log.segment.bytes', configOperation: SET, value: '8192' }], false, b.port))
        .errorCode,
      ErrorCode.NONE,
    );
    await b.stop();
    b = await startBroker({ logDirs: [dir] });
    try {
      assert.equal(b.settings.logDefaults.retentionBytes, 12345);
      assert.equal(b.settings.logDefaults.segmentBytes, 8192);
      const client = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
      const own = await describe(ConfigResourceTypes.BROKER, '0', client);
      assert.equal(own.get('log.retention.bytes')?.value, '12345');
      assert.equal(own.get('log.retention.bytes')?.source, DYNAMIC_BROKER_CONFIG);
      assert.equal(own.get('log.segment.bytes')?.value, '8192');
      assert.equal(own.get('log.segment.bytes')?.source, DYNAMIC_DEFAULT_BROKER_CONFIG);
    } finally {
      await b.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('kafka-python and confluent-kafka: alter and describe a broker config with its source and synonyms', async () => {
  const script = `
import sys, json
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
from confluent_kafka.admin import AdminClient, ConfigResource as CConfigResource
bootstrap = sys.argv[1]
out = {}
a = KafkaAdminClient(bootstrap_servers=bootstrap)
r = a.alter_configs([ConfigResource(ConfigResourceType.BROKER, '0', configs={'log.retention.bytes': '777777'})])
out['kp_alter_error'] = r.resources[0][0]
r = a.describe_configs([ConfigResource(ConfigResourceType.BROKER, '0', configs={'log.retention.bytes': None})], include_synonyms=True)
entry = r[0].resources[0][4][0]
out['kp_value'] = entry[1]
out['kp_synonyms'] = [[s[0], s[1], s[2]] for s in entry[-1]]
a.close()
c = AdminClient({'bootstrap.servers': bootstrap})
for resource, f in c.describe_configs([CConfigResource('broker', '0')]).items():
    entry = f.result(timeout=10)['log.retention.bytes']
    out['ck_source'] = entry.source
    out['ck_read_only'] = entry.is_read_only
print(json.dumps(out))
`;
  try {
    const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap], { timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout), {
      kp_alter_error: 0,
      kp_value: '777777',
      kp_synonyms: [
        ['log.retention.bytes', '777777', DYNAMIC_BROKER_CONFIG],
        ['log.retention.bytes', '-1', DEFAULT_CONFIG],
      ],
      ck_source: DYNAMIC_BROKER_CONFIG,
      ck_read_only: false,
    });
  } finally {
    await incremental('0', [{ name: 'log.retention.bytes', configOperation: DELETE, value: null }]);
  }
});

test('dynamic max.connections applies to the next connection accepted', async () => {
  const b = await startBroker();
  const first = await RawClient.connect(b.port);
  try {
    const set = await first.request(apis.IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: BROKER,
          resourceName: '0',
          configs: [{ name: 'max.connections', configOperation: SET, value: '1' }],
        },
      ],
      validateOnly: false,
    });
    assert.equal(set.responses[0]!.errorCode, ErrorCode.NONE);
    const second = await RawClient.connect(b.port);
    await second.closed; // refused: the first connection is the one allowed
    const removed = await first.request(apis.IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: BROKER,
          resourceName: '0',
          configs: [{ name: 'max.connections', configOperation: DELETE, value: null }],
        },
      ],
      validateOnly: false,
    });
    assert.equal(removed.responses[0]!.errorCode, ErrorCode.NONE);
    const third = await RawClient.connect(b.port);
    const versions = await third.request(apis.ApiVersions, 3, {
      clientSoftwareName: 'test',
      clientSoftwareVersion: '1',
    });
    assert.equal(versions.errorCode, ErrorCode.NONE);
    third.close();
  } finally {
    first.close();
    await b.stop();
  }
});

test('samsa server: log.retention.hours from server.properties and a dynamic log.retention.ms, described as Kafka does, kept across a restart', () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    await writeFile(props, `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\nlog.retention.hours=1\n`);
    const start = async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', props], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const port = await startedPort(child);
      const client = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
      const stop = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      };
      return { client, stop };
    };
    let server = await start();
    try {
      const admin = server.client.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'hourly' }] });
      let topic = await describe(ConfigResourceTypes.TOPIC, 'hourly', server.client);
      // The value is the one in force; as in Kafka, no synonym is named log.retention.ms, so none is listed.
      assert.deepEqual(topic.get('retention.ms'), {
        value: '3600000',
        source: DEFAULT_CONFIG,
        readOnly: false,
        synonyms: [],
      });
      const own = await describe(ConfigResourceTypes.BROKER, '0', server.client);
      assert.deepEqual(own.get('log.retention.hours')?.synonyms, [
        ['log.retention.hours', '1', STATIC_BROKER_CONFIG],
        ['log.retention.hours', '168', DEFAULT_CONFIG],
      ]);
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.BROKER,
            name: '0',
            configEntries: [{ name: 'log.retention.ms', value: '120000' }],
          },
        ],
      });
      await admin.disconnect();
      const expected = {
        value: '120000',
        source: DYNAMIC_BROKER_CONFIG,
        readOnly: false,
        synonyms: [
          ['log.retention.ms', '120000', DYNAMIC_BROKER_CONFIG],
          ['log.retention.hours', '1', STATIC_BROKER_CONFIG],
          ['log.retention.hours', '168', DEFAULT_CONFIG],
        ],
      };
      topic = await describe(ConfigResourceTypes.TOPIC, 'hourly', server.client);
      assert.deepEqual(topic.get('retention.ms'), expected);
      await server.stop();
      server = await start();
      topic = await describe(ConfigResourceTypes.TOPIC, 'hourly', server.client);
      assert.deepEqual(topic.get('retention.ms'), expected, 'kept across the restart');
    } finally {
      await server.stop();
    }
  }));

test('dynamic log.retention.bytes trims a topic without a retention override at the next retention check', async () => {
  const b = await startBroker({ logRetentionCheckIntervalMs: 100 });
  try {
    const client = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: 'trimmed', configEntries: [{ name: 'segment.bytes', value: '2000' }] }],
    });
    const producer = client.producer();
    await producer.connect();
    for (let i = 0; i < 30; i++)
      await producer.send({ topic: 'trimmed', messages: [{ value: `record ${i} `.repeat(20) }] });
    await producer.disconnect();
    const r = await incremental(
      '',
      [{ name: 'log.retention.bytes', configOperation: SET, value: '2000' }],
      false,
      b.port,
    );
    assert.equal(r.errorCode, ErrorCode.NONE);
    // (60 s: a bound on a hang, not on the retention's promptness.)
    let low = '0';
    for (let waited = 0; waited < 60_000 && low === '0'; waited += 100) {
      await sleep(100);
      low = (await admin.fetchTopicOffsets('trimmed'))[0]!.low;
    }
    assert.ok(Number(low) > 0, `the earliest offset moved (now ${low})`);
    await admin.disconnect();
  } finally {
    await b.stop();
  }
});
