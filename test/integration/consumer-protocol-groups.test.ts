import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { after, before, test } from 'node:test';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { type Broker, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { fetchesEnded, produceSpread } from './group-helpers.js';
import { RawClient } from './raw-client.js';

/**
 * KIP-848 consumer groups with a real client: @platformatic/kafka with `groupProtocol: 'consumer'` (the other
 * clients available here, KafkaJS, kafka-python 2.0 and librdkafka 2.0, do not speak the protocol).
 */

const PARTITIONS = 6;
const MEMBERS = 3;
const RECORDS = 60;
const TOPIC = 'shared-kip848';
const GROUP = 'g-kip848';

let broker: Broker;

before(async () => {
  broker = await startBroker({
    groups: { offsetsTopicNumPartitions: 4, consumerHeartbeatIntervalMs: 200, consumerSessionTimeoutMs: 10_000 },
  });
});

after(async () => {
  await broker.stop();
});

/** Each member's partitions of the topic, by member id, when the group is Stable; null otherwise. */
async function stableAssignment(groupId: string): Promise<Map<string, number[]> | null> {
  const c = await RawClient.connect(broker.port);
  try {
    const r = await c.request(apis.ConsumerGroupDescribe, 0, {
      groupIds: [groupId],
      includeAuthorizedOperations: false,
    });
    const g = r.groups[0]!;
    if (g.errorCode !== 0 || g.groupState !== 'Stable') return null;
    return new Map(
      g.members.map((m) => [
        m.memberId,
        m.assignment.topicPartitions.flatMap((t) => t.partitions).sort((a, b) => a - b),
      ]),
    );
  } finally {
    c.close();
  }
}

/** Waits until the group is Stable with `members` members holding every partition once, evenly. */
async function waitForBalance(members: number): Promise<Map<string, number[]>> {
  const deadline = Date.now() + 60_000;
  let last: Map<string, number[]> | null = null;
  while (Date.now() < deadline) {
    last = await stableAssignment(GROUP);
    const held = last ? [...last.values()].flat() : [];
    if (
      last &&
      last.size === members &&
      held.length === PARTITIONS &&
      new Set(held).size === PARTITIONS &&
      [...last.values()].every((ps) => ps.length === PARTITIONS / members)
    )
      return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`group did not balance over ${members} members: ${JSON.stringify(last && [...last])}`);
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(condition(), what);
}

test('@platformatic/kafka, KIP-848 protocol: three members share six partitions, then two take over', async () => {
  const admin = await RawClient.connect(broker.port);
  const created = await admin.request(apis.CreateTopics, 7, {
    topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  admin.close();
  assert.equal(created.topics[0]!.errorCode, 0);

  const records: Array<Array<[number, string]>> = [[], [], []];
  const consumers: Array<Consumer<string, string, string, string>> = [];
  const streams: Array<EventEmitter & { close(): Promise<void> }> = [];
  // With this protocol the client's close() leaves the group but does not end the member's streams.
  const closeMember = async (i: number) => {
    await streams[i]!.close().catch(() => {});
    await consumers[i]!.close().catch(() => {});
  };
  const memberIds: string[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) {
      const c = new Consumer({
        groupId: GROUP,
        groupProtocol: 'consumer',
        clientId: `kip848-member-${i}`,
        bootstrapBrokers: [broker.bootstrap],
        deserializers: stringDeserializers,
      });
      const stream = await c.consume({ topics: [TOPIC], mode: 'earliest', autocommit: true, maxWaitTime: 200 });
      stream.on('data', (m) => {
        records[i]!.push([m.partition, m.value]);
      });
      consumers.push(c);
      streams.push(stream);
      memberIds.push(c.memberId!);
    }
    const balanced = await waitForBalance(MEMBERS);
    assert.deepEqual(new Set(balanced.keys()), new Set(memberIds));
    for (const ps of balanced.values()) assert.equal(ps.length, 2);
    // Each client also holds what the broker says it holds.
    await waitFor(
      () =>
        consumers.every(
          (c) =>
            JSON.stringify((c.assignments ?? []).flatMap((a) => a.partitions).sort()) ===
            JSON.stringify(balanced.get(c.memberId!)),
        ),
      'the clients hold the assignment the broker describes',
    );

    // The client keeps a fetch of its earlier assignment in flight for a moment after it changes (the first member
    // held all six partitions): once one has ended on every member, what each member reads is what it owns now.
    await fetchesEnded(streams);
    await produceSpread(broker.bootstrap, TOPIC, RECORDS, PARTITIONS);
    await waitFor(() => new Set(records.flat().map((r) => r[1])).size >= RECORDS, 'every record is read');
    const values = records.flat().map((r) => r[1]);
    assert.equal(values.length, RECORDS, 'no record read twice');
    assert.deepEqual(new Set(values), new Set(Array.from({ length: RECORDS }, (_, i) => `v${i}`)));
    records.forEach((mine, i) => {
      const own = balanced.get(memberIds[i]!)!;
      for (const [partition] of mine) assert.ok(own.includes(partition), `member ${i} read only what it owns`);
    });

    // One member closes (it leaves the group): the other two share its partitions, three each.
    await closeMember(2);
    const afterLeave = await waitForBalance(MEMBERS - 1);
    assert.deepEqual(new Set(afterLeave.keys()), new Set(memberIds.slice(0, 2)));
    for (const p of balanced.get(memberIds[2]!)!)
      assert.ok(
        [...afterLeave.values()].some((ps) => ps.includes(p)),
        `partition ${p} of the member that left has a new owner`,
      );

    // Records produced now are all read by the remaining two. (Records of the partitions that changed hands may
    // be read again from the last commit: at least once, as in Kafka.)
    const later = () =>
      new Set([...records[0]!, ...records[1]!].map((r) => r[1]).filter((v) => Number(v.slice(1)) >= RECORDS));
    await produceSpread(broker.bootstrap, TOPIC, RECORDS, PARTITIONS, RECORDS);
    await waitFor(() => later().size >= RECORDS, 'the rest is read');
    assert.deepEqual(later(), new Set(Array.from({ length: RECORDS }, (_, i) => `v${RECORDS + i}`)));
  } finally {
    for (let i = 0; i < consumers.length; i++) await closeMember(i);
  }
});
