/**
 * `npm run bench`: measures the machine's own limits, then Samsa's figures, and prints them side by side.
 * `--quick` shortens every measurement. Results are also written as JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brokerSuite } from './broker.js';
import { type BenchRow, formatTable, memcpyMBps } from './lib.js';
import { codecSuite, compressionSuite, crcSuite } from './protocol.js';

const quick = process.argv.includes('--quick');
const minMs = quick ? 200 : 1000;

async function main(): Promise<void> {
  const memcpy = memcpyMBps(minMs);
  const rows: BenchRow[] = [{ workload: 'memcpy (1 MiB blocks)', figure: memcpy, unit: 'MB/s' }];
  // Each suite gets the limits measured above and returns its rows.
  const suites: Array<(ctx: { memcpyMBps: number; minMs: number }) => Promise<BenchRow[]> | BenchRow[]> = [
    crcSuite,
    compressionSuite,
    codecSuite,
  ];
  for (const suite of suites) rows.push(...(await suite({ memcpyMBps: memcpy, minMs })));
  rows.push(...(await brokerSuite({ quick })));

  console.log(formatTable(rows));
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ quick, node: process.version, rows }, null, 2)}\n`);
  console.log(`\nwritten to ${file}`);
}

await main();
