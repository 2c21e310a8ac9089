import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchRow } from './lib.js';
import { diskWriteMBps, loopbackMBps } from './machine.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const LOADGEN = join(ROOT, 'bench', '.build', 'loadgen');

/** Compiles the librdkafka load generator (Debian's librdkafka-dev) once. */
async function buildLoadgen(): Promise<string> {
  if (!existsSync(LOADGEN)) {
    mkdirSync(join(ROOT, 'bench', '.build'), { recursive: true });
    await run('cc', ['-O2', '-o', LOADGEN, join(ROOT, 'bench', 'loadgen', 'loadgen.c'), '-lrdkafka']);
  }
  return LOADGEN;
}

interface LoadResult {
  messages: number;
  bytes: number;
  seconds: number;
  errors: number;
}

async function loadgen(args: string[]): Promise<LoadResult> {
  const { stdout } = await run(await buildLoadgen(), args, { timeout: 300_000 });
  return JSON.parse(stdout) as LoadResult;
}

/** A broker in its own process, as users run it, on a fresh data directory. */
async function startBrokerProcess(): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-bench-'));
  const props = join(dir, 'server.properties');
  await writeFile(props, `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'server', props], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = / started .*listener=[^ ]*:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${log}`)));
  });
  return {
    bootstrap: `127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Produce and consume throughput against a broker process, driven by the native load generator, beside the
 * machine's own limits measured in the same run: disk write bandwidth (with an fdatasync per MiB for
 * acks=all, whose durable policy syncs before acknowledging; without for acks=1) and loopback bandwidth.
 */
export async function brokerSuite({ quick }: { quick: boolean }): Promise<BenchRow[]> {
  const diskBytes = (quick ? 128 : 512) * 1024 * 1024;
  const diskSync = await diskWriteMBps(diskBytes, true);
  const diskCache = await diskWriteMBps(diskBytes, false);
  const loopback = await loopbackMBps(quick ? 1 : 3);
  const rows: BenchRow[] = [
    { workload: 'disk write, 1 MiB + fdatasync', figure: diskSync, unit: 'MB/s' },
    { workload: 'disk write, page cache', figure: diskCache, unit: 'MB/s' },
    { workload: 'loopback TCP, process to process', figure: loopback, unit: 'MB/s' },
  ];
  const count = quick ? 100_000 : 500_000;
  const broker = await startBrokerProcess();
  try {
    for (const [acks, codec] of [
      ['1', 'none'],
      ['all', 'none'],
      ['all', 'zstd'],
    ] as const) {
      const topic = `bench-${acks}-${codec}`;
      const r = await loadgen(['produce', broker.bootstrap, topic, String(count), '1024', acks, codec]);
      const limit = acks === 'all' ? diskSync : diskCache;
      rows.push({
        workload: `produce 1 KiB, acks=${acks}, ${codec}, 1 partition (${Math.round(r.messages / r.seconds)} rec/s)`,
        figure: r.bytes / 1e6 / r.seconds,
        unit: 'MB/s',
        limit,
        limitName: acks === 'all' ? 'disk+fdatasync' : 'disk',
      });
    }
    const c = await loadgen(['consume', broker.bootstrap, 'bench-1-none', String(count)]);
    rows.push({
      workload: `consume 1 KiB from the start, 1 partition (${Math.round(c.messages / c.seconds)} rec/s)`,
      figure: c.bytes / 1e6 / c.seconds,
      unit: 'MB/s',
      limit: loopback,
      limitName: 'loopback',
    });
  } finally {
    await broker.stop();
  }
  return rows;
}
