import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { type Run, samsa } from './cli.js';
import { createTopics } from './clients.js';
import { produceSpread } from './group-helpers.js';
import { RawClient } from './raw-client.js';

const { Kafka, logLevel } = kafkajs;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker({ groups: { offsetsTopicNumPartitions: 5 } });
  kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

function tool(...args: string[]): Promise<Run> {
  return samsa(['consumer-groups', ...args]);
}

/** The rows of a --describe or --reset-offsets table, by column name. */
/** The topic the tests read with lag; one partition, so that "the next read" is one record. */
const LAGGING_PARTITIONS = 1;

function rows(table: string): Array<Record<string, string>> {
  const lines = table
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('Consumer group') && !l.startsWith('Error:'));
  const header = lines[0]!.split(/\s+/);
  return lines.slice(1).map((l) => Object.fromEntries(l.split(/\s+/).map((v, i) => [header[i]!, v])));
}

/** Consumes with a KafkaJS group member until `count` records were read and committed, then leaves. */
async function consume(group: string, topic: string, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 200 });
  const seen: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      for (const m of batch.messages) {
        if (seen.length >= count) break;
        seen.push(m.value!.toString());
        resolveOffset(m.offset);
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(m.offset) + 1) }]);
      }
      await commitOffsetsIfNecessary();
    },
  });
  // A bound on a hang: the member joins and fetches slowly on a loaded machine.
  const deadline = Date.now() + 60_000;
  while (seen.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await consumer.disconnect();
  return seen;
}

test('consumer-groups: --list, --describe shows lag after N produced and M consumed, --reset-offsets moves the next read', async () => {
  await createTopics(kafka, [{ topic: 'lagging', numPartitions: LAGGING_PARTITIONS }]);
  await produceSpread(broker.bootstrap, 'lagging', 10, LAGGING_PARTITIONS);
  const read = await consume('g-tool', 'lagging', 4);
  assert.deepEqual(read, ['v0', 'v1', 'v2', 'v3']);

  const list = await tool('--bootstrap-server', broker.bootstrap, '--list');
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.split('\n').includes('g-tool'));

  const described = await tool('--bootstrap-server', broker.bootstrap, '--describe', '--group', 'g-tool');
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stderr, /^\nConsumer group 'g-tool' has no active members\.\n$/);
  assert.deepEqual(rows(described.stdout), [
    {
      GROUP: 'g-tool',
      TOPIC: 'lagging',
      PARTITION: '0',
      'CURRENT-OFFSET': '4',
      'LOG-END-OFFSET': '10',
      LAG: '6',
      'CONSUMER-ID': '-',
      HOST: '-',
      'CLIENT-ID': '-',
    },
  ]);

  const dry = await tool(
    '--bootstrap-server',
    broker.bootstrap,
    '--reset-offsets',
    '--group',
    'g-tool',
    '--topic',
    'lagging',
    '--shift-by',
    '-2',
  );
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(rows(dry.stdout)[0]!['NEW-OFFSET'], '2');
  const unchanged = await tool('--bootstrap-server', broker.bootstrap, '--describe', '--group', 'g-tool');
  assert.equal(rows(unchanged.stdout)[0]!['CURRENT-OFFSET'], '4', 'a dry run changes nothing');

  const executed = await tool(
    '--bootstrap-server',
    broker.bootstrap,
    '--reset-offsets',
    '--group',
    'g-tool',
    '--topic',
    'lagging',
    '--to-offset',
    '7',
    '--execute',
  );
  assert.equal(executed.code, 0, executed.stderr);
  assert.deepEqual(
    await consume('g-tool', 'lagging', 3),
    ['v7', 'v8', 'v9'],
    'the consumer resumes where the reset put it',
  );

  const earliest = await tool(
    '--bootstrap-server',
    broker.bootstrap,
    '--reset-offsets',
    '--group',
    'g-tool',
    '--all-topics',
    '--to-earliest',
    '--execute',
  );
  assert.equal(rows(earliest.stdout)[0]!['NEW-OFFSET'], '0');
  assert.deepEqual(await consume('g-tool', 'lagging', 1), ['v0']);

  const deleted = await tool('--bootstrap-server', broker.bootstrap, '--delete', '--group', 'g-tool');
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /'g-tool'.*successful/);
  const gone = await tool('--bootstrap-server', broker.bootstrap, '--list');
  assert.ok(!gone.stdout.split('\n').includes('g-tool'));
});

test('consumer-groups: a reset of an active group is refused; bad usage and an unreachable broker say so in one line', async () => {
  const consumer = kafka.consumer({ groupId: 'g-active', maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'lagging', fromBeginning: true });
  await consumer.run({ eachMessage: async () => {} });
  try {
    const deadline = Date.now() + 60_000;
    let described = await tool('--bootstrap-server', broker.bootstrap, '--describe', '--group', 'g-active');
    while (!/kafkajs/.test(described.stdout) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      described = await tool('--bootstrap-server', broker.bootstrap, '--describe', '--group', 'g-active');
    }
    assert.equal(rows(described.stdout)[0]!['CLIENT-ID'], 'kafkajs', 'the owner is shown');
    const members = await tool(
      '--bootstrap-server',
      broker.bootstrap,
      '--describe',
      '--group',
      'g-active',
      '--members',
      '--verbose',
    );
    assert.equal(members.code, 0, members.stderr);
    const [member, ...others] = rows(members.stdout);
    assert.equal(others.length, 0, 'one member');
    assert.equal(member!['CLIENT-ID'], 'kafkajs');
    assert.equal(member!['#PARTITIONS'], String(LAGGING_PARTITIONS));
    assert.equal(member!.ASSIGNMENT, `lagging(${Array.from({ length: LAGGING_PARTITIONS }, (_, i) => i).join(',')})`);
    const refused = await tool(
      '--bootstrap-server',
      broker.bootstrap,
      '--reset-offsets',
      '--group',
      'g-active',
      '--topic',
      'lagging',
      '--to-earliest',
      '--execute',
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /can only be reset if the group 'g-active' is inactive/);
  } finally {
    await consumer.disconnect();
  }
  const usage = await tool('--bootstrap-server', broker.bootstrap, '--describe');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Option --describe takes one of these options: --all-groups, --group/);
  const badOffset = await tool(
    '--bootstrap-server',
    broker.bootstrap,
    '--reset-offsets',
    '--group',
    'g-unused',
    '--topic',
    'lagging',
    '--to-offset',
    '12x',
    '--dry-run',
  );
  assert.equal(badOffset.code, 2);
  assert.match(badOffset.stderr, /--to-offset must be an integer, not '12x'/);
  const unreachable = await tool('--bootstrap-server', '127.0.0.1:1', '--list');
  assert.equal(unreachable.code, 1);
  assert.match(
    unreachable.stderr,
    /^samsa consumer-groups: cannot reach a broker at 127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\)\n$/,
  );
});

test('consumer-groups: --describe and --reset-offsets know KIP-848 consumer groups', async () => {
  const c = await RawClient.connect(broker.port);
  try {
    const created = await c.request(apis.CreateTopics, 7, {
      topics: [{ name: 'kip848-tool', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    assert.equal(created.topics[0]!.errorCode, 0);
    await produceSpread(broker.bootstrap, 'kip848-tool', 10, 1);
    await c.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['g-kip848-tool'] });
    const joined = await c.request(apis.ConsumerGroupHeartbeat, 0, {
      groupId: 'g-kip848-tool',
      memberId: '',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: ['kip848-tool'],
      serverAssignor: null,
      topicPartitions: [],
    });
    assert.equal(joined.errorCode, 0);
    const commit = await c.request(apis.OffsetCommit, 9, {
      groupId: 'g-kip848-tool',
      generationIdOrMemberEpoch: joined.memberEpoch,
      memberId: joined.memberId!,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: 'kip848-tool',
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: 4n,
              committedLeaderEpoch: -1,
              commitTimestamp: -1n,
              committedMetadata: '',
            },
          ],
        },
      ],
    });
    assert.equal(commit.topics[0]!.partitions[0]!.errorCode, 0);

    const described = await tool('--bootstrap-server', broker.bootstrap, '--describe', '--group', 'g-kip848-tool');
    assert.equal(described.code, 0, described.stderr);
    assert.deepEqual(rows(described.stdout), [
      {
        GROUP: 'g-kip848-tool',
        TOPIC: 'kip848-tool',
        PARTITION: '0',
        'CURRENT-OFFSET': '4',
        'LOG-END-OFFSET': '10',
        LAG: '6',
        'CONSUMER-ID': joined.memberId!,
        HOST: '/127.0.0.1',
        'CLIENT-ID': 'raw-test',
      },
    ]);
    const refused = await tool(
      '--bootstrap-server',
      broker.bootstrap,
      '--reset-offsets',
      '--group',
      'g-kip848-tool',
      '--topic',
      'kip848-tool',
      '--to-earliest',
      '--execute',
    );
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /can only be reset if the group 'g-kip848-tool' is inactive, but the current state is Stable\./,
    );
  } finally {
    c.close();
  }
});
