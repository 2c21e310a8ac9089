import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis, type DescribeTopicPartitionsResponse, defaultFetchRequest } from '../../src/protocol/generated/index.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);

/** Kafka's ConfigSource codes as clients see them. */
const DYNAMIC_TOPIC_CONFIG = 1;
const DEFAULT_CONFIG = 5;
const TOPIC = 2;
const BROKER = 4;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'admin-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
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

async function topicConfigs(topic: string): Promise<Map<string, { value: string; source: number }>> {
  return withAdmin(async (admin) => {
    const described = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      includeSynonyms: false,
    });
    const entries = described.resources[0]!.configEntries;
    return new Map(entries.map((e) => [e.configName, { value: e.configValue, source: e.configSource }]));
  });
}

test('KafkaJS: topic configs given at creation are described as overrides, the others as defaults', async () => {
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [{ topic: 'configured', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }] }],
    }),
  );
  const configs = await topicConfigs('configured');
  assert.deepEqual(configs.get('retention.ms'), { value: '60000', source: DYNAMIC_TOPIC_CONFIG });
  assert.deepEqual(configs.get('max.message.bytes'), { value: '1048588', source: DEFAULT_CONFIG });
  assert.equal(configs.get('cleanup.policy')?.value, 'delete');
  assert.ok(configs.size >= 25, 'every Kafka topic config is described');
});

test('KafkaJS: an unknown or invalid topic config fails creation with INVALID_CONFIG', async () => {
  await withAdmin(async (admin) => {
    for (const entry of [
      { name: 'no.such.config', value: '1' },
      { name: 'retention.ms', value: 'soon' },
      { name: 'cleanup.policy', value: 'delete,shred' },
    ]) {
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: 'badly-configured', configEntries: [entry] }] }),
        (e: Error & { errors?: Array<{ type: string }> }) => e.errors?.[0]?.type === 'INVALID_CONFIG',
        entry.name,
      );
    }
    assert.ok(!(await admin.listTopics()).includes('badly-configured'));
  });
});

test('KafkaJS: AlterConfigs replaces the overrides; validate-only changes nothing', async () => {
  await withAdmin(async (admin) => {
    await admin.createTopics({
      topics: [{ topic: 'altered', configEntries: [{ name: 'retention.ms', value: '60000' }] }],
    });
    const resources = [
      {
        type: ConfigResourceTypes.TOPIC,
        name: 'altered',
        configEntries: [{ name: 'segment.bytes', value: '1048576' }],
      },
    ];
    await admin.alterConfigs({ validateOnly: true, resources });
    assert.equal((await topicConfigs('altered')).get('segment.bytes')?.source, DEFAULT_CONFIG);
    await admin.alterConfigs({ validateOnly: false, resources });
    const after = await topicConfigs('altered');
    assert.deepEqual(after.get('segment.bytes'), { value: '1048576', source: DYNAMIC_TOPIC_CONFIG });
    assert.equal(after.get('retention.ms')?.source, DEFAULT_CONFIG, 'left-out configs return to their default');
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: 'altered', configEntries: [{ name: 'segment.ms', value: '0' }] },
        ],
      }),
      (e: Error & { type?: string }) => e.type === 'INVALID_CONFIG',
    );
  });
});

test('KafkaJS: CreatePartitions grows a topic, never shrinks it; the new partitions take records', async () => {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 2 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 4 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: ['growing'] });
    assert.deepEqual(metadata.topics[0]!.partitions.map((p) => p.partitionId).sort(), [0, 1, 2, 3]);
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 3 }] }),
      (e: Error & { type?: string }) => e.type === 'INVALID_PARTITIONS',
    );
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'nowhere', count: 3 }] }));
  });
  const producer = kafka.producer();
  await producer.connect();
  const [result] = await producer.send({ topic: 'growing', messages: [{ value: 'x', partition: 3 }] });
  await producer.disconnect();
  assert.equal(result!.errorCode, 0);
  assert.equal(result!.baseOffset, '0');
});

test('KafkaJS: DeleteRecords moves the log start offset; fetching below it is out of range', async () => {
  const producer = kafka.producer();
  await producer.connect();
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic: 'trimmed' }] }));
  await producer.send({ topic: 'trimmed', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) });
  await producer.disconnect();
  await withAdmin(async (admin) => {
    // KafkaJS's deleteTopicRecords needs the topic's metadata already loaded.
    await admin.fetchTopicMetadata({ topics: ['trimmed'] });
    await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '6' }] });
    const offsets = await admin.fetchTopicOffsets('trimmed');
    assert.equal(offsets[0]!.low, '6');
    assert.equal(offsets[0]!.high, '10');
    await assert.rejects(
      admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '11' }] }),
      (e: Error & { cause?: { partitions?: Array<{ error: { type: string } }> } }) =>
        e.cause?.partitions?.[0]?.error.type === 'OFFSET_OUT_OF_RANGE',
    );
  });
  const client = await RawClient.connect(broker.port);
  try {
    const fetch = await client.request(apis.Fetch, 4, {
      ...defaultFetchRequest(),
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [
        {
          topic: 'trimmed',
          topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: 3n,
              lastFetchedEpoch: -1,
              logStartOffset: -1n,
              partitionMaxBytes: 1 << 20,
              replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
            },
          ],
        },
      ],
    });
    assert.equal(fetch.responses[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  } finally {
    client.close();
  }
});

test('KafkaJS: DescribeCluster names this broker as the only broker and the controller', async () => {
  const cluster = await withAdmin((admin) => admin.describeCluster());
  assert.equal(cluster.clusterId, broker.clusterId);
  assert.equal(cluster.controller, 0);
  assert.deepEqual(cluster.brokers, [{ nodeId: 0, host: '127.0.0.1', port: broker.port }]);
});

test('IncrementalAlterConfigs: SET, APPEND, SUBTRACT and DELETE on overrides; bad operations refused', async () => {
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic: 'incremental' }] }));
  const client = await RawClient.connect(broker.port);
  const alter = (configs: Array<{ name: string; configOperation: number; value: string | null }>) =>
    client.request(apis.IncrementalAlterConfigs, 1, {
      resources: [{ resourceType: TOPIC, resourceName: 'incremental', configs }],
      validateOnly: false,
    });
  try {
    let r = await alter([
      { name: 'retention.ms', configOperation: 0, value: '1000' },
      { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
    ]);
    assert.equal(r.responses[0]!.errorCode, ErrorCode.NONE, r.responses[0]!.errorMessage ?? '');
    let configs = await topicConfigs('incremental');
    assert.equal(configs.get('retention.ms')?.value, '1000');
    assert.equal(configs.get('cleanup.policy')?.value, 'delete,compact');

    r = await alter([
      { name: 'cleanup.policy', configOperation: 3, value: 'delete' },
      { name: 'retention.ms', configOperation: 1, value: null },
    ]);
    assert.equal(r.responses[0]!.errorCode, ErrorCode.NONE);
    configs = await topicConfigs('incremental');
    assert.equal(configs.get('cleanup.policy')?.value, 'compact');
    assert.equal(configs.get('retention.ms')?.source, DEFAULT_CONFIG);

    r = await alter([{ name: 'retention.ms', configOperation: 2, value: '5' }]);
    assert.equal(r.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    r = await alter([{ name: 'min.insync.replicas', configOperation: 0, value: '0' }]);
    assert.equal(r.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(r.responses[0]!.errorMessage ?? '', /at least 1/);

    const other = await client.request(apis.IncrementalAlterConfigs, 1, {
      resources: [
        { resourceType: TOPIC, resourceName: 'missing-topic', configs: [] },
        {
          resourceType: BROKER,
          resourceName: '0',
          configs: [{ name: 'num.partitions', configOperation: 0, value: '3' }],
        },
      ],
      validateOnly: false,
    });
    // num.partitions is not a dynamic broker config: Kafka answers INVALID_REQUEST (KAFKA-13609).
    assert.deepEqual(
      other.responses.map((x) => x.errorCode),
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REQUEST],
    );
    assert.equal(other.responses[1]!.errorMessage, 'Cannot update these configs dynamically: [num.partitions]');
  } finally {
    client.close();
  }
});

test('a changed segment.bytes applies to the existing log: the next appends roll new segments', async () => {
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic: 'resegmented' }] }));
  const producer = kafka.producer();
  await producer.connect();
  const value = 'x'.repeat(2000);
  await producer.send({ topic: 'resegmented', messages: [{ value }] });
  await withAdmin((admin) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'resegmented',
          configEntries: [{ name: 'segment.bytes', value: '4096' }],
        },
      ],
    }),
  );
  for (let i = 0; i < 6; i++) await producer.send({ topic: 'resegmented', messages: [{ value }] });
  await producer.disconnect();
  const files = await readdir(join(broker.settings.logDirs[0]!, 'resegmented-0'));
  assert.ok(files.filter((f) => f.endsWith('.log')).length >= 3, files.join(' '));
});

test('DescribeTopicPartitions pages through partitions with a cursor; DescribeLogDirs reports sizes', async () => {
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [
        { topic: 'paged-a', numPartitions: 3 },
        { topic: 'paged-b', numPartitions: 2 },
      ],
    }),
  );
  const client = await RawClient.connect(broker.port);
  try {
    const seen: string[] = [];
    let cursor: { topicName: string; partitionIndex: number } | null = null;
    for (let page = 0; page < 10; page++) {
      const r: DescribeTopicPartitionsResponse = await client.request(apis.DescribeTopicPartitions, 0, {
        topics: [{ name: 'paged-b' }, { name: 'paged-a' }, { name: 'paged-missing' }],
        responsePartitionLimit: 2,
        cursor,
      });
      for (const t of r.topics) {
        if (t.errorCode !== ErrorCode.NONE) seen.push(`${t.name}:${t.errorCode}`);
        for (const p of t.partitions) seen.push(`${t.name}-${p.partitionIndex}`);
      }
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, [
      'paged-a-0',
      'paged-a-1',
      'paged-a-2',
      'paged-b-0',
      'paged-b-1',
      `paged-missing:${ErrorCode.UNKNOWN_TOPIC_OR_PARTITION}`,
    ]);

    const dirs = await client.request(apis.DescribeLogDirs, 4, { topics: [{ topic: 'trimmed', partitions: [0] }] });
    assert.equal(dirs.results.length, 1);
    const dir = dirs.results[0]!;
    assert.equal(dir.logDir, broker.settings.logDirs[0]);
    assert.ok(dir.totalBytes > 0n && dir.usableBytes > 0n);
    assert.equal(dir.topics.length, 1);
    assert.ok(dir.topics[0]!.partitions[0]!.partitionSize > 0n);

    const controllers = await client.request(apis.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 2,
    });
    assert.equal(controllers.errorCode, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);
  } finally {
    client.close();
  }
});

test('kafka-python and confluent-kafka: describe and alter topic configs, describe broker configs, add partitions', async () => {
  const script = `
import sys, json
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType, NewTopic, NewPartitions
from confluent_kafka.admin import AdminClient, ConfigResource as CConfigResource, NewPartitions as CNewPartitions
bootstrap = sys.argv[1]
out = {}
a = KafkaAdminClient(bootstrap_servers=bootstrap)
a.create_topics([NewTopic('py-configured', 1, 1, topic_configs={'retention.bytes': '123456'})])
r = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'py-configured')])
entries = {e[0]: e[1] for e in r[0].resources[0][4]}
out['kp_retention_bytes'] = entries['retention.bytes']
a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, 'py-configured', configs={'retention.bytes': '654321'})])
a.create_partitions({'py-configured': NewPartitions(3)})
a.close()
c = AdminClient({'bootstrap.servers': bootstrap})
res = c.describe_configs([CConfigResource('topic', 'py-configured'), CConfigResource('broker', '0')])
for resource, f in res.items():
    configs = f.result(timeout=10)
    if resource.restype == CConfigResource.Type.TOPIC:
        out['ck_retention_bytes'] = configs['retention.bytes'].value
        out['ck_retention_bytes_source'] = configs['retention.bytes'].source
    else:
        out['ck_broker_num_partitions'] = configs['num.partitions'].value
        out['ck_broker_read_only'] = configs['num.partitions'].is_read_only
for t, f in c.create_partitions([CNewPartitions('py-configured', 5)]).items():
    f.result(timeout=10)
md = c.list_topics(timeout=10)
out['partitions'] = len(md.topics['py-configured'].partitions)
print(json.dumps(out))
`;
  const { stdout } = await run(PYTHON, ['-c', script, broker.bootstrap], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout), {
    kp_retention_bytes: '123456',
    ck_retention_bytes: '654321',
    ck_retention_bytes_source: DYNAMIC_TOPIC_CONFIG,
    ck_broker_num_partitions: '1',
    ck_broker_read_only: true,
    partitions: 5,
  });
});

test('a topic with compression.type stores batches in that codec, whatever the producer sent; readers get the same records', async () => {
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [{ topic: 'recompressed', configEntries: [{ name: 'compression.type', value: 'gzip' }] }],
    }),
  );
  const producer = kafka.producer();
  await producer.connect();
  const messages = Array.from({ length: 20 }, (_, i) => ({
    key: `k${i}`,
    value: `value ${i}`,
    headers: { h: `x${i}` },
  }));
  await producer.send({ topic: 'recompressed', acks: -1, messages });
  await producer.disconnect();
  const log = await readFile(join(broker.settings.logDirs[0]!, 'recompressed-0', '00000000000000000000.log'));
  const { batches } = readBatches(log);
  assert.ok(batches.length > 0);
  for (const b of batches) {
    assert.equal(b.compression, CompressionType.Gzip, 'stored in the topic codec');
    assert.equal(b.verifyCrc(), true);
  }
  const read = [...batches.flatMap((b) => [...b.records()])];
  assert.deepEqual(
    read.map((r) => [
      Number(r.offset),
      r.key?.toString(),
      r.value?.toString(),
      r.headers.map((h) => `${h.key}=${h.value?.toString()}`).join(),
    ]),
    messages.map((m, i) => [i, m.key, m.value, `h=${m.headers.h}`]),
  );
});
