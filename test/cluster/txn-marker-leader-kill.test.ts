import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { fastTempRoot, readPartition } from '../chaos/harness.js';
import {
  type ClusterBroker,
  coordinatorOf,
  eventually,
  kafkaFor,
  partitionStates,
  RawClient,
  startCluster,
  stopCluster,
  waitAllInSync,
} from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';

// The leader of a transaction's data partition dies (kill -9) around EndTxn while its coordinator, on another
// broker, lives: the coordinator's markers to the dead leader fail, are sent again to the partition's leader of
// the moment, and land once the controller has elected one from the ISR. Transactions then complete, and a
// read_committed consumer sees exactly the committed records. The time from the kill to the transaction being
// visible is reported (`node scripts/run-tests.mjs test/cluster/txn-marker-leader-kill.test.ts`).

const PARTITIONS = 3;
const TOPIC = 'txn-marker-kill';
/** A dead broker's partitions move this long after its last lease renewal (Kafka's default: 9 s). */
const SESSION_TIMEOUT_MS = 4000;
let etcd: EtcdServer;
let dir: string;
let brokers: ClusterBroker[] = [];
const live = () => brokers.filter((b) => b.process.running);

before(async () => {
  if (etcdUnavailable) return;
  etcd = await startEtcd();
  dir = await mkdtemp(join(await fastTempRoot(), 'samsa-txn-marker-kill-'));
  brokers = await startCluster(etcd, dir, [1, 2, 3], {
    extra: {
      'auto.create.topics.enable': 'false',
      'min.insync.replicas': 2,
      'broker.session.timeout.ms': SESSION_TIMEOUT_MS,
      // replica.lag.time.max.ms stays Kafka's 30 s: a killed or stopped broker leaves the ISRs with its registration
      // (the controller's doing), and a shorter lag let followers that stalled with a loaded machine drop out too,
      // leaving acks=all writes and markers below min.insync.replicas.
      'offsets.topic.replication.factor': 3,
      'offsets.topic.num.partitions': 3,
      'transaction.state.log.replication.factor': 3,
      'transaction.state.log.min.isr': 2,
      'transaction.state.log.num.partitions': 3,
    },
  });
  const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  await waitAllInSync(live(), TOPIC, PARTITIONS);
});

after(async () => {
  if (etcdUnavailable) return;
  await stopCluster(brokers);
  await etcd.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** The values a read_committed reader gets from the partition's current leader. */
async function committedValues(partition: number): Promise<string[]> {
  const states = await partitionStates(live(), TOPIC, PARTITIONS);
  const leader = brokers.find((b) => b.nodeId === states.get(partition)!.leader)!;
  const client = await RawClient.connect(leader.port, { host: leader.host });
  try {
    const read = await readPartition(client, TOPIC, partition, 1);
    return read.records.map((r) => r.value ?? '');
  } finally {
    client.close();
  }
}

/** When the kill happens relative to the commit. */
type KillTiming = 'before EndTxn' | 'with EndTxn';

interface Round {
  commit: boolean;
  timing: KillTiming;
}

const ROUNDS: Round[] = [
  { commit: true, timing: 'before EndTxn' },
  { commit: true, timing: 'with EndTxn' },
  { commit: false, timing: 'before EndTxn' },
  { commit: true, timing: 'with EndTxn' },
  { commit: true, timing: 'before EndTxn' },
];

test("the leader of a transaction's data partition killed with -9 around EndTxn (the coordinator elsewhere): the " +
  'markers reach the new leader, the transaction completes, and read_committed readers see exactly the committed ' +
  'records', { skip: etcdUnavailable }, async (t) => {
  const kafka = kafkaFor(
    brokers.map((b) => b.bootstrap),
    'txn-marker-kill',
  );
  const expected: string[] = [];
  const aborted: string[] = [];
  const figures: string[] = [];
  for (const [round, { commit, timing }] of ROUNDS.entries()) {
    const transactionalId = `marker-kill-${round}`;
    const coordinatorId = await coordinatorOf(live, transactionalId, 1);
    const states = await partitionStates(live(), TOPIC, PARTITIONS);
    // The victim: a data partition's leader that is not the coordinator. The transaction also writes to a
    // partition the coordinator leads, if any, whose marker is written in-process.
    const target = [...states].find(([, s]) => s.leader !== coordinatorId);
    assert.ok(target, 'a partition led by another broker than the coordinator');
    const [victimPartition, { leader: victimId }] = target;
    const victim = brokers.find((b) => b.nodeId === victimId)!;
    const partitions = [...states.keys()];
    const values = partitions.flatMap((p) => [0, 1].map((i) => `r${round}-p${p}-${i}`));

    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
    });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({
      topic: TOPIC,
      acks: -1,
      messages: partitions.flatMap((p) => [0, 1].map((i) => ({ partition: p, value: `r${round}-p${p}-${i}` }))),
    });

    let killedAt: number;
    if (timing === 'before EndTxn') {
      killedAt = Date.now();
      await victim.process.kill();
      await (commit ? txn.commit() : txn.abort());
    } else {
      const ended = commit ? txn.commit() : txn.abort();
      killedAt = Date.now();
      await victim.process.kill();
      await ended;
    }
    // The transaction is visible (committed) or gone (aborted) on the partition's new leader once its marker is
    // written there: read_committed readers see its records past the last stable offset, or never.
    const mine = values.filter((v) => v.startsWith(`r${round}-p${victimPartition}-`));
    // When a live broker was first seen leading the partition (polled with the reads, every 100 ms or so).
    let electedAt = 0;
    await eventually(
      `round ${round}: the marker on partition ${victimPartition} once a new leader is elected`,
      async () => {
        const states = await partitionStates(live(), TOPIC, PARTITIONS);
        if (states.get(victimPartition)!.leader === victimId) return undefined;
        electedAt ||= Date.now();
        const leader = brokers.find((b) => b.nodeId === states.get(victimPartition)!.leader)!;
        const c = await RawClient.connect(leader.port, { host: leader.host });
        try {
          const committedRead = await readPartition(c, TOPIC, victimPartition, 1);
          const uncommittedRead = await readPartition(c, TOPIC, victimPartition, 0);
          // No transaction open any more: the last stable offset is the high watermark.
          if (committedRead.endOffset !== uncommittedRead.endOffset) return undefined;
          const seen = committedRead.records.map((r) => r.value ?? '');
          return mine.every((v) => seen.includes(v) === commit) ? true : undefined;
        } finally {
          c.close();
        }
      },
      60_000,
    );
    const settledAt = Date.now();
    const visibleMs = settledAt - killedAt;
    figures.push(
      `round ${round} (${commit ? 'commit' : 'abort'}, kill ${timing}): ${visibleMs} ms ` +
        `(new leader seen after ${electedAt - killedAt} ms)`,
    );
    t.diagnostic(
      `round ${round}: ${commit ? 'committed' : 'aborted'} transaction settled on partition ${victimPartition} ` +
        `${visibleMs} ms after its leader (broker ${victimId}) was killed ${timing}, ${settledAt - electedAt} ms ` +
        `after a new leader was first seen; coordinator broker ${coordinatorId}`,
    );
    (commit ? expected : aborted).push(...values);
    await producer.disconnect();
    await victim.restart();
    await waitAllInSync(live(), TOPIC, PARTITIONS);
  }

  // Every partition, on its leader: exactly the committed records, in the order written.
  for (let p = 0; p < PARTITIONS; p++) {
    const values = await committedValues(p);
    assert.deepEqual(
      values,
      expected.filter((v) => v.includes(`-p${p}-`)),
      `partition ${p} under read_committed`,
    );
  }
  // And through a consumer group (KafkaJS reads read_committed by default).
  const consumer = kafka.consumer({ groupId: 'txn-marker-kill-reader', sessionTimeout: 10_000 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const received: string[] = [];
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        received.push(message.value!.toString());
        if (received.length === expected.length) resolve();
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual([...received].sort(), [...expected].sort());
  for (const v of aborted) assert.ok(!received.includes(v), `aborted ${v} not read`);
  t.diagnostic(`kill to transaction visible: ${figures.join('; ')}`);
});

test("markers honour the topic's min.insync.replicas: with the ISR below it a marker is refused NOT_ENOUGH_REPLICAS " +
  'and sent again, the transaction stays prepared and invisible, and completes once the follower is back', {
  skip: etcdUnavailable,
}, async () => {
  const topic = 'txn-marker-min-isr';
  const kafka = kafkaFor(
    brokers.map((b) => b.bootstrap),
    'txn-marker-min-isr',
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '3' }] },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  await waitAllInSync(live(), topic, 1);
  const transactionalId = 'marker-min-isr';
  const coordinatorId = await coordinatorOf(live, transactionalId, 1);
  const leaderId = (await partitionStates(live(), topic, 1)).get(0)!.leader;
  // A follower to stop: not the coordinator when the coordinator is not the leader.
  const follower = brokers.find(
    (b) => b.nodeId !== leaderId && (b.nodeId !== coordinatorId || leaderId === coordinatorId),
  )!;
  const coordinator = brokers.find((b) => b.nodeId === coordinatorId)!;
  const leader = brokers.find((b) => b.nodeId === leaderId)!;

  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic, acks: -1, messages: [{ value: 'min-isr-0' }, { value: 'min-isr-1' }] });
  // A clean stop takes the follower out of the ISR at once (controlled shutdown): 2 in-sync replicas of 3 required.
  await follower.process.stop();
  await eventually('the ISR shrunk to two', async () => {
    const isr = (await partitionStates(live(), topic, 1)).get(0)!.isr;
    return isr.length === 2 ? true : undefined;
  });
  await txn.commit();
  await producer.disconnect();

  const describe = async () => {
    const c = await RawClient.connect(coordinator.port, { host: coordinator.host });
    try {
      const r = await c.request(apis.DescribeTransactions, 0, { transactionalIds: [transactionalId] });
      return r.transactionStates[0]!.transactionState;
    } finally {
      c.close();
    }
  };
  const readCommitted = async () => {
    const c = await RawClient.connect(leader.port, { host: leader.host });
    try {
      return (await readPartition(c, topic, 0, 1)).records.map((r) => r.value);
    } finally {
      c.close();
    }
  };
  // The coordinator sends the marker again and again (its log says so), and it is never acknowledged meanwhile.
  const retries = () =>
    coordinator.process.log
      .split('\n')
      .filter(
        (l) =>
          l.includes('transaction marker to be sent again') &&
          l.includes(`topic=${topic}`) &&
          l.includes('errorCode=19'),
      ).length;
  await eventually('the marker refused NOT_ENOUGH_REPLICAS three times', async () =>
    retries() >= 3 ? true : undefined,
  );
  assert.equal(await describe(), 'PrepareCommit');
  assert.deepEqual(await readCommitted(), [], 'nothing visible past the open transaction');

  await follower.restart();
  await waitAllInSync(live(), topic, 1);
  await eventually('the transaction complete', async () =>
    (await describe()) === 'CompleteCommit' ? true : undefined,
  );
  assert.deepEqual(await readCommitted(), ['min-isr-0', 'min-isr-1']);
});

test('a coordinator that hands its __transaction_state partition over while its markers are refused stops, and the ' +
  'new coordinator completes the transaction from its load once the partition takes markers again', {
  skip: etcdUnavailable,
}, async () => {
  const topic = 'txn-marker-move';
  const kafka = kafkaFor(
    brokers.map((b) => b.bootstrap),
    'txn-marker-move',
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: PARTITIONS,
          replicationFactor: 3,
          configEntries: [{ name: 'min.insync.replicas', value: '3' }],
        },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  await waitAllInSync(live(), topic, PARTITIONS);
  const transactionalId = 'marker-move';
  const coordinatorId = await coordinatorOf(live, transactionalId, 1);
  const states = await partitionStates(live(), topic, PARTITIONS);
  // Three different brokers: the coordinator, the data partition's leader, and a follower to stop.
  const [partition, { leader: leaderId }] = [...states].find(([, s]) => s.leader !== coordinatorId)!;
  const coordinator = brokers.find((b) => b.nodeId === coordinatorId)!;
  const leader = brokers.find((b) => b.nodeId === leaderId)!;
  const follower = brokers.find((b) => b.nodeId !== coordinatorId && b.nodeId !== leaderId)!;

  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({
    topic,
    acks: -1,
    messages: [
      { partition, value: 'moved-0' },
      { partition, value: 'moved-1' },
    ],
  });
  await follower.process.stop();
  await eventually('the ISR shrunk to two', async () =>
    (await partitionStates(live(), topic, PARTITIONS)).get(partition)!.isr.length === 2 ? true : undefined,
  );
  // The decision is written; the marker is refused (2 in-sync replicas of the 3 required) and sent again.
  await txn.commit();
  await producer.disconnect();
  const refused = (broker: ClusterBroker) =>
    broker.process.log
      .split('\n')
      .some(
        (l) =>
          l.includes('transaction marker to be sent again') &&
          l.includes(`topic=${topic}`) &&
          l.includes('errorCode=19'),
      );
  await eventually('the first coordinator sending the marker again', async () =>
    refused(coordinator) ? true : undefined,
  );

  // A clean stop hands its partitions over (controlled shutdown): the data partition's leader, the only broker
  // left, coordinates the transaction now, and finds it prepared when it loads the partition.
  await coordinator.process.stop();
  assert.equal(await coordinatorOf(live, transactionalId, 1), leaderId);
  const describe = async (broker: ClusterBroker) => {
    const c = await RawClient.connect(broker.port, { host: broker.host });
    try {
      const r = await c.request(apis.DescribeTransactions, 0, { transactionalIds: [transactionalId] });
      const state = r.transactionStates[0]!;
      return state.errorCode === ErrorCode.NONE ? state.transactionState : undefined;
    } finally {
      c.close();
    }
  };
  assert.equal(await eventually('the new coordinator loaded', () => describe(leader)), 'PrepareCommit');
  await eventually('the new coordinator sending the marker', async () => (refused(leader) ? true : undefined));

  await coordinator.restart();
  await follower.restart();
  await waitAllInSync(live(), topic, PARTITIONS);
  await eventually('the transaction complete', async () => {
    const coordinatorNow = await coordinatorOf(live, transactionalId, 1);
    return (await describe(brokers.find((b) => b.nodeId === coordinatorNow)!)) === 'CompleteCommit' ? true : undefined;
  });
  const dataLeader = (await partitionStates(live(), topic, PARTITIONS)).get(partition)!.leader;
  const current = brokers.find((b) => b.nodeId === dataLeader)!;
  const c = await RawClient.connect(current.port, { host: current.host });
  try {
    const read = await readPartition(c, topic, partition, 1);
    assert.deepEqual(
      read.records.map((r) => r.value),
      ['moved-0', 'moved-1'],
    );
  } finally {
    c.close();
  }
});
