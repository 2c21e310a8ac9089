import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { apis } from '../../src/protocol/generated/index.js';
import { fastTempRoot, readPartition } from '../chaos/harness.js';
import { samsa } from '../integration/cli.js';
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

// The coordinators' own partitions move with their leaders: a coordinator's broker killed with -9 hands its
// groups and transactions to the broker that becomes leader of their __consumer_offsets / __transaction_state
// partition, which rebuilds them by replaying that partition. These tests kill it at the worst moments.

const PARTITIONS = 3;
let etcd: EtcdServer;
let dir: string;
let brokers: ClusterBroker[] = [];
const live = () => brokers.filter((b) => b.process.running);

before(async () => {
  if (etcdUnavailable) return;
  etcd = await startEtcd();
  dir = await mkdtemp(join(await fastTempRoot(), 'samsa-coordinator-failover-'));
  brokers = await startCluster(etcd, dir, [1, 2, 3], {
    extra: {
      'auto.create.topics.enable': 'false',
      'min.insync.replicas': 2,
      // A dead broker's partitions move this long after its last lease renewal (Kafka's default: 9 s).
      'broker.session.timeout.ms': 4000,
      // replica.lag.time.max.ms stays Kafka's 30 s: a killed or stopped broker leaves the ISRs with its registration
      // (the controller's doing), and a shorter lag let followers that stalled with a loaded machine drop out too,
      // leaving acks=all writes and markers below min.insync.replicas.
      'offsets.topic.replication.factor': 3,
      'offsets.topic.num.partitions': 6,
      'transaction.state.log.replication.factor': 3,
      'transaction.state.log.min.isr': 2,
      'transaction.state.log.num.partitions': 6,
    },
  });
});

after(async () => {
  if (etcdUnavailable) return;
  await stopCluster(brokers);
  await etcd.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function createReplicatedTopic(topic: string): Promise<void> {
  const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  await waitAllInSync(live(), topic, PARTITIONS);
}

test("a group coordinator's broker killed with -9 during a rebalance: the group settles on the new coordinator " +
  'and resumes from the offsets committed before', { skip: etcdUnavailable }, async () => {
  const topic = 'group-failover';
  const groupId = 'failover-group';
  await createReplicatedTopic(topic);
  const kafka = kafkaFor(brokers.map((b) => b.bootstrap));
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 30 }, (_, i) => ({ partition: i % PARTITIONS, value: `before-${i}` })),
  });

  // A first member reads everything and commits: 10 per partition.
  const first = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  await first.connect();
  await first.subscribe({ topic, fromBeginning: true });
  let read = 0;
  await new Promise<void>((resolve) => {
    void first.run({
      eachMessage: async () => {
        if (++read === 30) resolve();
      },
    });
  });
  await first.commitOffsets(Array.from({ length: PARTITIONS }, (_, p) => ({ topic, partition: p, offset: '10' })));

  // A second member joins (the group rebalances) and the coordinator's broker dies meanwhile.
  const coordinatorId = await coordinatorOf(live, groupId, 0);
  const victim = brokers.find((b) => b.nodeId === coordinatorId)!;
  const second = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const afterKill: string[] = [];
  await second.connect();
  await second.subscribe({ topic, fromBeginning: true });
  const secondRunning = second.run({
    eachMessage: async ({ message }) => {
      afterKill.push(message.value!.toString());
    },
  });
  await victim.process.kill();
  await secondRunning;

  const newCoordinator = await coordinatorOf(live, groupId, 0);
  assert.notEqual(newCoordinator, coordinatorId, 'another broker coordinates the group');
  // The commits made before the kill are the new coordinator's: nothing before them is read again.
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 6 }, (_, i) => ({ partition: i % PARTITIONS, value: `after-${i}` })),
  });
  await eventually('both members read the records written after the kill', async () => {
    const all = new Set(afterKill);
    return Array.from({ length: 6 }, (_, i) => `after-${i}`).every((v) => all.has(v)) ? true : undefined;
  });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  for (const p of offsets[0]!.partitions) assert.ok(Number(p.offset) >= 10, `partition ${p.partition} kept its commit`);
  assert.deepEqual(
    afterKill.filter((v) => v.startsWith('before-')),
    [],
    'no record before the committed offsets was read again',
  );
  await Promise.allSettled([first.disconnect(), second.disconnect(), producer.disconnect()]);
  await victim.restart();
  await waitAllInSync(live(), topic, PARTITIONS);
});

/**
 * A failure with what the brokers logged at WARN and above and with `state()`, what the cluster says of the
 * transactions (the coordinators' and markers' side of it).
 */
async function withBrokerLogs<T>(waiting: Promise<T>, state: () => Promise<string> = async () => ''): Promise<T> {
  try {
    return await waiting;
  } catch (error) {
    const logs = brokers.map((b) => {
      const lines = b.process.log.split('\n').filter((l) => / (WARN|ERROR) /.test(l) || /transaction marker/.test(l));
      return `broker ${b.nodeId}:\n${lines.slice(-30).join('\n')}`;
    });
    const described = await state().catch((e: unknown) => `(could not describe: ${String(e)})`);
    throw new Error(`${(error as Error).message}\n${described}\n${logs.join('\n')}`);
  }
}

/**
 * Each live broker's DescribeProducers of the partition (its leader answers; the others say NOT_LEADER) and each
 * transaction's state as its coordinator describes it: where a transaction that does not end is stuck.
 */
async function describeTransactions(topic: string, partition: number, transactionalIds: string[]): Promise<string> {
  const lines: string[] = [];
  for (const b of live()) {
    const client = await RawClient.connect(b.port, { host: b.host });
    try {
      const r = await client.request(apis.DescribeProducers, 0, {
        topics: [{ name: topic, partitionIndexes: [partition] }],
      });
      const p = r.topics[0]!.partitions[0]!;
      lines.push(
        `broker ${b.nodeId} DescribeProducers ${topic}-${partition}: error ${p.errorCode} ${JSON.stringify(
          p.activeProducers,
          (_, v) => (typeof v === 'bigint' ? String(v) : v),
        )}`,
      );
    } finally {
      client.close();
    }
  }
  for (const id of transactionalIds) {
    const coordinatorId = await coordinatorOf(live, id, 1);
    const coordinator = brokers.find((b) => b.nodeId === coordinatorId)!;
    const client = await RawClient.connect(coordinator.port, { host: coordinator.host });
    try {
      const r = await client.request(apis.DescribeTransactions, 0, { transactionalIds: [id] });
      lines.push(
        `coordinator ${coordinatorId} DescribeTransactions ${id}: ${JSON.stringify(r.transactionStates[0], (_, v) =>
          typeof v === 'bigint' ? String(v) : v,
        )}`,
      );
    } finally {
      client.close();
    }
  }
  // What each replica's files hold (batches, markers, producer snapshots): whether a marker is missing from a log
  // or missing from the producer state built from it.
  for (const b of brokers) {
    const partitionDir = join(dir, `broker-${b.nodeId}`, `${topic}-${partition}`);
    const files = (await readdir(partitionDir).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.log') || f.endsWith('.snapshot'))
      .map((f) => join(partitionDir, f));
    const dumped = files.length > 0 ? await samsa(['dump-log', '--deep-iteration', '--files', files.join(',')]) : null;
    lines.push(`broker ${b.nodeId} files of ${topic}-${partition}:\n${dumped?.stdout.trim() ?? '(none)'}`);
  }
  // Each replica's __transaction_state records of these transactions: the partitions each state named, and which
  // coordinator epochs wrote them.
  for (const b of brokers) {
    const brokerDir = join(dir, `broker-${b.nodeId}`);
    const stateDirs = (await readdir(brokerDir).catch(() => [] as string[])).filter((d) =>
      d.startsWith('__transaction_state-'),
    );
    const files: string[] = [];
    for (const d of stateDirs)
      for (const f of await readdir(join(brokerDir, d)).catch(() => [] as string[]))
        if (f.endsWith('.log')) files.push(join(brokerDir, d, f));
    if (files.length === 0) continue;
    const dumped = await samsa(['dump-log', '--transaction-log-decoder', '--files', files.join(',')]);
    const records = dumped.stdout
      .split('\n')
      .filter((l) => transactionalIds.some((id) => l.includes(id)) || l.startsWith('Dumping'));
    lines.push(`broker ${b.nodeId} __transaction_state records:\n${records.join('\n')}`);
  }
  return lines.join('\n');
}

test("a transaction coordinator's broker killed with -9 as the commit is sent: each transaction is then whole or " +
  'absent for a read_committed reader, and a committed one is whole', { skip: etcdUnavailable }, async () => {
  const topic = 'txn-failover';
  await createReplicatedTopic(topic);
  const kafka = kafkaFor(brokers.map((b) => b.bootstrap));
  const ROUNDS = 2;
  const PER_TXN = 9;
  const committed = new Set<number>();
  for (let round = 0; round < ROUNDS; round++) {
    const transactionalId = `failover-txn-${round}`;
    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 10_000,
    });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({
      topic,
      messages: Array.from({ length: PER_TXN }, (_, i) => ({ partition: i % PARTITIONS, value: `t${round}-${i}` })),
    });
    const coordinatorId = await coordinatorOf(live, transactionalId, 1);
    const victim = brokers.find((b) => b.nodeId === coordinatorId)!;
    const commit = txn.commit().then(
      () => committed.add(round),
      () => {},
    );
    // Killed as the EndTxn goes out: before it arrives, after the prepare, or between the markers.
    await victim.process.kill();
    await commit;
    await producer.disconnect().catch(() => {});
    await victim.restart();
    await waitAllInSync(live(), topic, PARTITIONS);
  }

  // Every transaction ends (committed by the new coordinator, or aborted at its timeout): then each is whole or absent.
  const values: string[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const stored = await withBrokerLogs(
      eventually(`partition ${partition}'s transactions ended`, async () => {
        // The leader as the cluster names it now: a follower would serve these reads too (KIP-392), from its own
        // high watermark.
        const states = await partitionStates(live(), topic, PARTITIONS);
        const leader = brokers.find((b) => b.nodeId === states.get(partition)!.leader)!;
        const client = await RawClient.connect(leader.port, { host: leader.host });
        try {
          const committedRead = await readPartition(client, topic, partition, 1);
          const uncommittedRead = await readPartition(client, topic, partition, 0);
          // The last stable offset reaches the high watermark once no transaction is open.
          return committedRead.endOffset === uncommittedRead.endOffset ? committedRead : undefined;
        } finally {
          client.close();
        }
      }),
      () =>
        describeTransactions(
          topic,
          partition,
          Array.from({ length: ROUNDS }, (_, round) => `failover-txn-${round}`),
        ),
    );
    values.push(...stored.records.map((r) => r.value ?? ''));
  }
  for (let round = 0; round < ROUNDS; round++) {
    const count = values.filter((v) => v.startsWith(`t${round}-`)).length;
    assert.ok(count === 0 || count === PER_TXN, `transaction ${round}: ${count} of ${PER_TXN} records visible`);
    if (committed.has(round)) assert.equal(count, PER_TXN, `transaction ${round} was committed: all of it visible`);
  }
});
