/**
 * `npx tsx bench/cluster.ts`: what the cluster view costs and how fast a controller is replaced.
 *
 * - Metadata for a topic of 1,000 partitions, answered by a single broker on the embedded store (the default,
 *   which must not get slower) and by one broker of three on etcd: median and p99 of sequential requests.
 * - Controller failover: three `samsa server` processes on etcd, the controller killed with SIGKILL; the time
 *   until a survivor names another controller (bounded below by the registration lease, broker.session.timeout.ms
 *   9 s, which etcd expires).
 *
 * - Leader failover: a topic of 1,000 partitions x RF 3 on those three; a leader stopped cleanly (controlled
 *   shutdown) and one killed with SIGKILL: the time until the controller's Metadata names live leaders for all.
 *
 * - Memory: the resident set (VmRSS) of each of those three processes holding the 1,000 x RF 3 partitions (a
 *   thousand replicas each, followers fetching), beside one `samsa server` process on the embedded store holding the
 *   same 1,000 partitions at RF 1, in the same run, as a ratio; both idle, read RSS_SETTLE_MS after the creation.
 *
 * The etcd parts need Debian's etcd-server (skipped, saying so, without it); `--single` runs only the first figure.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, startBroker } from '../src/index.js';
import { apis } from '../src/protocol/generated/index.js';
import { BrokerProcess, freePort, writeServerProperties } from '../test/chaos/harness.js';
import { startCluster } from '../test/cluster/cluster-helpers.js';
import { etcdUnavailable, startEtcd } from '../test/cluster/etcd.js';
import { WireClient } from './wire.js';

const PARTITIONS = 1000;
/** `--single`: only the single broker's figure. */
const singleOnly = process.argv.includes('--single');
const REQUESTS = 300;
/** How long the brokers run idle after the topic's creation before their memory is read (fetchers settled). */
const RSS_SETTLE_MS = 5000;

/** A process's resident set now and at its peak, from /proc (Linux). */
function rssOf(pid: number): { rssBytes: number; peakBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rssBytes: kib('VmRSS'), peakBytes: kib('VmHWM') };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function metadataTimes(port: number, topic: string): Promise<{ medianMs: number; p99Ms: number }> {
  const c = await WireClient.connect(port);
  const request = {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
  for (let i = 0; i < 20; i++) await c.request(apis.Metadata, 12, request);
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const start = process.hrtime.bigint();
    await c.request(apis.Metadata, 12, request);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  c.close();
  times.sort((a, b) => a - b);
  return { medianMs: percentile(times, 0.5), p99Ms: percentile(times, 0.99) };
}

async function createTopic(port: number, name: string, replicationFactor = 1): Promise<void> {
  const c = await WireClient.connect(port);
  const r = await c.request(apis.CreateTopics, 7, {
    topics: [{ name, numPartitions: PARTITIONS, replicationFactor, assignments: [], configs: [] }],
    timeoutMs: 60_000,
    validateOnly: false,
  });
  c.close();
  if (r.topics[0]!.errorCode !== 0) throw new Error(`CreateTopics: ${r.topics[0]!.errorMessage}`);
}

const rows: string[] = [];
const line = (what: string, figure: string) => {
  rows.push(`| ${what} | ${figure} |`);
  console.error(`${what}: ${figure}`);
};

{
  const broker = await startBroker();
  await createTopic(broker.port, 'wide');
  const t = await metadataTimes(broker.port, 'wide');
  line(
    `Metadata, ${PARTITIONS} partitions, single broker (embedded store)`,
    `median ${t.medianMs.toFixed(2)} ms, p99 ${t.p99Ms.toFixed(2)} ms`,
  );
  await broker.stop();
}

if (singleOnly) {
  // Only the single broker, for a before/after comparison of the default setup.
} else if (etcdUnavailable) {
  console.error(etcdUnavailable);
} else {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-cluster-bench-'));
  try {
    const etcdSettings = { endpoints: [etcd.endpoint], prefix: '/samsa/bench' };
    const inProcess: Broker[] = [];
    for (const nodeId of [1, 2, 3]) inProcess.push(await startBroker({ nodeId, etcd: etcdSettings }));
    await createTopic(inProcess[0]!.port, 'wide');
    const t = await metadataTimes(inProcess[1]!.port, 'wide');
    line(
      `Metadata, ${PARTITIONS} partitions, one broker of three on etcd`,
      `median ${t.medianMs.toFixed(2)} ms, p99 ${t.p99Ms.toFixed(2)} ms`,
    );
    for (const b of inProcess) await b.stop();

    // The single broker's memory with the same 1,000 partitions at RF 1, as a process like the cluster's.
    const singleDir = join(dir, 'single');
    await mkdir(singleDir);
    const singlePort = await freePort();
    await writeServerProperties(join(dir, 'single.properties'), singleDir, singlePort);
    const single = new BrokerProcess(join(dir, 'single.properties'));
    await single.waitStarted();
    await createTopic(singlePort, 'wide');
    await new Promise((resolve) => setTimeout(resolve, RSS_SETTLE_MS));
    const singleRss = rssOf(single.child.pid!);
    line(
      `RSS, single broker process holding ${PARTITIONS} partitions (RF 1, embedded store)`,
      `${mib(singleRss.rssBytes)} (peak ${mib(singleRss.peakBytes)})`,
    );
    await single.stop();

    const processes = await startCluster(etcd, dir, [1, 2, 3], {
      extra: { 'samsa.etcd.prefix': '/samsa/bench-failover' },
    });
    const controllerSeenBy = async (port: number) => {
      const c = await WireClient.connect(port);
      try {
        const r = await c.request(apis.DescribeCluster, 1, {
          includeClusterAuthorizedOperations: false,
          endpointType: 1,
        });
        return r.controllerId;
      } finally {
        c.close();
      }
    };
    // Leadership moved away from a broker stopped cleanly (controlled shutdown), then from one killed with -9 (the
    // controller's election once the lease expires): the time until the controller's Metadata names live leaders
    // for every partition of a topic of PARTITIONS partitions x RF 3 (ISRs as at creation: every replica).
    await createTopic(processes[0]!.port, 'replicated', 3);
    const replicated = await metadataTimes(processes[1]!.port, 'replicated');
    line(
      `Metadata, ${PARTITIONS} partitions x RF 3, one broker of three on etcd`,
      `median ${replicated.medianMs.toFixed(2)} ms, p99 ${replicated.p99Ms.toFixed(2)} ms`,
    );
    await new Promise((resolve) => setTimeout(resolve, RSS_SETTLE_MS));
    for (const p of processes) {
      const rss = rssOf(p.process.child.pid!);
      line(
        `RSS, broker ${p.nodeId} of three holding ${PARTITIONS} partitions x RF 3 (a replica of each)`,
        `${mib(rss.rssBytes)} (peak ${mib(rss.peakBytes)}), ${(rss.rssBytes / singleRss.rssBytes).toFixed(2)}x the single broker's`,
      );
    }
    const firstController = await controllerSeenBy(processes[0]!.port);
    const observer = processes.find((p) => p.nodeId === firstController)!;
    const ledElsewhere = async (nodeId: number) => {
      const c = await WireClient.connect(observer.port);
      try {
        const md = await c.request(apis.Metadata, 12, {
          topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'replicated' }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        return md.topics[0]!.partitions.every((p) => p.leaderId !== nodeId && p.leaderId !== -1);
      } finally {
        c.close();
      }
    };
    const [stopped, killed] = processes.filter((p) => p !== observer);
    let started = Date.now();
    await stopped!.process.stop();
    while (!(await ledElsewhere(stopped!.nodeId))) await new Promise((resolve) => setTimeout(resolve, 20));
    line(
      `a broker leading a third of ${PARTITIONS} RF 3 partitions stopped (SIGTERM): until it exited and the controller's Metadata names other leaders`,
      `${Date.now() - started} ms (controlled shutdown moves them during the stop)`,
    );
    started = Date.now();
    await killed!.process.kill();
    while (!(await ledElsewhere(killed!.nodeId))) await new Promise((resolve) => setTimeout(resolve, 20));
    line(
      "leader of the RF 3 partitions killed -9, until the controller's Metadata names others",
      `${Date.now() - started} ms (session timeout 9000 ms)`,
    );
    for (const p of [stopped!, killed!]) {
      await p.restart();
    }
    while ((await controllerSeenBy(observer.port)) === -1) await new Promise((resolve) => setTimeout(resolve, 20));

    const controller = await controllerSeenBy(processes[0]!.port);
    const victim = processes.find((p) => p.nodeId === controller)!;
    const survivor = processes.find((p) => p !== victim)!;
    const killedAt = Date.now();
    await victim.process.kill();
    for (;;) {
      const now = await controllerSeenBy(survivor.port);
      if (now !== controller && now !== -1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    line(
      'controller killed -9 until a survivor names another',
      `${Date.now() - killedAt} ms (session timeout 9000 ms)`,
    );
    for (const p of processes) await p.process.kill();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await etcd.destroy();
  }
}

console.log(['| Workload | Figure |', '| --- | --- |', ...rows].join('\n'));
