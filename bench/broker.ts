import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { apis } from '../src/protocol/generated/index.js';
import { buildDist, freePort, ROOT, rssBytes, sampleRss, startBrokerProcess } from './broker-process.js';
import type { BenchRow } from './lib.js';
import { dropFromPageCache } from './machine.js';
import { WireClient } from './wire.js';

const run = promisify(execFile);
const LOADGEN = join(ROOT, 'bench', '.build', 'loadgen');
const MB = 1e6;

/** Compiles the librdkafka load generator (Debian's librdkafka-dev) when its source is newer. */
export async function buildLoadgen(): Promise<string> {
  const source = join(ROOT, 'bench', 'loadgen', 'loadgen.c');
  if (!existsSync(LOADGEN) || statSync(source).mtimeMs > statSync(LOADGEN).mtimeMs) {
    mkdirSync(join(ROOT, 'bench', '.build'), { recursive: true });
    await run('cc', ['-O2', '-o', LOADGEN, source, '-lrdkafka', '-lpthread']);
  }
  return LOADGEN;
}

export interface LoadResult {
  messages: number;
  bytes: number;
  seconds: number;
  errors: number;
  p50?: number;
  p99?: number;
  p999?: number;
  max?: number;
  ackP50?: number;
  ackP99?: number;
}

/** Runs the load generator; `config` becomes LOADGEN_CONFIG (extra librdkafka settings, applied last). */
export async function loadgen(args: string[], config?: Record<string, string>): Promise<LoadResult> {
  const env = config
    ? {
        ...process.env,
        LOADGEN_CONFIG: Object.entries(config)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      }
    : process.env;
  const { stdout } = await run(LOADGEN, args, { timeout: 300_000, maxBuffer: 1 << 20, env });
  return JSON.parse(stdout) as LoadResult;
}

/** Writes back every dirty page of the machine (sync(1)). */
export async function writeBackDirtyPages(): Promise<void> {
  await run('sync', []);
}

/** TCP bandwidth between two processes of this machine, MB/s (the load generator's C loop, 1 MiB writes). */
export async function loopbackMBps(seconds: number): Promise<number> {
  const r = await loadgen(['loopback', String(seconds)]);
  return r.bytes / MB / r.seconds;
}

export const mbps = (r: LoadResult) => r.bytes / MB / r.seconds;
export const recPerSec = (r: LoadResult) => Math.round(r.messages / r.seconds);
export const fmtRate = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(Math.round(n)));

interface ProduceCase {
  size: number;
  partitions: number;
  acks: '1' | 'all';
  codec: 'none' | 'lz4' | 'zstd';
  /** enable.idempotence (acks=all only): the default of today's Java client. */
  idempotent?: boolean;
}

function produceCases(quick: boolean): ProduceCase[] {
  if (quick) {
    return [
      { size: 1024, partitions: 1, acks: '1', codec: 'none' },
      { size: 1024, partitions: 1, acks: 'all', codec: 'none' },
      { size: 1024, partitions: 1, acks: 'all', codec: 'none', idempotent: true },
      { size: 1024, partitions: 12, acks: 'all', codec: 'none' },
      { size: 100, partitions: 1, acks: '1', codec: 'none' },
      { size: 10240, partitions: 1, acks: '1', codec: 'none' },
      { size: 1024, partitions: 1, acks: 'all', codec: 'lz4' },
      { size: 1024, partitions: 1, acks: 'all', codec: 'zstd' },
    ];
  }
  const cases: ProduceCase[] = [];
  for (const size of [100, 1024, 10240])
    for (const partitions of [1, 12])
      for (const acks of ['1', 'all'] as const)
        for (const codec of ['none', 'lz4', 'zstd'] as const) cases.push({ size, partitions, acks, codec });
  cases.push({ size: 1024, partitions: 1, acks: 'all', codec: 'none', idempotent: true });
  return cases;
}

/** Records per produce run: a few hundred MB, so that each run lasts about a second or more. */
function recordCount(size: number, quick: boolean): number {
  if (size <= 100) return quick ? 1_000_000 : 3_000_000;
  if (size <= 1024) return quick ? 300_000 : 1_000_000;
  return quick ? 30_000 : 100_000;
}

export const sizeName = (size: number) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);

/** A discarding Kafka endpoint in its own process (bench/sink.ts). */
export async function startSink(): Promise<{ bootstrap: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'sink.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
  });
  return { bootstrap: `127.0.0.1:${port}`, stop: () => child.kill() };
}

/**
 * The load generator's acknowledgement latency at each rate (1 KiB records, linger 0, no consumer) against the
 * discarding sink, which answers at once: the client's own share of a latency measured against a broker.
 */
export async function clientAckFromSink(rates: number[], seconds: number): Promise<Map<number, LoadResult>> {
  const acks = new Map<number, LoadResult>();
  const sink = await startSink();
  try {
    for (const rate of rates)
      acks.set(
        rate,
        await loadgen(['latency', sink.bootstrap, 'sink-1', String(rate), String(seconds), '1024', '1', '0']),
      );
  } finally {
    sink.stop();
  }
  return acks;
}

export async function createTopic(client: WireClient, name: string, partitions: number): Promise<void> {
  const res = await client.request(apis.CreateTopics, 4, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  const t = res.topics[0];
  if (t?.errorCode !== 0) throw new Error(`CreateTopics ${name}: error ${t?.errorCode} ${t?.errorMessage}`);
}

export interface MachineLimits {
  diskWriteSyncMBps: number;
  diskWriteMBps: number;
  diskColdReadMBps: number;
  loopbackMBps: number;
}

export interface BrokerSuiteOptions {
  quick: boolean;
  limits: MachineLimits;
  /** Write a CPU profile of the main broker process here (node --cpu-prof). */
  cpuProfDir?: string;
}

/**
 * The broker's figures, each beside the machine's limit for it measured in the same run: produce, consume
 * (cold from disk, hot from the tail cache, tailing a producer), end-to-end latency, small requests, start-up,
 * memory, and a broker holding many partitions. The load generator is first run against a discarding sink so
 * that every produce figure can be compared with what the client itself can do on this machine.
 */
export async function brokerSuite({ quick, limits, cpuProfDir }: BrokerSuiteOptions): Promise<BenchRow[]> {
  await Promise.all([buildDist(), buildLoadgen()]);
  const rows: BenchRow[] = [];
  const cases = produceCases(quick);
  const smallConnections = 16;
  const smallSeconds = quick ? 2 : 5;

  // The client's own ceiling: the same workloads against an endpoint that stores nothing.
  const ceilings = new Map<string, number>();
  const ceilingKey = (c: Omit<ProduceCase, 'acks'>) => `${c.size}/${c.partitions}/${c.codec}`;
  const sink = await startSink();
  try {
    for (const c of cases) {
      const key = ceilingKey(c);
      if (ceilings.has(key)) continue;
      const r = await loadgen([
        'produce',
        sink.bootstrap,
        `sink-${c.partitions}`,
        String(recordCount(c.size, quick)),
        String(c.size),
        '1',
        c.codec,
        String(c.partitions),
      ]);
      ceilings.set(key, mbps(r));
      rows.push({
        workload: `loadgen ceiling: produce ${sizeName(c.size)}, ${c.codec}, ${c.partitions} partition(s), to a discarding sink (${fmtRate(recPerSec(r))} rec/s)`,
        figure: mbps(r),
        unit: 'MB/s',
      });
    }
    const consumeCount = recordCount(1024, quick);
    const f = await loadgen(['consume', sink.bootstrap, 'sink-1', String(consumeCount)]);
    ceilings.set('consume', mbps(f));
    rows.push({
      workload: `loadgen ceiling: consume 1 KiB, 1 partition, from a sink serving prepared batches (${fmtRate(recPerSec(f))} rec/s)`,
      figure: mbps(f),
      unit: 'MB/s',
    });
    const s = await loadgen([
      'small',
      sink.bootstrap,
      'sink-small',
      String(smallConnections),
      String(smallSeconds),
      '100',
    ]);
    ceilings.set('small', recPerSec(s));
    rows.push({
      workload: `loadgen ceiling: 1 record (100 B) per Produce, ${smallConnections} connections, to a discarding sink`,
      figure: recPerSec(s),
      unit: 'req/s',
    });
  } finally {
    sink.stop();
  }

  // Start-up to the first answered ApiVersions over a few fresh brokers (their idle memory: bench/memory.ts).
  const startups: number[] = [];
  for (let i = 0; i < (quick ? 3 : 5); i++) startups.push(await measureStartup());
  startups.sort((a, b) => a - b);
  rows.push({
    workload: `start-up: spawn of node bin/samsa.js server to the first ApiVersions answer (median of ${startups.length})`,
    figure: startups[startups.length >> 1]!,
    unit: 'ms',
    limit: 300,
    limitName: 'goal',
  });

  const broker = await startBrokerProcess({ cpuProfDir });
  const admin = await WireClient.connect(broker.port);
  const rss = sampleRss(broker.pid);
  // Each workload's rows get the largest RSS seen while it ran.
  let untagged = rows.length;
  const tagRss = () => {
    const mb = rss.sinceLastLook() / MB;
    for (; untagged < rows.length; untagged++) rows[untagged]!.rssMaxMB = Math.round(mb);
  };
  let coldTopic: { name: string; count: number } | null = null;
  let peak1KiB = 0;
  try {
    await broker.eventLoopDelay();
    for (const c of cases) {
      const topic = `produce-${c.size}-${c.partitions}-${c.acks}-${c.codec}${c.idempotent ? '-idempotent' : ''}`;
      await createTopic(admin, topic, c.partitions);
      const count = recordCount(c.size, quick);
      const r = await loadgen([
        'produce',
        broker.bootstrap,
        topic,
        String(count),
        String(c.size),
        c.acks,
        c.codec,
        String(c.partitions),
        ...(c.idempotent ? ['idempotent'] : []),
      ]);
      if (r.errors > 0) throw new Error(`produce ${topic}: ${r.errors} delivery errors`);
      const ceiling = ceilings.get(ceilingKey(c))!;
      const plain1KiB = c.size === 1024 && c.partitions === 1 && c.codec === 'none' && !c.idempotent;
      if (plain1KiB && c.acks === 'all') peak1KiB = recPerSec(r);
      if (plain1KiB && c.acks === '1') coldTopic = { name: topic, count };
      rows.push({
        workload: `produce ${sizeName(c.size)}, acks=${c.acks}, ${c.codec}, ${c.partitions} partition(s)${c.idempotent ? ', idempotent' : ''} (${fmtRate(recPerSec(r))} rec/s)`,
        figure: mbps(r),
        unit: 'MB/s',
        limit: c.acks === 'all' ? limits.diskWriteSyncMBps : limits.diskWriteMBps,
        limitName: c.acks === 'all' ? 'disk+fdatasync' : 'disk',
        // Compressed records reach the disk a fraction of their size, so they can pass its bandwidth. Against
        // the sink, which answers at once, librdkafka sends smaller batches that compress worse: for them the
        // sink figure is a reference, not a ceiling.
        note:
          c.codec === 'none'
            ? clientNote(mbps(r), ceiling)
            : `compressed on the wire and on disk; loadgen to the sink ${Math.round(ceiling)} MB/s`,
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
      tagRss();
    }

    // Cold: a topic written long ago (its batches left the tail cache), with its files dropped from the page cache.
    if (coldTopic) {
      const dir = join(broker.dataDir, `${coldTopic.name}-0`);
      // Only clean pages can be dropped: write back what the produce runs left dirty first.
      await writeBackDirtyPages();
      for (const f of readdirSync(dir)) await dropFromPageCache(join(dir, f));
      const r = await loadgen(['consume', broker.bootstrap, coldTopic.name, String(coldTopic.count)]);
      rows.push({
        workload: `consume 1 KiB cold (from disk, page cache dropped), 1 partition (${fmtRate(recPerSec(r))} rec/s)`,
        figure: mbps(r),
        unit: 'MB/s',
        limit: limits.loopbackMBps,
        limitName: 'loopback',
        note: `disk cold read ${Math.round(limits.diskColdReadMBps)} MB/s; ${clientNote(mbps(r), ceilings.get('consume')!)}`,
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
      tagRss();
    }

    // Tailing: a consumer reading as a producer writes (long polls woken by appends, served by the tail cache).
    {
      const count = recordCount(1024, quick);
      await createTopic(admin, 'consume-tailing', 1);
      const consumer = loadgen(['consume', broker.bootstrap, 'consume-tailing', String(count)]);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const p = await loadgen([
        'produce',
        broker.bootstrap,
        'consume-tailing',
        String(count),
        '1024',
        '1',
        'none',
        '1',
      ]);
      const r = await consumer;
      rows.push({
        workload: `consume 1 KiB tailing a producer (acks=1), 1 partition (${fmtRate(recPerSec(r))} rec/s)`,
        figure: mbps(r),
        unit: 'MB/s',
        limit: limits.loopbackMBps,
        limitName: 'loopback',
        note: `producer ran at ${Math.round(mbps(p))} MB/s; ${clientNote(mbps(r), ceilings.get('consume')!)}`,
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
      tagRss();
    }

    // End-to-end latency at a fixed rate: produce (linger 0) to a consumer's receipt, one process, one clock.
    // Beside it, the acknowledgement latency of the same producer against the sink: the client's own share.
    const seconds = quick ? 2 : 10;
    const rates = [5000, Math.max(Math.round(peak1KiB / 2), 1000)];
    const clientAck = await clientAckFromSink(rates, seconds);
    for (const acks of ['all', '1'] as const) {
      for (const rate of rates) {
        const topic = `latency-${acks}-${rate}`;
        await createTopic(admin, topic, 1);
        // Gigabytes left dirty by the runs before would otherwise be written back during this one: an fdatasync
        // on ext4 waits for that (data=ordered), and so do page-cache writes past the dirty limit.
        await writeBackDirtyPages();
        const r = await loadgen(['latency', broker.bootstrap, topic, String(rate), String(seconds), '1024', acks]);
        const name = rate === 5000 ? '5,000 rec/s' : `${fmtRate(rate)} rec/s (half the peak)`;
        const eld = await broker.eventLoopDelay();
        if (r.messages < r.seconds * rate * 0.99)
          throw new Error(`latency ${topic}: only ${r.messages} records arrived`);
        const client = clientAck.get(rate)!;
        for (const [q, v] of [
          ['p50', r.p50],
          ['p99', r.p99],
          ['p99.9', r.p999],
        ] as const) {
          rows.push({
            workload: `end-to-end latency ${q}, 1 KiB at ${name}, acks=${acks}`,
            figure: v ?? 0,
            unit: 'ms',
            limit: q === 'p50' ? undefined : 5,
            limitName: 'goal',
            note:
              q === 'p50'
                ? `produce ack p50 ${r.ackP50?.toFixed(2)} ms; client alone (sink) ${client.ackP50?.toFixed(2)} ms`
                : q === 'p99'
                  ? `produce ack p99 ${r.ackP99?.toFixed(1)} ms; client alone (sink) ${client.ackP99?.toFixed(1)} ms`
                  : `max ${r.max?.toFixed(1)} ms`,
            eventLoopDelayMs: eld,
          });
        }
        tagRss();
      }
    }

    // Small requests: one record per Produce, many connections.
    {
      await createTopic(admin, 'small-requests', 1);
      const r = await loadgen([
        'small',
        broker.bootstrap,
        'small-requests',
        String(smallConnections),
        String(smallSeconds),
        '100',
      ]);
      if (r.errors > 0) throw new Error(`small requests: ${r.errors} errors`);
      rows.push({
        workload: `small requests: 1 record (100 B) per Produce, acks=1, ${smallConnections} connections x 8 in flight`,
        figure: recPerSec(r),
        unit: 'req/s',
        limit: 50_000,
        limitName: 'goal',
        note: clientNote(recPerSec(r), ceilings.get('small')!, 'req/s'),
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
      tagRss();
    }
  } finally {
    const maxRss = rss.stop();
    let peak: BenchRow | undefined;
    for (const r of rows) if (r.rssMaxMB !== undefined && (!peak || r.rssMaxMB > peak.rssMaxMB!)) peak = r;
    rows.push({
      workload: 'RSS of the broker process under load (largest seen over the produce and consume runs)',
      figure: maxRss / MB,
      unit: 'MB',
      limit: 150,
      limitName: 'goal',
      note: peak ? `during: ${peak.workload.replace(/ \(.*$/, '')}` : undefined,
    });
    admin.close();
    await broker.stop();
  }

  rows.push(await hotConsume(quick, limits, ceilings.get('consume')!));
  rows.push(...(await manyPartitions()));
  return rows;
}

/**
 * A consumer reading a topic held whole in the tail cache: a broker of its own with a tail cache larger than
 * the topic (so that the memory this takes is not counted in the main broker's RSS).
 */
async function hotConsume(quick: boolean, limits: MachineLimits, ceiling: number): Promise<BenchRow> {
  const count = quick ? 300_000 : 1_000_000;
  const broker = await startBrokerProcess({ properties: { 'samsa.log.tail.cache.bytes': String(2 * 1024 ** 3) } });
  const admin = await WireClient.connect(broker.port);
  try {
    await createTopic(admin, 'consume-hot', 1);
    await loadgen(['produce', broker.bootstrap, 'consume-hot', String(count), '1024', '1', 'none', '1']);
    await broker.eventLoopDelay();
    const r = await loadgen(['consume', broker.bootstrap, 'consume-hot', String(count)]);
    return {
      workload: `consume 1 KiB from the tail cache (in memory), 1 partition (${fmtRate(recPerSec(r))} rec/s)`,
      figure: mbps(r),
      unit: 'MB/s',
      limit: limits.loopbackMBps,
      limitName: 'loopback',
      note: clientNote(mbps(r), ceiling),
      eventLoopDelayMs: await broker.eventLoopDelay(),
    };
  } finally {
    admin.close();
    await broker.stop();
  }
}

function clientNote(figure: number, ceiling: number, unit = 'MB/s'): string {
  const share = figure / ceiling;
  return `loadgen ceiling ${Math.round(ceiling)} ${unit}${share >= 0.8 ? ' (client-bound)' : ''}`;
}

/** Milliseconds from spawning a broker to its first ApiVersions answer. */
async function measureStartup(): Promise<number> {
  const port = await freePort();
  const spawned = performance.now();
  const startPromise = startBrokerProcess({ port });
  let ms = 0;
  for (;;) {
    try {
      const client = await WireClient.connect(port);
      await client.request(apis.ApiVersions, 3, { clientSoftwareName: 'bench', clientSoftwareVersion: '1' });
      ms = performance.now() - spawned;
      client.close();
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  const broker = await startPromise;
  await broker.stop();
  return ms;
}

/** File descriptors the broker holds per partition: the .log, .index and .timeindex of its active segment. */
const FDS_PER_PARTITION = 3;
const TARGET_PARTITIONS = 10_000;

/**
 * A broker holding 10,000 partitions (100 topics of 100): the time to answer a Metadata request for all
 * topics, and its RSS. Where the open-file limit is too low for 10,000 (three descriptors each), as many
 * partitions as it allows, said in the row.
 */
async function manyPartitions(): Promise<BenchRow[]> {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  const fdLimit = m ? Number(m[1]) : Number.POSITIVE_INFINITY;
  const perTopic = 100;
  const fit = Math.floor((fdLimit - 1000) / FDS_PER_PARTITION / perTopic) * perTopic;
  const partitions = Math.min(TARGET_PARTITIONS, fit);
  const topics = partitions / perTopic;
  // The broker's default partition limit keeps three quarters of its open files for other uses; this workload
  // sizes itself to the open files it measured, so the limit is set to what it creates.
  const broker = await startBrokerProcess({ properties: { 'samsa.max.broker.partitions': String(partitions) } });
  const client = await WireClient.connect(broker.port);
  const rows: BenchRow[] = [];
  try {
    const started = performance.now();
    for (let t = 0; t < topics; t += 10) {
      const res = await client.request(apis.CreateTopics, 4, {
        topics: Array.from({ length: Math.min(10, topics - t) }, (_, i) => ({
          name: `many-${t + i}`,
          numPartitions: perTopic,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        })),
        timeoutMs: 120_000,
        validateOnly: false,
      });
      const failed = res.topics.find((x) => x.errorCode !== 0);
      if (failed) throw new Error(`CreateTopics ${failed.name}: error ${failed.errorCode} ${failed.errorMessage}`);
    }
    const createMs = performance.now() - started;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const md = await client.request(apis.Metadata, 12, {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      times.push(performance.now() - t0);
      const seen = md.topics.reduce((n, x) => n + x.partitions.length, 0);
      if (seen !== partitions) throw new Error(`Metadata listed ${seen} partitions, not ${partitions}`);
    }
    times.sort((a, b) => a - b);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const rss = rssBytes(broker.pid);
    const scaled =
      partitions === TARGET_PARTITIONS
        ? ''
        : ` (open-file limit ${fdLimit}: 10,000 would need ${TARGET_PARTITIONS * FDS_PER_PARTITION + 1000})`;
    const label = `${partitions.toLocaleString('en-US')} partitions (${topics} topics x ${perTopic})`;
    rows.push({
      workload: `${label}: Metadata for all topics (median of ${times.length})${scaled}`,
      figure: times[times.length >> 1]!,
      unit: 'ms',
      limit: 50,
      limitName: 'goal',
      note: `created in ${(createMs / 1000).toFixed(1)} s`,
    });
    rows.push({
      workload: `${label}: RSS of the broker process${scaled}`,
      figure: rss / MB,
      unit: 'MB',
      limit: partitions === TARGET_PARTITIONS ? 300 : (300 * partitions) / TARGET_PARTITIONS,
      limitName: partitions === TARGET_PARTITIONS ? 'goal' : 'goal pro rata',
    });
  } finally {
    client.close();
    await broker.stop();
  }
  return rows;
}
