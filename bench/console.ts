/**
 * What the web console costs: the size of its page (raw and gzipped, as served), and the time its API takes for a
 * full message browser page (500 records of 1 KiB values, as text, JSON and hex), a topic list and a group list,
 * against an in-process broker (median of `--runs`, default 20, after a warm-up).
 * `npx tsx bench/console.ts [--runs N]`.
 */
import { gzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { buildWeb } from '../scripts/build-web.mjs';
import { startBroker } from '../src/broker/broker.js';
import { loadAssets } from '../src/console/console-assets.js';

const RECORDS = 500;
const VALUE_BYTES = 1024;

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const runs = arg('runs', 20);
await buildWeb();
const assets = (await loadAssets())!;
let raw = 0;
let zipped = 0;
for (const asset of assets.values()) {
  raw += asset.body.length;
  zipped += gzipSync(asset.body).length;
}
console.log(`page: ${assets.size} files, ${raw} bytes, ${zipped} gzipped`);

const broker = await startBroker({ httpListener: { host: '127.0.0.1', port: 0 } });
const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
const producer = kafka.producer();
await producer.connect();
const value = JSON.stringify({ payload: 'x'.repeat(VALUE_BYTES - 16) });
for (let t = 0; t < 20; t++) {
  await producer.send({
    topic: `bench-${t}`,
    messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `key-${i}`, value, headers: { n: String(i) } })),
  });
}
await producer.disconnect();

async function median(path: string): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${broker.httpPort}${path}`);
    bytes = (await response.arrayBuffer()).byteLength;
    if (i > 0) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, bytes };
}

for (const format of ['text', 'json', 'hex']) {
  const r = await median(`/api/topics/bench-0/partitions/0/records?offset=0&limit=${RECORDS}&format=${format}`);
  console.log(`browse ${RECORDS} records of ${VALUE_BYTES} B as ${format}: ${r.ms.toFixed(1)} ms, ${r.bytes} bytes`);
}
const topics = await median('/api/topics');
console.log(`topic list (20 topics): ${topics.ms.toFixed(1)} ms`);
const cluster = await median('/api/cluster');
console.log(`cluster: ${cluster.ms.toFixed(1)} ms`);
await broker.stop();
