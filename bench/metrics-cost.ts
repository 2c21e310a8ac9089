/**
 * `npx tsx bench/metrics-cost.ts [--quick]`: the cost of metrics on the produce path. The same produce workloads
 * against a broker without samsa.http.listener (metrics off) and with it (metrics counted, /metrics scraped every
 * second during the run), in alternating rounds of fresh broker processes, so that both share the machine's
 * state; prints the median of each, and the broker's CPU time per record, which other work on the machine
 * disturbs less than throughput.
 */
import { request } from 'node:http';
import { BrokerMetrics } from '../src/broker/broker-metrics.js';
import { apis } from '../src/protocol/generated/index.js';
import { buildLoadgen, loadgen } from './broker.js';
import { buildDist, cpuSeconds, startBrokerProcess } from './broker-process.js';
import { WireClient } from './wire.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 5;
const SCRAPE_INTERVAL_MS = 1000;
const MB = 1e6;

const workloads = [
  { size: 100, partitions: 12, count: quick ? 1_000_000 : 3_000_000 },
  { size: 1024, partitions: 1, count: quick ? 300_000 : 1_000_000 },
];

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

interface Result {
  mbps: number;
  recPerSec: number;
  /** Broker CPU microseconds per record produced. */
  cpuUsPerRecord: number;
}

async function run(metrics: boolean, w: (typeof workloads)[number]): Promise<Result> {
  const broker = await startBrokerProcess({
    properties: metrics ? { 'samsa.http.listener': '127.0.0.1:0' } : {},
  });
  try {
    const client = await WireClient.connect(broker.port);
    const res = await client.request(apis.CreateTopics, 4, {
      topics: [{ name: 'cost', numPartitions: w.partitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    if (res.topics[0]?.errorCode !== 0) throw new Error(`CreateTopics: ${res.topics[0]?.errorCode}`);
    client.close();
    let httpPort = 0;
    let timer: NodeJS.Timeout | null = null;
    if (metrics) {
      httpPort = Number(/http listener bound address=\S*:(\d+)/.exec(broker.log())?.[1]);
      if (!httpPort) throw new Error(`no http listener in the broker's log: ${broker.log()}`);
      timer = setInterval(() => scrape(httpPort).catch(() => {}), SCRAPE_INTERVAL_MS);
    }
    const cpuBefore = cpuSeconds(broker.pid);
    const r = await loadgen([
      'produce',
      broker.bootstrap,
      'cost',
      String(w.count),
      String(w.size),
      '1',
      'none',
      String(w.partitions),
    ]);
    const cpu = cpuSeconds(broker.pid) - cpuBefore;
    if (timer) clearInterval(timer);
    if (r.errors > 0) throw new Error(`${r.errors} delivery errors`);
    if (metrics) {
      const m = /^kafka_server_brokertopicmetrics_messagesin_total (\d+)$/m.exec(await scrape(httpPort));
      if (Number(m?.[1]) !== w.count) throw new Error(`messagesin_total ${m?.[1]}, expected ${w.count}`);
    }
    return { mbps: r.bytes / MB / r.seconds, recPerSec: r.messages / r.seconds, cpuUsPerRecord: (cpu * 1e6) / w.count };
  } finally {
    await broker.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Nanoseconds per call of the hot-path hooks, in this process: the per-partition and the per-request ones. */
function hookCosts(): void {
  const metrics = new BrokerMetrics(true);
  const topics = Array.from({ length: 12 }, (_, i) => `topic-${i}`);
  const response = {
    responses: [{ name: 't', partitionResponses: topics.map((_, index) => ({ index, errorCode: 0 })) }],
  };
  const calls = quick ? 2_000_000 : 10_000_000;
  // The best of three rounds: the first warms the code up, and other work on the machine only adds time.
  let perPartition = Number.POSITIVE_INFINITY;
  let perRequest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    let t = performance.now();
    for (let i = 0; i < calls; i++) metrics.messagesIn(topics[i % 12]!, 10, 1000);
    perPartition = Math.min(perPartition, ((performance.now() - t) * 1e6) / calls);
    t = performance.now();
    for (let i = 0; i < calls / 10; i++) metrics.requestCompleted(0, 'Produce', 9, response, metrics.requestStarted());
    perRequest = Math.min(perRequest, ((performance.now() - t) * 1e6) / (calls / 10));
  }
  console.log(
    `hooks: messagesIn ${perPartition.toFixed(0)} ns per partition append; request count, errors and latency ${perRequest.toFixed(0)} ns per Produce of 12 partitions`,
  );
}

async function main(): Promise<void> {
  hookCosts();
  await Promise.all([buildDist(), buildLoadgen()]);
  for (const w of workloads) {
    const off: Result[] = [];
    const on: Result[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      off.push(await run(false, w));
      on.push(await run(true, w));
    }
    const name = `produce ${w.size} B, acks=1, ${w.partitions} partition(s), ${w.count} records`;
    for (const [label, rs] of [
      ['metrics off', off],
      ['metrics on ', on],
    ] as const) {
      console.log(
        `${name} | ${label} | median ${median(rs.map((r) => r.mbps)).toFixed(1)} MB/s, ${Math.round(median(rs.map((r) => r.recPerSec)))} rec/s, broker CPU ${median(rs.map((r) => r.cpuUsPerRecord)).toFixed(2)} µs/record | runs ${rs.map((r) => r.mbps.toFixed(1)).join(' ')} MB/s`,
      );
    }
  }
}

await main();
