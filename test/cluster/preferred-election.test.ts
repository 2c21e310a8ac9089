import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, type StartBrokerOptions, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { samsa } from '../integration/cli.js';
import { eventually, kafkaFor, RawClient } from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, withEtcd } from './etcd.js';

const PREFIX = '/samsa/preferred';

/**
 * Three in-process brokers on one etcd, broker 1 the controller, with the topic `preferred`: partition p's
 * preferred leader is broker p+1. The test reads the records; the leaders write ISR changes as their followers
 * really fetch.
 */
async function withCluster(
  etcd: EtcdServer,
  options: Partial<StartBrokerOptions>,
  fn: (c: {
    brokers: Map<number, Broker>;
    start(nodeId: number): Promise<void>;
    stop(nodeId: number): Promise<void>;
    topics: TopicMetadata;
    state(partition: number): { leader: number; leaderEpoch: number; isr: number[] };
  }) => Promise<void>,
): Promise<void> {
  const dirs = await mkdtemp(join(tmpdir(), 'samsa-preferred-'));
  const brokers = new Map<number, Broker>();
  const start = async (nodeId: number) => {
    brokers.set(
      nodeId,
      await startBroker({
        nodeId,
        logDirs: [join(dirs, `broker-${nodeId}`)],
        etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
        ...options,
      }),
    );
  };
  const stop = async (nodeId: number) => {
    await brokers.get(nodeId)!.stop();
    brokers.delete(nodeId);
  };
  const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
  const topics = await TopicMetadata.load(store);
  try {
    for (const id of [1, 2, 3]) await start(id);
    const admin = kafkaFor([brokers.get(1)!.bootstrap]).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'preferred',
          replicaAssignment: [
            { partition: 0, replicas: [1, 2, 3] },
            { partition: 1, replicas: [2, 3, 1] },
            { partition: 2, replicas: [3, 1, 2] },
          ],
        },
      ],
    });
    await admin.disconnect();
    await eventually('the topic record', async () => (topics.get('preferred') ? true : undefined));
    const state = (partition: number) => {
      const p = topics.get('preferred')!.partitions[partition]!;
      return { leader: p.leader, leaderEpoch: p.leaderEpoch, isr: [...p.isr].sort() };
    };
    await fn({ brokers, start, stop, topics, state });
  } finally {
    topics.close();
    await store.close();
    for (const id of [...brokers.keys()]) await stop(id);
    await rm(dirs, { recursive: true, force: true });
  }
}

/** Broker `nodeId` caught up: its leaders added it to the ISR of every partition of `preferred`. */
async function inIsrs(topics: TopicMetadata, nodeId: number): Promise<void> {
  await eventually(`broker ${nodeId} back in the ISRs`, async () =>
    topics.get('preferred')!.partitions.every((p) => p.isr.includes(nodeId)) ? true : undefined,
  );
}

/** A partition of `preferred` and the registered brokers, as the broker on `port` sees them. */
async function seenBy(port: number, partition: number) {
  const c = await RawClient.connect(port);
  try {
    const md = await c.request(apis.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'preferred' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const p = md.topics[0]!.partitions.find((x) => x.partitionIndex === partition);
    return { brokers: md.brokers.map((b) => b.nodeId), leader: p?.leaderId, isr: p?.isrNodes ?? [] };
  } finally {
    c.close();
  }
}

async function electLeaders(port: number, electionType: number, partitions: number[] | null) {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(apis.ElectLeaders, 2, {
      electionType,
      topicPartitions: partitions === null ? null : [{ topic: 'preferred', partitions }],
      timeoutMs: 5000,
    });
    return {
      errorCode: r.errorCode,
      results: new Map(
        r.replicaElectionResults.flatMap((t) =>
          t.partitionResult.map((p) => [`${t.topic}-${p.partitionId}`, p.errorCode]),
        ),
      ),
    };
  } finally {
    c.close();
  }
}

test(
  'ElectLeaders and samsa leader-election (kafka-leader-election.sh): the preferred replica leads again once it is ' +
    "back and in the ISR; Kafka's errors otherwise; a broker that is not the controller answers too",
  { skip: etcdUnavailable },
  () =>
    withEtcd((etcd) =>
      withCluster(etcd, { autoLeaderRebalanceEnable: false }, async ({ brokers, start, stop, topics, state }) => {
        // Broker 2 stops cleanly: partition 1 moves to broker 3, and broker 2 leaves every ISR.
        await stop(2);
        await eventually('partition 1 on broker 3', async () => (state(1).leader === 3 ? true : undefined));
        assert.deepEqual(state(1), { leader: 3, leaderEpoch: 1, isr: [1, 3] });
        const port = brokers.get(3)!.port;
        // Broker 3 answers elections from its own view, which may be behind the test's.
        await eventually('broker 3 sees itself leading partition 1 and broker 2 gone', async () => {
          const seen = await seenBy(port, 1);
          return seen.leader === 3 && !seen.brokers.includes(2) ? true : undefined;
        });
        assert.equal(
          (await electLeaders(port, 0, [1])).results.get('preferred-1'),
          ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE,
        );

        // Back: its fetches catch it up (the partitions are empty) and the leaders add it to their ISRs. Whether an
        // election lands before that is a race, so only the state after it is checked.
        await start(2);
        await inIsrs(topics, 2);
        // Broker 3 decides the election from its own view, which may be behind the test's: it takes broker 2's fetches
        // into the ISR without waiting for its watch to bring broker 2's registration.
        await eventually('broker 3 sees broker 2 registered and in the ISR', async () => {
          const seen = await seenBy(port, 1);
          return seen.brokers.includes(2) && seen.isr.includes(2) ? true : undefined;
        });
        // UNCLEAN has nothing to do for a partition with a live leader.
        assert.equal((await electLeaders(port, 1, [1])).results.get('preferred-1'), ErrorCode.ELECTION_NOT_NEEDED);
        const bootstrap = brokers.get(3)!.bootstrap;
        const run = await samsa([
          'leader-election',
          '--bootstrap-server',
          bootstrap,
          '--election-type',
          'preferred',
          '--topic',
          'preferred',
          '--partition',
          '1',
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
          run.stdout.trim(),
          'Successfully completed leader election (PREFERRED) for partitions preferred-1',
        );
        await eventually('partition 1 back on broker 2', async () => (state(1).leader === 2 ? true : undefined));
        assert.equal(state(1).leaderEpoch, 2);

        // Every partition led by its preferred replica: nothing to do, said per partition.
        const dir = await mkdtemp(join(tmpdir(), 'samsa-election-json-'));
        try {
          const file = join(dir, 'election.json');
          await writeFile(
            file,
            JSON.stringify({ partitions: [0, 1, 2].map((partition) => ({ topic: 'preferred', partition })) }),
          );
          const again = await samsa([
            'leader-election',
            '--bootstrap-server',
            bootstrap,
            '--election-type',
            'PREFERRED',
            '--path-to-json-file',
            file,
          ]);
          assert.equal(again.code, 0, again.stderr);
          assert.equal(
            again.stdout.trim(),
            'Valid replica already elected for partitions preferred-0, preferred-1, preferred-2',
          );
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        // Electing every partition leaves out those not needing it.
        const all = await electLeaders(port, 0, null);
        assert.equal(all.errorCode, ErrorCode.NONE);
        assert.equal(all.results.size, 0);

        const missing = await samsa([
          'leader-election',
          '--bootstrap-server',
          bootstrap,
          '--election-type',
          'UNCLEAN',
          '--topic',
          'preferred',
          '--partition',
          '7',
        ]);
        assert.equal(missing.code, 1);
        assert.match(
          missing.stdout,
          /Error completing leader election \(UNCLEAN\) for partition: preferred-7: UNKNOWN_TOPIC_OR_PARTITION/,
        );

        // Broker 3 stops: partition 2 moves to broker 1, and UNCLEAN finds a live leader there.
        await stop(3);
        await eventually('partition 2 on broker 1, as broker 1 sees it', async () =>
          (await seenBy(brokers.get(1)!.port, 2)).leader === 1 ? true : undefined,
        );
        assert.equal(
          (await electLeaders(brokers.get(1)!.port, 1, [2])).results.get('preferred-2'),
          ErrorCode.ELECTION_NOT_NEEDED,
        );
      }),
    ),
);

test(
  'auto.leader.rebalance.enable: the controller gives a partition back to its preferred replica once it is back in ' +
    'the ISR (leader.imbalance.check.interval.seconds=1, leader.imbalance.per.broker.percentage=10)',
  { skip: etcdUnavailable },
  () =>
    withEtcd((etcd) =>
      withCluster(etcd, { leaderImbalanceCheckIntervalSeconds: 1 }, async ({ start, stop, topics, state }) => {
        await stop(2);
        await eventually('partition 1 on broker 3', async () => (state(1).leader === 3 ? true : undefined));
        await start(2);
        await inIsrs(topics, 2);
        await eventually('partition 1 back on broker 2', async () => (state(1).leader === 2 ? true : undefined));
        assert.deepEqual(state(1), { leader: 2, leaderEpoch: 2, isr: [1, 2, 3] });
      }),
    ),
);

test(
  'a single broker on the embedded store: ElectLeaders answers ELECTION_NOT_NEEDED; under an authorizer without ' +
    'ALTER on the cluster, CLUSTER_AUTHORIZATION_FAILED',
  async () => {
    const broker = await startBroker();
    try {
      const admin = kafkaFor([broker.bootstrap]).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'preferred', numPartitions: 2 }] });
      await admin.disconnect();
      const r = await electLeaders(broker.port, 0, [0, 1]);
      assert.equal(r.results.get('preferred-0'), ErrorCode.ELECTION_NOT_NEEDED);
      assert.equal(r.results.get('preferred-1'), ErrorCode.ELECTION_NOT_NEEDED);
    } finally {
      await broker.stop();
    }
    const secured = await startBroker({
      authorizer: { superUsers: new Set<string>(), allowEveryoneIfNoAclFound: false },
    });
    try {
      assert.equal((await electLeaders(secured.port, 0, null)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    } finally {
      await secured.stop();
    }
  },
);
