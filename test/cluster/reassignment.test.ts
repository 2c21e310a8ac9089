import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { samsa } from '../integration/cli.js';
import { eventually, kafkaFor, RawClient } from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

const PREFIX = '/samsa/reassignment';

test(
  'reassignment (KIP-455) of a partition from brokers {1,2} to {2,3} with samsa reassign-partitions and KafkaJS: ' +
    'moving, the record holds both with adding and removing replicas; once broker 3 is in the ISR the controller ' +
    'makes {2,3} the replicas, moves the leader off broker 1, and broker 1 deletes its log; verify says completed; ' +
    'a cancelled reassignment goes back to the replicas before',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const dirs = await mkdtemp(join(tmpdir(), 'samsa-reassign-'));
      const brokers = new Map<number, Broker>();
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
      const topics = await TopicMetadata.load(store);
      // A log renamed with the -delete suffix is deleted already as far as the broker is concerned (Kafka removes
      // the files file.delete.delay.ms later).
      const logsOf = async (nodeId: number) =>
        (await readdir(join(dirs, `broker-${nodeId}`)))
          .filter((d) => d.startsWith('moving-') && !d.endsWith('-delete'))
          .sort();
      const partition = (p: number) => {
        const a = topics.get('moving')!.partitions[p]!;
        return {
          leader: a.leader,
          leaderEpoch: a.leaderEpoch,
          replicas: a.replicas,
          isr: [...a.isr].sort(),
          adding: a.addingReplicas ?? [],
          removing: a.removingReplicas ?? [],
        };
      };
      try {
        // Broker 3 first names its only listener REPLICATION, which brokers 1 and 2 lack: as in Kafka, its replica
        // fetchers find no endpoint of their leaders on its inter-broker listener, so a replica added there cannot
        // catch up, and the moves stay in progress until it restarts with the listener the others have.
        const start = async (nodeId: number, listenerName?: string) => {
          brokers.set(
            nodeId,
            await startBroker({
              nodeId,
              logDirs: [join(dirs, `broker-${nodeId}`)],
              etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
              ...(listenerName
                ? {
                    listeners: [
                      {
                        name: listenerName,
                        host: '127.0.0.1',
                        port: 0,
                        advertisedHost: '127.0.0.1',
                        advertisedPort: 0,
                      },
                    ],
                  }
                : {}),
            }),
          );
        };
        await start(1);
        await start(2);
        await start(3, 'REPLICATION');
        const bootstrap = brokers.get(2)!.bootstrap;
        const admin = kafkaFor([bootstrap]).admin();
        await admin.connect();
        await admin.createTopics({
          topics: [
            {
              topic: 'moving',
              replicaAssignment: [
                { partition: 0, replicas: [1, 2] },
                { partition: 1, replicas: [1, 2] },
              ],
            },
          ],
        });
        await eventually('the topic record', async () => (topics.get('moving') ? true : undefined));

        // --generate proposes the topic's partitions over brokers 2 and 3 only.
        const files = await mkdtemp(join(tmpdir(), 'samsa-reassign-files-'));
        try {
          const toMove = join(files, 'topics.json');
          await writeFile(toMove, JSON.stringify({ topics: [{ topic: 'moving' }], version: 1 }));
          const generated = await samsa([
            'reassign-partitions',
            '--bootstrap-server',
            bootstrap,
            '--generate',
            '--topics-to-move-json-file',
            toMove,
            '--broker-list',
            '2,3',
          ]);
          assert.equal(generated.code, 0, generated.stderr);
          const lines = generated.stdout.trim().split('\n');
          assert.equal(lines[0], 'Current partition replica assignment');
          assert.deepEqual(JSON.parse(lines[1]!), {
            version: 1,
            partitions: [
              { topic: 'moving', partition: 0, replicas: [1, 2], log_dirs: ['any', 'any'] },
              { topic: 'moving', partition: 1, replicas: [1, 2], log_dirs: ['any', 'any'] },
            ],
          });
          assert.equal(lines[3], 'Proposed partition reassignment configuration');
          const proposed = JSON.parse(lines[4]!) as { partitions: Array<{ replicas: number[] }> };
          for (const p of proposed.partitions) assert.deepEqual([...p.replicas].sort(), [2, 3]);

          // --execute moves partition 0 to {2,3}.
          const plan = join(files, 'plan.json');
          await writeFile(
            plan,
            JSON.stringify({ version: 1, partitions: [{ topic: 'moving', partition: 0, replicas: [2, 3] }] }),
          );
          const executed = await samsa([
            'reassign-partitions',
            '--bootstrap-server',
            bootstrap,
            '--execute',
            '--reassignment-json-file',
            plan,
          ]);
          assert.equal(executed.code, 0, executed.stderr);
          assert.equal(
            executed.stdout,
            'Current partition replica assignment\n\n' +
              '{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}\n\n' +
              'Save this to use as the --reassignment-json-file option during rollback\n' +
              'Successfully started partition reassignment for moving-0\n',
          );
          await eventually('the move recorded', async () => (partition(0).adding.length > 0 ? true : undefined));
          assert.deepEqual(partition(0), {
            leader: 1,
            leaderEpoch: 0,
            replicas: [2, 3, 1],
            isr: [1, 2],
            adding: [3],
            removing: [1],
          });
          const listed = await admin.listPartitionReassignments({});
          // KafkaJS answers with the response's own field names (its typings say otherwise).
          assert.deepEqual(JSON.parse(JSON.stringify(listed.topics)), [
            {
              name: 'moving',
              partitions: [{ partition: 0, replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1] }],
            },
          ]);
          // The new replica has its log (its fetching is the data path's).
          await eventually('broker 3 holds moving-0', async () =>
            (await logsOf(3)).includes('moving-0') ? true : undefined,
          );
          const inProgress = await samsa([
            'reassign-partitions',
            '--bootstrap-server',
            bootstrap,
            '--verify',
            '--reassignment-json-file',
            plan,
          ]);
          assert.equal(
            inProgress.stdout,
            'Status of partition reassignment:\nReassignment of partition moving-0 is still in progress.\n',
          );

          // As Kafka's tool, --execute while a move is in progress needs --additional: refused without it, and
          // nothing started; with it the file of the move in progress can be given again (how Kafka's tool changes
          // a throttle), leaving the move as it was.
          const second = join(files, 'second.json');
          await writeFile(
            second,
            JSON.stringify({ version: 1, partitions: [{ topic: 'moving', partition: 1, replicas: [3, 1] }] }),
          );
          const busy = await samsa(
            ['reassign-partitions', '--bootstrap-server', bootstrap, '--execute'].concat([
              '--reassignment-json-file',
              second,
            ]),
          );
          assert.equal(busy.code, 1, busy.stdout);
          assert.match(
            busy.stderr,
            /Cannot execute because there is an existing partition assignment\. {2}Use --additional/,
          );
          assert.deepEqual(partition(1).adding, []);
          const again = await samsa(
            ['reassign-partitions', '--bootstrap-server', bootstrap, '--execute'].concat([
              '--additional',
              '--reassignment-json-file',
              plan,
            ]),
          );
          assert.equal(again.code, 0, again.stderr);
          assert.deepEqual(partition(0).replicas, [2, 3, 1]);

          // Partition 1 moved to {3,1} with KafkaJS, then cancelled with the tool: back to {1,2}.
          await admin.alterPartitionReassignments({
            topics: [{ topic: 'moving', partitionAssignment: [{ partition: 1, replicas: [3, 1] }] }],
          });
          await eventually('the second move recorded', async () => (partition(1).adding.length > 0 ? true : undefined));
          assert.deepEqual(partition(1).replicas, [3, 1, 2]);
          const cancelPlan = join(files, 'cancel.json');
          await writeFile(
            cancelPlan,
            JSON.stringify({ version: 1, partitions: [{ topic: 'moving', partition: 1, replicas: [3, 1] }] }),
          );
          const cancelled = await samsa([
            'reassign-partitions',
            '--bootstrap-server',
            bootstrap,
            '--cancel',
            '--reassignment-json-file',
            cancelPlan,
          ]);
          assert.equal(cancelled.code, 0, cancelled.stderr);
          // As Kafka's tool, --cancel also clears the replication throttles (unless --preserve-throttles).
          assert.match(
            cancelled.stdout,
            /^Successfully cancelled partition reassignments for: moving-1\nClearing broker-level throttles on brokers? [\d,]+\nClearing topic-level throttles on topic moving\n$/,
          );
          await eventually('the move reverted', async () => (partition(1).adding.length === 0 ? true : undefined));
          assert.deepEqual(partition(1), {
            leader: 1,
            leaderEpoch: 0,
            replicas: [1, 2],
            isr: [1, 2],
            adding: [],
            removing: [],
          });
          await eventually('broker 3 deleted its log of moving-1', async () =>
            (await logsOf(3)).includes('moving-1') ? undefined : true,
          );
          const stillMoving = await samsa(['reassign-partitions', '--bootstrap-server', bootstrap, '--list']);
          assert.equal(
            stillMoving.stdout,
            'Current partition reassignments:\nmoving-0: replicas: 2,3,1. adding: 3. removing: 1.\n',
          );
          // Broker 3 back with the listener the others have: it catches up, its leader adds it to the ISR, and the
          // controller completes the move.
          await brokers.get(3)!.stop();
          await start(3);
          await eventually('the move completed', async () => (partition(0).removing.length === 0 ? true : undefined));
          assert.deepEqual(partition(0), {
            leader: 2,
            leaderEpoch: 1,
            replicas: [2, 3],
            isr: [2, 3],
            adding: [],
            removing: [],
          });
          await eventually('broker 1 deleted its log of moving-0', async () =>
            (await logsOf(1)).includes('moving-0') ? undefined : true,
          );
          assert.deepEqual(await logsOf(1), ['moving-1']);
          const completed = await samsa([
            'reassign-partitions',
            '--bootstrap-server',
            bootstrap,
            '--verify',
            '--reassignment-json-file',
            plan,
          ]);
          assert.equal(completed.code, 0, completed.stderr);
          assert.equal(
            completed.stdout,
            'Status of partition reassignment:\nReassignment of partition moving-0 is completed.\n' +
              // Kafka's tool clears the replication throttles once every move is complete.
              'Clearing broker-level throttles on brokers 1,2,3\nClearing topic-level throttles on topic moving\n',
          );
          const md = await kafkaFor([brokers.get(1)!.bootstrap])
            .admin()
            .fetchTopicMetadata({ topics: ['moving'] });
          assert.deepEqual(
            md.topics[0]!.partitions.find((p) => p.partitionId === 0),
            { partitionErrorCode: 0, partitionId: 0, leader: 2, replicas: [2, 3], isr: [2, 3], offlineReplicas: [] },
          );

          const none = await samsa(['reassign-partitions', '--bootstrap-server', bootstrap, '--list']);
          assert.equal(none.stdout, 'No partition reassignments found.\n');
        } finally {
          await rm(files, { recursive: true, force: true });
        }

        // Kafka's errors: an unregistered broker, a cancellation with nothing in progress, an unknown partition.
        const c = await RawClient.connect(brokers.get(3)!.port);
        try {
          const r = await c.request(apis.AlterPartitionReassignments, 0, {
            timeoutMs: 5000,
            topics: [
              {
                name: 'moving',
                partitions: [
                  { partitionIndex: 0, replicas: [2, 9] },
                  { partitionIndex: 1, replicas: null },
                  { partitionIndex: 5, replicas: [1, 2] },
                ],
              },
            ],
          });
          assert.deepEqual(
            r.responses[0]!.partitions.map((p) => p.errorCode),
            [
              ErrorCode.INVALID_REPLICA_ASSIGNMENT,
              ErrorCode.NO_REASSIGNMENT_IN_PROGRESS,
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            ],
          );
        } finally {
          c.close();
        }
        await admin.disconnect();
      } finally {
        topics.close();
        await store.close();
        for (const b of brokers.values()) await b.stop();
        await rm(dirs, { recursive: true, force: true });
      }
    }),
);
