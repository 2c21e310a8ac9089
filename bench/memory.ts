/**
 * The broker's memory: RSS at idle (fresh brokers, median of several starts) and under a sustained produce and
 * consume load (1 KiB records at a fixed rate from librdkafka, read back by a consumer in the same process), its
 * peak and its steady state, beside the goals and this machine's RAM.
 *
 * Part of `npm run bench`; on its own: `npx tsx bench/memory.ts [--quick] [--seconds 30] [--rate 20000]
 * [--variant name] ...`. A variant is a way of starting the broker (below); several are measured in turns, so that
 * their figures come from the same run on the same machine; `--before <dir>` adds the variant `before`, the build
 * in <dir> (a copy of bin/, dist/ and package.json beside a node_modules), to compare a change with the code before it. RSS is what a shared machine does not disturb much;
 * the rates here are fixed, so nothing is concluded about throughput.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apis } from '../src/protocol/generated/index.js';
import { buildLoadgen, loadgen } from './broker.js';
import { type BrokerOptions, buildDist, rssBytes, startBrokerProcess } from './broker-process.js';
import { type BenchRow, formatTable } from './lib.js';
import { WireClient } from './wire.js';

const MB = 1e6;
/** Goals of the memory work: idle, and under a sustained produce and consume load. */
const IDLE_GOAL_MB = 50;
const LOAD_GOAL_MB = 150;
/** RSS is read this long after start-up: the broker has bound its listeners and opened its logs. */
const IDLE_SETTLE_MS = 1000;
/**
 * A second reading of one idle broker, this long after start-up: V8's memory reducer gives back the young
 * generation module loading grew, about ten seconds after start-up.
 */
const IDLE_SETTLED_MS = 15_000;
/** The load's RSS is sampled this often. */
const SAMPLE_EVERY_MS = 100;

/** Ways of starting the broker that the memory figures are taken for. */
export const VARIANTS: Record<string, Pick<BrokerOptions, 'properties' | 'nodeArgs' | 'env' | 'samsaBin'>> = {
  default: {},
  small: { properties: { 'samsa.memory.profile': 'small' } },
  // Knobs measured against the default (see docs/PERFORMANCE.md, memory). The default runs with the flags of
  // bin/samsa.js's first line (--max-semi-space-size=4); a variant's flags come after them and win.
  'semi-space-1': { nodeArgs: ['--max-semi-space-size=1'] },
  'semi-space-2': { nodeArgs: ['--max-semi-space-size=2'] },
  'semi-space-8': { nodeArgs: ['--max-semi-space-size=8'] },
  /** V8's own default on 64-bit machines, the launcher's flag undone. */
  'semi-space-16': { nodeArgs: ['--max-semi-space-size=16'] },
  /** The tail cache's default until 16 MiB were measured to do as well. */
  'tail-cache-32m': { properties: { 'samsa.log.tail.cache.bytes': String(32 * 1024 * 1024) } },
  /** V8's own growth of the old generation, where the default profile sets 300%. */
  'heap-growing-default': { nodeArgs: ['--heap-growing-percent=0'] },
  'optimize-for-size': { nodeArgs: ['--optimize-for-size'] },
  'malloc-mmap-128k': { env: { MALLOC_MMAP_THRESHOLD_: '131072' } },
  'malloc-arena-2': { env: { MALLOC_ARENA_MAX: '2' } },
};

/** This machine's RAM (MemTotal), MB. */
function machineMemoryMB(): number {
  const m = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? (Number(m[1]) * 1024) / MB : 0;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

/** RSS of a fresh broker, no topics, `afterMs` after it started. */
async function idleRss(variant: BrokerOptions, afterMs = IDLE_SETTLE_MS): Promise<number> {
  const broker = await startBrokerProcess(variant);
  try {
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    return rssBytes(broker.pid);
  } finally {
    await broker.stop();
  }
}

export interface LoadMemory {
  peak: number;
  /** Median of the samples over the second half of the run, when the broker's memory has settled. */
  steady: number;
  records: number;
  seconds: number;
  /** The broker's own view at the end (MB): heap, external memory, array buffers. */
  memory?: Record<string, number>;
}

/** A fixed-rate producer of 1 KiB records (acks=1, linger.ms=0) and a consumer reading them, against one broker. */
async function loadRss(variant: BrokerOptions, rate: number, seconds: number): Promise<LoadMemory> {
  const broker = await startBrokerProcess(variant);
  const admin = await WireClient.connect(broker.port);
  const samples: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const res = await admin.request(apis.CreateTopics, 4, {
      topics: [{ name: 'memory-load', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    if (res.topics[0]?.errorCode !== 0) throw new Error(`CreateTopics: error ${res.topics[0]?.errorCode}`);
    timer = setInterval(() => {
      try {
        samples.push(rssBytes(broker.pid));
      } catch {}
    }, SAMPLE_EVERY_MS);
    const r = await loadgen([
      'latency',
      broker.bootstrap,
      'memory-load',
      String(rate),
      String(seconds),
      '1024',
      '1',
    ]).catch((e: unknown) => {
      throw new Error(
        `memory load failed: ${(e as Error).message.slice(0, 500)}\nbroker log: ${broker.log().slice(-2000)}`,
      );
    });
    clearInterval(timer);
    if (r.messages < rate * seconds * 0.99) throw new Error(`memory load: only ${r.messages} records arrived`);
    const { memory } = await broker.eventLoopDelay();
    const secondHalf = samples.slice(samples.length >> 1);
    return { peak: Math.max(...samples), steady: median(secondHalf), records: r.messages, seconds: r.seconds, memory };
  } finally {
    clearInterval(timer);
    admin.close();
    await broker.stop();
  }
}

export interface MemorySuiteOptions {
  quick: boolean;
  /** Names from VARIANTS; the first is the default broker. */
  variants?: string[];
  rate?: number;
  seconds?: number;
  /** Starts of each variant whose idle RSS is taken (the median is reported). */
  starts?: number;
}

/**
 * Idle and loaded RSS for each variant. Starts alternate between variants, so that the machine's other work
 * falls on all of them alike.
 */
export async function memorySuite(options: MemorySuiteOptions): Promise<BenchRow[]> {
  await Promise.all([buildDist(), buildLoadgen()]);
  const variants = options.variants ?? ['default', 'small'];
  const rate = options.rate ?? 20_000;
  const seconds = options.seconds ?? (options.quick ? 10 : 30);
  const starts = options.starts ?? (options.quick ? 3 : 5);
  const ram = machineMemoryMB();
  const optionsOf = (name: string) => {
    const v = VARIANTS[name];
    if (!v) throw new Error(`unknown variant ${name} (known: ${Object.keys(VARIANTS).join(', ')})`);
    return v;
  };
  const idle = new Map<string, number[]>(variants.map((v) => [v, []]));
  for (let i = 0; i < starts; i++) for (const v of variants) idle.get(v)!.push(await idleRss(optionsOf(v)));
  const settled = new Map<string, number>();
  for (const v of variants) settled.set(v, await idleRss(optionsOf(v), IDLE_SETTLED_MS));
  const load = new Map<string, LoadMemory>();
  for (const v of variants) load.set(v, await loadRss(optionsOf(v), rate, seconds));

  const rows: BenchRow[] = [];
  for (const v of variants) {
    const suffix = v === 'default' ? '' : `, ${v}`;
    const idleMB = median(idle.get(v)!) / MB;
    rows.push({
      workload: `memory: RSS at idle (fresh broker, no topics, median of ${starts}${suffix})`,
      figure: idleMB,
      unit: 'MB',
      limit: IDLE_GOAL_MB,
      limitName: 'goal',
      note: `range ${idle
        .get(v)!
        .map((b) => Math.round(b / MB))
        .sort((a, b) => a - b)
        .join('-')} MB; machine RAM ${Math.round(ram)} MB`,
    });
    rows.push({
      workload: `memory: RSS at idle, ${IDLE_SETTLED_MS / 1000} s after start-up (one broker${suffix})`,
      figure: settled.get(v)! / MB,
      unit: 'MB',
      limit: IDLE_GOAL_MB,
      limitName: 'goal',
    });
    const l = load.get(v)!;
    const load1 = `1 KiB at ${Math.round(rate / 1000)}k rec/s produced (acks=1) and consumed for ${seconds} s${suffix}`;
    rows.push({
      workload: `memory: RSS under load, peak (${load1})`,
      figure: l.peak / MB,
      unit: 'MB',
      limit: LOAD_GOAL_MB,
      limitName: 'goal',
      rssMaxMB: Math.round(l.peak / MB),
      note: l.memory
        ? `at the end: heap ${l.memory['heapTotal']} MB, external ${l.memory['external']} MB, array buffers ${l.memory['arrayBuffers']} MB`
        : undefined,
    });
    rows.push({
      workload: `memory: RSS under load, steady state (median of the second half; ${load1})`,
      figure: l.steady / MB,
      unit: 'MB',
      limit: LOAD_GOAL_MB,
      limitName: 'goal',
      note: `${(l.steady / MB / ram) * 100 < 1 ? '<1' : Math.round((l.steady / MB / ram) * 100)}% of this machine's RAM`,
    });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const variants = argv.flatMap((a, i) => (argv[i - 1] === '--variant' ? [a] : []));
  const before = value('--before');
  if (before) {
    VARIANTS['before'] = { samsaBin: join(before, 'bin', 'samsa.js') };
    if (!variants.includes('before')) variants.unshift('before');
  }
  const rows = await memorySuite({
    quick: argv.includes('--quick'),
    variants: variants.length > 0 ? variants : undefined,
    rate: value('--rate') ? Number(value('--rate')) : undefined,
    seconds: value('--seconds') ? Number(value('--seconds')) : undefined,
    starts: value('--starts') ? Number(value('--starts')) : undefined,
  });
  console.log(formatTable(rows));
}
