import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Consumer as PlatformaticConsumer, stringDeserializers } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { type Broker, startBroker } from '../../src/index.js';
import { createTopics, PYTHON } from './clients.js';
import { describeGroup, fetchesEnded, produceSpread, runPythonGroup, waitForBalancedGroup } from './group-helpers.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

const PARTITIONS = 6;
const MEMBERS = 3;
const RECORDS = 60;
/**
 * Short sessions where a killed member must be noticed quickly; the broker's minimum is lowered to allow them.
 * Node clients heartbeat between fetches, so their fetch wait must stay well below the session timeout.
 */
const SESSION_TIMEOUT_MS = 3000;
/**
 * The sessions of groups whose members all stay: KafkaJS's default, so that a stalled machine does not expire a
 * member, whose partitions would then move (and their uncommitted records be read twice) while the test reads.
 */
const STAYING_SESSION_TIMEOUT_MS = 30_000;
const FETCH_MAX_WAIT_MS = 200;
/** How long the members may take to read what was produced (a bound on a hang, not on their speed). */
const READ_WAIT_MS = 60_000;

let broker: Broker;
let kafka: InstanceType<typeof Kafka>;

before(async () => {
  broker = await startBroker({ groups: { minSessionTimeoutMs: 1000, offsetsTopicNumPartitions: 10 } });
  kafka = new Kafka({ clientId: 'groups-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
});

after(async () => {
  await broker.stop();
});

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  await createTopics(kafka, [{ topic, numPartitions }]);
}

/** Every member holds PARTITIONS / MEMBERS partitions, none twice, and every record was read exactly once. */
function assertShared(assignments: number[][], records: Array<Array<[number, number, string]>>): void {
  assert.equal(assignments.length, MEMBERS);
  for (const a of assignments) assert.equal(a.length, PARTITIONS / MEMBERS, JSON.stringify(assignments));
  assert.equal(new Set(assignments.flat()).size, PARTITIONS);
  const values = records.flat().map((r) => r[2]);
  assert.equal(values.length, RECORDS, 'no record read twice');
  assert.deepEqual(new Set(values), new Set(Array.from({ length: RECORDS }, (_, i) => `v${i}`)));
  records.forEach((mine, i) => {
    for (const [partition] of mine) assert.ok(assignments[i]!.includes(partition), 'read only what it owns');
  });
}

test('KafkaJS: three members of a group share six partitions, two each; every record is read once', async () => {
  await createTopic('shared-kafkajs', PARTITIONS);
  const records: Array<Array<[number, number, string]>> = [[], [], []];
  const consumers = [];
  for (let i = 0; i < MEMBERS; i++) {
    const c = kafka.consumer({
      groupId: 'g-kafkajs',
      sessionTimeout: STAYING_SESSION_TIMEOUT_MS,
      heartbeatInterval: 300,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    });
    await c.connect();
    await c.subscribe({ topic: 'shared-kafkajs', fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        records[i]!.push([partition, Number(message.offset), message.value!.toString()]);
      },
    });
    consumers.push(c);
  }
  try {
    const view = await waitForBalancedGroup(broker.port, 'g-kafkajs', MEMBERS, PARTITIONS);
    await produceSpread(broker.bootstrap, 'shared-kafkajs', RECORDS, PARTITIONS);
    const deadline = Date.now() + READ_WAIT_MS;
    while (records.flat().length < RECORDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const assignments = records.map((mine) => [...new Set(mine.map((r) => r[0]))].sort());
    assertShared(assignments, records);
    assert.deepEqual(
      [...view.members.values()].map((p) => p.join()).sort(),
      assignments.map((p) => p.join()).sort(),
      'what each read is what the broker says it owns',
    );
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect()));
  }
});

test('@platformatic/kafka: three members of a group share six partitions, two each', async () => {
  await createTopic('shared-platformatic', PARTITIONS);
  const records: Array<Array<[number, number, string]>> = [[], [], []];
  const consumers: Array<PlatformaticConsumer<string, string, string, string>> = [];
  const streams: EventEmitter[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const c = new PlatformaticConsumer({
      groupId: 'g-platformatic',
      clientId: `member-${i}`,
      bootstrapBrokers: [broker.bootstrap],
      deserializers: stringDeserializers,
      sessionTimeout: STAYING_SESSION_TIMEOUT_MS,
      heartbeatInterval: 300,
    });
    const stream = await c.consume({
      topics: ['shared-platformatic'],
      mode: 'earliest',
      autocommit: true,
      maxWaitTime: FETCH_MAX_WAIT_MS,
    });
    stream.on('data', (m) => {
      records[i]!.push([m.partition, Number(m.offset), m.value]);
    });
    consumers.push(c);
    streams.push(stream);
  }
  try {
    const view = await waitForBalancedGroup(broker.port, 'g-platformatic', MEMBERS, PARTITIONS);
    // The group is Stable once its leader has synced: each member holds its part only once its own SyncGroup is
    // answered.
    const held = () =>
      consumers.every(
        (c) =>
          JSON.stringify((c.assignments ?? []).flatMap((a) => a.partitions).sort((a, b) => a - b)) ===
          JSON.stringify(view.members.get(c.memberId!)),
      );
    const deadline = Date.now() + READ_WAIT_MS;
    while (!held() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(held(), 'the clients hold the assignment the broker describes');
    // This client keeps a fetch of the previous generation in flight for a moment after a rebalance: once one has
    // ended on every member, what each member reads is what it owns now.
    await fetchesEnded(streams);
    await produceSpread(broker.bootstrap, 'shared-platformatic', RECORDS, PARTITIONS);
    const readDeadline = Date.now() + READ_WAIT_MS;
    while (records.flat().length < RECORDS && Date.now() < readDeadline) await new Promise((r) => setTimeout(r, 100));
    const assignments = records.map((mine) => [...new Set(mine.map((r) => r[0]))].sort());
    assertShared(assignments, records);
    assert.deepEqual([...view.members.values()].map((p) => p.join()).sort(), assignments.map((p) => p.join()).sort());
  } finally {
    await Promise.all(consumers.map((c) => c.close(true)));
  }
});

for (const library of ['kafka-python', 'confluent'] as const) {
  test(`${library}: three members of a group share six partitions, two each; every record is read once`, async () => {
    const topic = `shared-${library}`;
    await createTopic(topic, PARTITIONS);
    const result = await runPythonGroup(
      library,
      {
        bootstrap: broker.bootstrap,
        topic,
        group: `g-${library}`,
        members: MEMBERS,
        partitions: PARTITIONS,
        expected: RECORDS,
      },
      () => produceSpread(broker.bootstrap, topic, RECORDS, PARTITIONS),
    );
    assertShared(result.assignments, result.records);
  });
}

/** A kafka-python member in its own process that commits after every record and prints what it read. */
const COMMITTING_MEMBER = `
import json, sys
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
c = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3], auto_offset_reset='earliest',
                  enable_auto_commit=False, session_timeout_ms=${SESSION_TIMEOUT_MS}, heartbeat_interval_ms=300)
while True:
    for tp, msgs in c.poll(timeout_ms=100).items():
        for m in msgs:
            c.commit({tp: OffsetAndMetadata(m.offset + 1, '')})
            print(json.dumps([m.partition, m.offset, m.value.decode()]), flush=True)
`;

/** Runs a committing member in its own process and collects what it reads. */
function startMember(topic: string, group: string) {
  const child = spawn(PYTHON, ['-c', COMMITTING_MEMBER, broker.bootstrap, topic, group]);
  const read: Array<[number, number, string]> = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('[')) read.push(JSON.parse(line));
  });
  return { child, read };
}

test('a member killed without leaving: after its session timeout the others take its partitions from the last commits', async () => {
  const topic = 'failover';
  const group = 'g-failover';
  await createTopic(topic, 4);
  // Both members use the same client: members of one group must share an assignment protocol.
  const victim = startMember(topic, group);
  const survivor = startMember(topic, group);
  try {
    const shared = await waitForBalancedGroup(broker.port, group, 2, 4);
    assert.ok([...shared.members.values()].every((p) => p.length === 2));
    await produceSpread(broker.bootstrap, topic, 40, 4);
    const deadline = Date.now() + READ_WAIT_MS;
    while (victim.read.length + survivor.read.length < 40 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(victim.read.length > 0, 'the victim read its share before dying');
    victim.child.kill('SIGKILL');
    await produceSpread(broker.bootstrap, topic, 40, 4, 40);
    // No LeaveGroup was sent: only the session timeout tells the coordinator.
    const after = await waitForBalancedGroup(broker.port, group, 1, 4);
    assert.deepEqual([...after.members.values()][0], [0, 1, 2, 3]);
    const end = Date.now() + READ_WAIT_MS;
    const all = () => new Set([...victim.read, ...survivor.read].map((r) => r[2]));
    while (all().size < 80 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(all().size, 80, 'nothing skipped');
    // The victim committed after every record, so the survivor re-reads at most the record in flight per partition.
    const victimValues = new Set(victim.read.map((r) => r[2]));
    const duplicates = survivor.read.filter((r) => victimValues.has(r[2]));
    assert.ok(duplicates.length <= 4, `duplicates beyond the uncommitted window: ${JSON.stringify(duplicates)}`);
  } finally {
    victim.child.kill('SIGKILL');
    survivor.child.kill('SIGKILL');
  }
});

test('a member joining later triggers a rebalance; one leaving cleanly triggers one at once', async () => {
  const topic = 'comings-and-goings';
  const group = 'g-comings';
  await createTopic(topic, 4);
  // Sessions far longer than the waits below (40 s, bounds on a hang that a loaded machine does not reach): only
  // LeaveGroup can explain a prompt rebalance.
  const options = {
    groupId: group,
    sessionTimeout: 120_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
  };
  const first = kafka.consumer(options);
  const second = kafka.consumer(options);
  try {
    for (const c of [first]) {
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({ eachMessage: async () => {} });
    }
    await waitForBalancedGroup(broker.port, group, 1, 4);
    await second.connect();
    await second.subscribe({ topic, fromBeginning: true });
    await second.run({ eachMessage: async () => {} });
    const two = await waitForBalancedGroup(broker.port, group, 2, 4, 40_000);
    assert.deepEqual(
      [...two.members.values()].map((p) => p.length),
      [2, 2],
    );
    await second.disconnect();
    const one = await waitForBalancedGroup(broker.port, group, 1, 4, 40_000);
    assert.deepEqual([...one.members.values()][0], [0, 1, 2, 3]);
  } finally {
    await first.disconnect();
    await second.disconnect();
  }
});

test('ListGroups, DescribeGroups and DeleteGroups through kafka-python and KafkaJS admin clients', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopic('admin-groups', 1);
    // A simple commit (no generation) creates an empty group with offsets.
    await admin.setOffsets({ groupId: 'g-admin', topic: 'admin-groups', partitions: [{ partition: 0, offset: '0' }] });
    const listed = await admin.listGroups();
    assert.ok(listed.groups.some((g) => g.groupId === 'g-admin'));
    const { stdout } = await run(
      PYTHON,
      [
        '-c',
        `
import json, sys
from kafka.admin import KafkaAdminClient
a = KafkaAdminClient(bootstrap_servers=sys.argv[1])
groups = [g[0] for g in a.list_consumer_groups()]
described = a.describe_consumer_groups(['g-admin'])
offsets = a.list_consumer_group_offsets('g-admin')
print(json.dumps({'groups': groups, 'state': described[0].state,
                  'offsets': {f'{tp.topic}-{tp.partition}': o.offset for tp, o in offsets.items()}}))
`,
        broker.bootstrap,
      ],
      { timeout: 30_000 },
    );
    const python = JSON.parse(stdout) as { groups: string[]; state: string; offsets: Record<string, number> };
    assert.ok(python.groups.includes('g-admin'));
    assert.equal(python.state, 'Empty');
    assert.deepEqual(python.offsets, { 'admin-groups-0': 0 });

    await admin.deleteGroups(['g-admin']);
    const view = await describeGroup(broker.port, 'g-admin');
    assert.equal(view.state, 'Dead');
    const offsets = await admin.fetchOffsets({ groupId: 'g-admin', topics: ['admin-groups'] });
    assert.equal(offsets[0]!.partitions[0]!.offset, '-1', 'offsets went with the group');
    await assert.rejects(admin.deleteGroups(['g-admin']));
  } finally {
    await admin.disconnect();
  }
});
