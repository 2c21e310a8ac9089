import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { fastTempRoot, freePort } from '../chaos/harness.js';
import { samsa } from '../integration/cli.js';
import {
  type ClusterBroker,
  eventually,
  kafkaFor,
  partitionStates,
  startCluster,
  stopCluster,
} from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, withEtcd } from './etcd.js';

const { ConfigResourceTypes } = kafkajs;

const TOPIC = 'throttled';
/** Records of about 1 KB, in batches of 100: some 4 MB in all. */
const RECORD_BYTES = 1000;
const BATCHES = 40;
const RECORDS_PER_BATCH = 100;
const DATA_BYTES = RECORD_BYTES * BATCHES * RECORDS_PER_BATCH;
/**
 * The throttle --execute sets, bytes/s: far below a batch (100 KB) per quota window, so the copy goes a batch at a
 * time as the windows roll by, some 80 s of the clock for DATA_BYTES however fast the machine, while the checks
 * made "while the move is in progress" take a few seconds (a loaded machine's stalls included). Once they are
 * made, the rates are raised to RAISED_THROTTLE for the copy to end.
 */
const THROTTLE = 10_000;
/** The rates once the in-progress checks are made: the rest of the copy takes a few seconds, still throttled. */
const RAISED_THROTTLE = 2_000_000;
/** The rate of the one-sided throttles of the second test, which checks nothing while its copies go on. */
const SIDE_THROTTLE = 250_000;
const LONG_MAX = '9223372036854775807';

/** Three brokers with short quota windows and bounded fetch steps, each with an HTTP listener (its port in `httpPorts`). */
function startThrottleCluster(etcd: EtcdServer, dir: string, httpPorts: Map<number, number>): Promise<ClusterBroker[]> {
  return startCluster(etcd, dir, [1, 2, 3], {
    extra: {
      'auto.create.topics.enable': 'false',
      // Two 1 s samples: the rate allows a burst of one window, not Kafka's default ten.
      'replication.quota.window.num': 2,
      'replication.quota.window.size.seconds': 1,
      // Bounded steps: at most 64 KB per partition per fetch.
      'replica.fetch.max.bytes': 65536,
    },
    perBroker: async (nodeId) => {
      const port = await freePort();
      httpPorts.set(nodeId, port);
      return { 'samsa.http.listener': `127.0.0.1:${port}` };
    },
  });
}

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

test(
  'replication throttle (KIP-73): a partition of some 4 MB reassigned from broker 1 to {1,2} with samsa ' +
    'reassign-partitions --execute --throttle: the rates are set on brokers 1 and 2 and the throttled-replicas ' +
    'lists on the topic, broker 2 catches up in throttled steps (the quotas leave partitions out and count the ' +
    'bytes), produce and fetch on the leader are not held by the throttle, and --verify clears the configs once ' +
    'the move is complete',
  { skip: etcdUnavailable },
  (t) =>
    withEtcd(async (etcd) => {
      const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-throttle-'));
      let brokers: ClusterBroker[] = [];
      const httpPorts = new Map<number, number>();
      try {
        brokers = await startThrottleCluster(etcd, dir, httpPorts);
        const metrics = (nodeId: number) => scrape(httpPorts.get(nodeId)!);
        const bootstrap = brokers.map((b) => b.bootstrap);
        const kafka = kafkaFor(bootstrap);
        const admin = kafka.admin();
        await admin.connect();
        const producer = kafka.producer();
        try {
          await admin.createTopics({
            topics: [{ topic: TOPIC, replicaAssignment: [{ partition: 0, replicas: [1] }] }],
            waitForLeaders: true,
          });
          await producer.connect();
          const value = Buffer.alloc(RECORD_BYTES, 'x');
          for (let b = 0; b < BATCHES; b++) {
            await producer.send({
              topic: TOPIC,
              acks: -1,
              messages: Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `${b}-${i}`, value })),
            });
          }

          const plan = join(dir, 'plan.json');
          await writeFile(
            plan,
            JSON.stringify({ version: 1, partitions: [{ topic: TOPIC, partition: 0, replicas: [1, 2] }] }),
          );
          const tool = (...args: string[]) =>
            samsa([
              'reassign-partitions',
              '--bootstrap-server',
              bootstrap[2]!,
              '--reassignment-json-file',
              plan,
              ...args,
            ]);
          const startedAt = Date.now();
          const executed = await tool(
            '--execute',
            '--throttle',
            String(THROTTLE),
            '--replica-alter-log-dirs-throttle',
            '1000',
          );
          assert.equal(executed.code, 0, executed.stderr);
          assert.match(executed.stdout, /Warning: You must run --verify periodically/);
          assert.match(executed.stdout, new RegExp(`The inter-broker throttle limit was set to ${THROTTLE} B/s`));
          assert.match(executed.stdout, new RegExp(`Successfully started partition reassignment for ${TOPIC}-0`));
          assert.match(executed.stderr, /--replica-alter-log-dirs-throttle is ignored/);

          // DescribeConfigs shows what the tool set: Kafka's lists on the topic, the rates on the brokers involved.
          const topicConfigs = async () => {
            const described = await admin.describeConfigs({
              resources: [
                {
                  type: ConfigResourceTypes.TOPIC,
                  name: TOPIC,
                  configNames: ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas'],
                },
              ],
              includeSynonyms: false,
            });
            return Object.fromEntries(
              described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue ?? '']),
            );
          };
          const brokerRates = async (nodeId: number) => {
            const described = await admin.describeConfigs({
              resources: [
                {
                  type: ConfigResourceTypes.BROKER,
                  name: String(nodeId),
                  configNames: ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'],
                },
              ],
              includeSynonyms: false,
            });
            return Object.fromEntries(
              described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue ?? '']),
            );
          };
          const throttledLists = {
            'leader.replication.throttled.replicas': '0:1',
            'follower.replication.throttled.replicas': '0:2',
          };
          const throttledRates = {
            'leader.replication.throttled.rate': String(THROTTLE),
            'follower.replication.throttled.rate': String(THROTTLE),
          };
          const unthrottledRates = {
            'leader.replication.throttled.rate': LONG_MAX,
            'follower.replication.throttled.rate': LONG_MAX,
          };
          assert.deepEqual(await topicConfigs(), throttledLists);
          assert.deepEqual(await brokerRates(1), throttledRates);
          assert.deepEqual(await brokerRates(2), throttledRates);
          assert.deepEqual(await brokerRates(3), unthrottledRates, 'broker 3 takes no part in the move');

          // Still copying: --verify says so and leaves the throttles in place.
          const early = await tool('--verify');
          assert.equal(early.code, 0, early.stderr);
          assert.match(early.stdout, new RegExp(`Reassignment of partition ${TOPIC}-0 is still in progress.`));
          assert.doesNotMatch(early.stdout, /Clearing/);
          assert.deepEqual(await topicConfigs(), throttledLists);

          // The quotas hold the copy back: the leader leaves the partition out of broker 2's fetches, or broker 2's
          // fetcher leaves it out of its requests, while the rate is over the bound.
          await eventually('a replication quota throttled the copy', async () => {
            const leader = await metrics(1);
            const follower = await metrics(2);
            const throttled =
              (leader.get('kafka_server_leaderreplication_throttled_partitions_total') ?? 0) +
              (follower.get('kafka_server_followerreplication_throttled_partitions_total') ?? 0);
            return throttled > 0 ? true : undefined;
          });

          // Clients of the leader are not throttled: a produce (acks=all: broker 2 is not in the ISR yet) and a
          // consumer reading the whole partition, both while the copy is still going on.
          await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'during', value: 'the move' }] });
          const total = BATCHES * RECORDS_PER_BATCH + 1;
          const consumer = kafka.consumer({ groupId: 'throttle-reader', maxBytes: 64 * 1024 * 1024 });
          let consumed = 0;
          let consumedBytes = 0;
          let readAll!: () => void;
          const allRead = new Promise<void>((resolve) => (readAll = resolve));
          await consumer.connect();
          try {
            await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
            await consumer.run({
              eachMessage: async ({ message }) => {
                consumed++;
                consumedBytes += message.value?.length ?? 0;
                if (consumed === total) readAll();
              },
            });
            await allRead;
          } finally {
            await consumer.disconnect();
          }
          assert.equal(consumed, total);
          assert.ok(consumedBytes >= DATA_BYTES);
          const during = await tool('--verify');
          assert.match(
            during.stdout,
            new RegExp(`Reassignment of partition ${TOPIC}-0 is still in progress.`),
            'the consumer read the whole partition faster than the throttled copy',
          );
          const leaderNow = await metrics(1);
          assert.ok(
            (leaderNow.get('kafka_server_brokertopicmetrics_bytesout_total') ?? 0) >= DATA_BYTES,
            "the consumer's bytes",
          );
          assert.ok(leaderNow.has('kafka_server_leaderreplication_byte_rate'));

          // The rates raised on both brokers (as an operator would, with samsa configs): the copy ends soon, the
          // replicas still on the throttled lists.
          const raisedAt = Date.now();
          for (const nodeId of [1, 2]) {
            const raised = await samsa([
              'configs',
              '--bootstrap-server',
              bootstrap[0]!,
              '--entity-type',
              'brokers',
              '--entity-name',
              String(nodeId),
              '--alter',
              '--add-config',
              `leader.replication.throttled.rate=${RAISED_THROTTLE},follower.replication.throttled.rate=${RAISED_THROTTLE}`,
            ]);
            assert.equal(raised.code, 0, raised.stderr);
          }

          // Done: verify says so and clears every throttle.
          const done = await eventually(
            'verify reports the move completed',
            async () => {
              const verified = await tool('--verify');
              return verified.stdout.includes(`Reassignment of partition ${TOPIC}-0 is completed.`)
                ? verified
                : undefined;
            },
            180_000,
          );
          const doneAt = Date.now();
          assert.equal(done.code, 0, done.stderr);
          assert.match(done.stdout, /Clearing broker-level throttles on brokers 1,2,3/);
          assert.match(done.stdout, new RegExp(`Clearing topic-level throttles on topic ${TOPIC}`));
          assert.deepEqual(await topicConfigs(), {
            'leader.replication.throttled.replicas': '',
            'follower.replication.throttled.replicas': '',
          });
          for (const nodeId of [1, 2, 3]) assert.deepEqual(await brokerRates(nodeId), unthrottledRates);

          // Broker 2 copied everything, every byte of it counted against both quotas.
          const state = (await partitionStates(brokers, TOPIC, 1)).get(0)!;
          assert.deepEqual([...state.isr].sort(), [1, 2]);
          const leader = await metrics(1);
          const follower = await metrics(2);
          assert.ok((leader.get('kafka_server_leaderreplication_throttled_bytes_total') ?? 0) >= DATA_BYTES);
          assert.ok((follower.get('kafka_server_followerreplication_throttled_bytes_total') ?? 0) >= DATA_BYTES);
          assert.ok((follower.get('kafka_server_brokertopicmetrics_replicationbytesin_total') ?? 0) >= DATA_BYTES);
          // Figures, not assertions: the move's times (to the --verify that saw it complete) at each throttle.
          t.diagnostic(
            `moved ${DATA_BYTES} bytes in ${((doneAt - startedAt) / 1000).toFixed(1)} s: ` +
              `${((raisedAt - startedAt) / 1000).toFixed(1)} s at --throttle ${THROTTLE}, then ` +
              `${((doneAt - raisedAt) / 1000).toFixed(1)} s at ${RAISED_THROTTLE} (verify polling included); ` +
              `leader left the partition out ${leader.get('kafka_server_leaderreplication_throttled_partitions_total')} ` +
              `times, the follower ${follower.get('kafka_server_followerreplication_throttled_partitions_total')} times`,
          );
        } finally {
          await producer.disconnect().catch(() => {});
          await admin.disconnect();
        }
      } finally {
        await stopCluster(brokers);
        await rm(dir, { recursive: true, force: true });
      }
    }),
);

test(
  'replication throttle (KIP-73), each side alone, set with samsa configs: the leader quota of broker 1 alone ' +
    'throttles a copy to broker 2 (whose follower quota, unbounded, throttles nothing), then the follower quota of ' +
    'broker 3 alone throttles a copy from broker 1 (whose leader quota, removed, no longer does)',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const dir = await mkdtemp(join(await fastTempRoot(), 'samsa-throttle-sides-'));
      let brokers: ClusterBroker[] = [];
      const httpPorts = new Map<number, number>();
      const topic = 'sides';
      const perPartitionBytes = 3_000_000;
      try {
        brokers = await startThrottleCluster(etcd, dir, httpPorts);
        const counts = async (nodeId: number) => {
          const m = await scrape(httpPorts.get(nodeId)!);
          return {
            leaderThrottled: m.get('kafka_server_leaderreplication_throttled_partitions_total') ?? 0,
            followerThrottled: m.get('kafka_server_followerreplication_throttled_partitions_total') ?? 0,
            leaderBytes: m.get('kafka_server_leaderreplication_throttled_bytes_total') ?? 0,
            followerBytes: m.get('kafka_server_followerreplication_throttled_bytes_total') ?? 0,
          };
        };
        const bootstrap = brokers.map((b) => b.bootstrap);
        const configs = async (...args: string[]) => {
          const run = await samsa(['configs', '--bootstrap-server', bootstrap[0]!, ...args]);
          assert.equal(run.code, 0, run.stderr);
        };
        const kafka = kafkaFor(bootstrap);
        const admin = kafka.admin();
        await admin.connect();
        const producer = kafka.producer();
        try {
          await admin.createTopics({
            topics: [
              {
                topic,
                replicaAssignment: [
                  { partition: 0, replicas: [1] },
                  { partition: 1, replicas: [1] },
                ],
              },
            ],
            waitForLeaders: true,
          });
          await producer.connect();
          const value = Buffer.alloc(RECORD_BYTES, 'y');
          for (let b = 0; b < perPartitionBytes / (RECORD_BYTES * RECORDS_PER_BATCH); b++) {
            for (const partition of [0, 1]) {
              await producer.send({
                topic,
                acks: -1,
                messages: Array.from({ length: RECORDS_PER_BATCH }, () => ({ partition, value })),
              });
            }
          }
          const move = async (partition: number, replicas: number[]) => {
            const plan = join(dir, `plan-${partition}.json`);
            await writeFile(plan, JSON.stringify({ version: 1, partitions: [{ topic, partition, replicas }] }));
            const run = await samsa([
              'reassign-partitions',
              '--bootstrap-server',
              bootstrap[0]!,
              '--execute',
              '--reassignment-json-file',
              plan,
            ]);
            assert.equal(run.code, 0, run.stderr);
            await eventually(
              `partition ${partition} in sync on ${replicas.join(',')}`,
              async () => {
                const s = (await partitionStates(brokers, topic, 2)).get(partition)!;
                return replicas.every((r) => s.isr.includes(r)) ? true : undefined;
              },
              180_000,
            );
          };

          // The leader side alone: broker 1's leader rate, every partition of the topic leader-throttled.
          await configs(
            '--entity-type',
            'brokers',
            '--entity-name',
            '1',
            '--alter',
            '--add-config',
            `leader.replication.throttled.rate=${SIDE_THROTTLE}`,
          );
          await configs(
            '--entity-type',
            'topics',
            '--entity-name',
            topic,
            '--alter',
            '--add-config',
            'leader.replication.throttled.replicas=*,follower.replication.throttled.replicas=*',
          );
          await move(0, [1, 2]);
          const leaderSide = await counts(1);
          const followerOf0 = await counts(2);
          assert.ok(leaderSide.leaderThrottled > 0, 'broker 1 left partition 0 out of fetches');
          assert.ok(leaderSide.leaderBytes >= perPartitionBytes);
          assert.equal(followerOf0.followerThrottled, 0, "broker 2's follower quota has no bound");
          assert.ok(followerOf0.followerBytes >= perPartitionBytes, 'counted all the same (its rate is measured)');

          // The follower side alone: broker 3's follower rate; broker 1's leader rate removed.
          await configs(
            '--entity-type',
            'brokers',
            '--entity-name',
            '1',
            '--alter',
            '--delete-config',
            'leader.replication.throttled.rate',
          );
          await configs(
            '--entity-type',
            'brokers',
            '--entity-name',
            '3',
            '--alter',
            '--add-config',
            `follower.replication.throttled.rate=${SIDE_THROTTLE}`,
          );
          await move(1, [1, 3]);
          const followerSide = await counts(3);
          assert.ok(followerSide.followerThrottled > 0, "broker 3's fetcher left partition 1 out of its fetches");
          assert.ok(followerSide.followerBytes >= perPartitionBytes);
          assert.equal((await counts(1)).leaderThrottled, leaderSide.leaderThrottled, 'broker 1 no longer throttles');
        } finally {
          await producer.disconnect().catch(() => {});
          await admin.disconnect();
        }
      } finally {
        await stopCluster(brokers);
        await rm(dir, { recursive: true, force: true });
      }
    }),
);
