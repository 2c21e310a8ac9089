/**
 * `npm run bench`: measures the machine's own limits, then Samsa's figures, and prints them side by side.
 * `--quick` shortens every measurement (a few minutes); `--profile` also writes a CPU profile of the main
 * broker process (node --cpu-prof) under bench/results/profiles/; `--only memory` runs the memory figures alone
 * (bench/memory.ts), `--only latency` the durable latency (bench/latency.ts) and `--only clients` the clients as
 * users run them (bench/clients.ts), each with the machine's limits it is compared with. Results are written as
 * JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { authorizerSuite } from './authorizer.js';
import { brokerSuite, buildLoadgen, loopbackMBps } from './broker.js';
import { buildDist } from './broker-process.js';
import { clientsSuite } from './clients.js';
import { latencySuite, waitedRows } from './latency.js';
import { type BenchRow, formatTable, memcpyMBps } from './lib.js';
import { diskMBps, nodeLoopbackMBps, syncAppendLatencyMs } from './machine.js';
import { memorySuite } from './memory.js';
import { codecSuite, compressionSuite, crcSuite } from './protocol.js';

const quick = process.argv.includes('--quick');
const profile = process.argv.includes('--profile');
const minMs = quick ? 200 : 1000;
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const groups = ['memory', 'latency', 'clients'];
if (only !== undefined && !groups.includes(only)) throw new Error(`--only takes ${groups.join(', ')}, not ${only}`);

/** Every figure shares the machine with whatever else runs: say so when something else is busy. */
function busyWarning(): string | null {
  const [load] = loadavg();
  const cpus = availableParallelism();
  return load! > cpus / 2
    ? `warning: load average ${load!.toFixed(1)} on ${cpus} CPUs before the run: other work is competing, figures will be low and noisy`
    : null;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadAverageBefore = loadavg()[0];
  const before = busyWarning();
  if (before) console.error(before);
  const resultsDir = join(import.meta.dirname, 'results');
  await buildLoadgen();
  if (only === 'memory') {
    const rows = await memorySuite({ quick });
    report(rows, resultsDir, started, loadAverageBefore, before);
    return;
  }
  if (only === 'latency') {
    await buildDist();
    const rows = await latencySuite({ quick });
    report(rows, resultsDir, started, loadAverageBefore, before);
    return;
  }
  if (only === 'clients') {
    await buildDist();
    // The limits the clients' rows are compared with, measured in the same run.
    const disk = await diskMBps((quick ? 256 : 1024) * 1024 * 1024);
    const loopback = await loopbackMBps(1);
    const rows: BenchRow[] = [
      { workload: 'machine: sequential write, 1 MiB, page cache', figure: disk.writeMBps, unit: 'MB/s' },
      { workload: 'machine: loopback TCP, process to process (C, 1 MiB writes)', figure: loopback, unit: 'MB/s' },
      ...(await clientsSuite({ quick, limits: { diskWriteMBps: disk.writeMBps, loopbackMBps: loopback } })),
    ];
    report(rows, resultsDir, started, loadAverageBefore, before);
    return;
  }
  // The machine's limits, measured first and in the same run as everything compared with them.
  const memcpy = memcpyMBps(minMs);
  const disk = await diskMBps((quick ? 256 : 1024) * 1024 * 1024);
  const loopback = await loopbackMBps(quick ? 1 : 3);
  const nodeLoopback = await nodeLoopbackMBps(quick ? 1 : 3);
  const sync = await syncAppendLatencyMs(quick ? 1000 : 5000);
  const rows: BenchRow[] = [
    { workload: 'machine: memcpy (1 MiB blocks)', figure: memcpy, unit: 'MB/s' },
    { workload: 'machine: sequential write, 1 MiB + fdatasync each', figure: disk.writeSyncMBps, unit: 'MB/s' },
    { workload: 'machine: sequential write, 1 MiB, page cache', figure: disk.writeMBps, unit: 'MB/s' },
    { workload: 'machine: sequential read, 1 MiB, cold (page cache dropped)', figure: disk.coldReadMBps, unit: 'MB/s' },
    { workload: 'machine: append 1 KiB + fdatasync, latency p50', figure: sync.p50, unit: 'ms' },
    { workload: 'machine: append 1 KiB + fdatasync, latency p99', figure: sync.p99, unit: 'ms' },
    { workload: 'machine: append 1 KiB + fdatasync, latency p99.9', figure: sync.p999, unit: 'ms' },
    ...waitedRows(sync),
    { workload: 'machine: loopback TCP, process to process (C, 1 MiB writes)', figure: loopback, unit: 'MB/s' },
    {
      workload: 'machine: loopback TCP, Node process to Node process (1 MiB writes)',
      figure: nodeLoopback,
      unit: 'MB/s',
      limit: loopback,
      limitName: 'loopback',
    },
  ];
  // Each in-memory suite gets the limits measured above and returns its rows.
  const suites: Array<(ctx: { memcpyMBps: number; minMs: number }) => Promise<BenchRow[]> | BenchRow[]> = [
    crcSuite,
    compressionSuite,
    codecSuite,
    authorizerSuite,
  ];
  for (const suite of suites) rows.push(...(await suite({ memcpyMBps: memcpy, minMs })));
  const cpuProfDir = profile ? join(resultsDir, 'profiles') : undefined;
  rows.push(
    ...(await brokerSuite({
      quick,
      cpuProfDir,
      limits: {
        diskWriteSyncMBps: disk.writeSyncMBps,
        diskWriteMBps: disk.writeMBps,
        diskColdReadMBps: disk.coldReadMBps,
        loopbackMBps: loopback,
      },
    })),
  );
  rows.push(...(await latencySuite({ quick, sync })));
  rows.push(...(await clientsSuite({ quick, limits: { diskWriteMBps: disk.writeMBps, loopbackMBps: loopback } })));
  rows.push(...(await memorySuite({ quick })));
  report(rows, resultsDir, started, loadAverageBefore, before);
}

function report(
  rows: BenchRow[],
  resultsDir: string,
  started: number,
  loadAverageBefore: number | undefined,
  before: string | null,
): void {
  console.log(formatTable(rows));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const seconds = (performance.now() - started) / 1000;
  const machine = { cpus: availableParallelism(), loadAverageBefore, warning: before };
  writeFileSync(file, `${JSON.stringify({ quick, node: process.version, machine, seconds, rows }, null, 2)}\n`);
  console.log(`\n${seconds.toFixed(0)} s; written to ${file}`);
  if (before) console.log(before);
}

await main();
