/**
 * `npx tsx bench/replication.ts`: what replication costs a producer. Three `samsa server` processes on etcd; two
 * topics led by broker 1, one with replication factor 1 and one with 3 (replicas on every broker). For each, in
 * turns (RF 1, RF 3, RF 1, RF 3) so that the machine's drift hits both alike:
 *
 * - latency: 1 KiB records, acks=all, one request at a time: median and p99;
 * - throughput: 1 KiB records, acks=all, WINDOW requests in flight on one connection: records per second.
 *
 * RF 3 is given as a ratio of RF 1 measured in the same run. Needs Debian's etcd-server (skipped, saying so).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apis } from '../src/protocol/generated/index.js';
import { buildRecordBatch } from '../src/protocol/records/record-batch-builder.js';
import { type ClusterBroker, startCluster, stopCluster } from '../test/cluster/cluster-helpers.js';
import { etcdUnavailable, startEtcd } from '../test/cluster/etcd.js';
import { WireClient } from './wire.js';

const RECORD_BYTES = 1024;
const LATENCY_REQUESTS = 500;
const THROUGHPUT_REQUESTS = 4000;
const WINDOW = 16;
const ROUNDS = 2;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function produceRequest(topic: string) {
  const value = Buffer.alloc(RECORD_BYTES, 0x61);
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: topic,
        partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value, timestamp: BigInt(Date.now()) }]) }],
      },
    ],
  };
}

async function produceOne(c: WireClient, topic: string): Promise<void> {
  const r = await c.request(apis.Produce, 9, produceRequest(topic));
  const code = r.responses[0]!.partitionResponses[0]!.errorCode;
  if (code !== 0) throw new Error(`produce to ${topic}: error ${code}`);
}

async function latency(port: number, topic: string): Promise<{ medianMs: number; p99Ms: number }> {
  const c = await WireClient.connect(port);
  for (let i = 0; i < 50; i++) await produceOne(c, topic);
  const times: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const start = process.hrtime.bigint();
    await produceOne(c, topic);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  c.close();
  times.sort((a, b) => a - b);
  return { medianMs: percentile(times, 0.5), p99Ms: percentile(times, 0.99) };
}

async function throughput(port: number, topic: string): Promise<number> {
  const c = await WireClient.connect(port);
  const start = process.hrtime.bigint();
  let sent = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (sent < THROUGHPUT_REQUESTS) {
        sent++;
        await produceOne(c, topic);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  c.close();
  return THROUGHPUT_REQUESTS / seconds;
}

if (etcdUnavailable) {
  console.error(etcdUnavailable);
  process.exit(0);
}

const etcd = await startEtcd();
const dir = await mkdtemp(join(tmpdir(), 'samsa-replication-bench-'));
let processes: ClusterBroker[] = [];
try {
  processes = await startCluster(etcd, dir, [1, 2, 3], { extra: { 'samsa.etcd.prefix': '/samsa/bench-replication' } });
  const ports = processes.map((b) => b.port);
  const leader = ports[0]!;
  const admin = await WireClient.connect(leader);
  // Every broker must see the other two before a replica can be placed on them.
  for (;;) {
    const md = await admin.request(apis.Metadata, 12, {
      topics: [],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    if (md.brokers.length === 3) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const created = await admin.request(apis.CreateTopics, 7, {
    topics: [
      {
        name: 'rf1',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1] }],
        configs: [],
      },
      {
        name: 'rf3',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2, 3] }],
        configs: [],
      },
    ],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  admin.close();
  for (const t of created.topics) if (t.errorCode !== 0) throw new Error(`CreateTopics ${t.name}: ${t.errorMessage}`);

  const results = {
    rf1: { lat: [] as number[], p99: [] as number[], tput: [] as number[] },
    rf3: { lat: [] as number[], p99: [] as number[], tput: [] as number[] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const topic of ['rf1', 'rf3'] as const) {
      const l = await latency(leader, topic);
      const t = await throughput(leader, topic);
      results[topic].lat.push(l.medianMs);
      results[topic].p99.push(l.p99Ms);
      results[topic].tput.push(t);
      console.error(
        `${topic} round ${round + 1}: median ${l.medianMs.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms, ${t.toFixed(0)} records/s`,
      );
    }
  }
  const best = (xs: number[], high: boolean) => (high ? Math.max(...xs) : Math.min(...xs));
  const rows = [
    ['acks=all 1 KiB, one at a time, median latency', best(results.rf1.lat, false), best(results.rf3.lat, false), 'ms'],
    ['acks=all 1 KiB, one at a time, p99 latency', best(results.rf1.p99, false), best(results.rf3.p99, false), 'ms'],
    [
      `acks=all 1 KiB, ${WINDOW} in flight, throughput`,
      best(results.rf1.tput, true),
      best(results.rf3.tput, true),
      'records/s',
    ],
  ] as const;
  console.log('| Workload | RF 1 | RF 3 | RF 3 / RF 1 |');
  console.log('| --- | --- | --- | --- |');
  for (const [what, one, three, unit] of rows) {
    console.log(
      `| ${what} | ${one.toFixed(unit === 'ms' ? 2 : 0)} ${unit} | ${three.toFixed(unit === 'ms' ? 2 : 0)} ${unit} | ${(three / one).toFixed(2)} |`,
    );
  }
} finally {
  await stopCluster(processes);
  await rm(dir, { recursive: true, force: true });
  await etcd.destroy();
}
