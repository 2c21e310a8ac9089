import { execFile, fork } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHUNK = 1024 * 1024;

/** Loopback TCP bandwidth between two Node processes, MB/s: a child writes 1 MiB chunks, this process counts them. */
export async function nodeLoopbackMBps(seconds: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const result = new Promise<number>((resolve) => {
    server.once('connection', (socket) => {
      let bytes = 0;
      let start = 0;
      socket.on('data', (d: Buffer) => {
        if (start === 0) start = performance.now();
        bytes += d.length;
      });
      socket.on('close', () => resolve(bytes / 1e6 / ((performance.now() - start) / 1000)));
    });
  });
  const child = fork(join(import.meta.dirname, 'loopback-writer.ts'), [String(port), String(seconds)], {
    execArgv: ['--import', 'tsx'],
  });
  const mbps = await result;
  child.kill();
  server.close();
  return mbps;
}

/** Drops a file's pages from the page cache (posix_fadvise DONTNEED through dd), so the next read goes to the disk. */
export async function dropFromPageCache(path: string): Promise<void> {
  await run('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
}

export interface DiskFigures {
  /** Sequential 1 MiB writes, each followed by fdatasync: the ceiling of acks=all under the durable policy. */
  writeSyncMBps: number;
  /** Sequential 1 MiB writes to the page cache, one fdatasync at the end: the ceiling of acks=1. */
  writeMBps: number;
  /** Sequential 1 MiB reads of a file dropped from the page cache: the ceiling of a cold read. */
  coldReadMBps: number;
}

/** Sequential write (with and without an fdatasync per write) and cold read bandwidth of the temporary directory's disk. */
export async function diskMBps(totalBytes: number): Promise<DiskFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-bench-disk-'));
  const chunk = Buffer.alloc(CHUNK, 0x61);
  const write = async (name: string, sync: boolean): Promise<number> => {
    const file = await open(join(dir, name), 'w');
    try {
      const start = performance.now();
      for (let written = 0; written < totalBytes; written += CHUNK) {
        await file.write(chunk, 0, CHUNK, written);
        if (sync) await file.datasync();
      }
      if (!sync) await file.datasync();
      return totalBytes / 1e6 / ((performance.now() - start) / 1000);
    } finally {
      await file.close();
    }
  };
  try {
    const writeSyncMBps = await write('synced', true);
    const writeMBps = await write('cached', false);
    await dropFromPageCache(join(dir, 'cached'));
    const file = await open(join(dir, 'cached'), 'r');
    const buf = Buffer.allocUnsafe(CHUNK);
    const start = performance.now();
    let read = 0;
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, CHUNK, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    const coldReadMBps = read / 1e6 / ((performance.now() - start) / 1000);
    await file.close();
    return { writeSyncMBps, writeMBps, coldReadMBps };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
}

/** The spacing of the requests of the `waited` figures below: fine enough for rounds of a tenth of a millisecond. */
const ARRIVAL_STEP_MS = 0.05;

/**
 * Latency of the durable policy's smallest unit of work: append 1 KiB to a file and fdatasync it, `count`
 * times in a row (or as many as fit in `maxMs`). Its percentiles are the floor of acks=all latency (every
 * acknowledgement waits for one).
 *
 * `waited` is what those back-to-back rounds give a request arriving at any moment (every ARRIVAL_STEP_MS), answered
 * at the end of the first round that starts after it arrives: what a broker that syncs before it answers gives at
 * best, whatever its rate. It is the fairer floor when some fdatasyncs stall (beside a bulk writer): a stall of 80
 * ms is one round in the per-round percentiles, but every request arriving during it waits for it and the next.
 */
export async function syncAppendLatencyMs(
  count: number,
  maxMs = Number.POSITIVE_INFINITY,
): Promise<Percentiles & { count: number; waited: Percentiles }> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-bench-sync-'));
  const file = await open(join(dir, 'data'), 'w');
  const chunk = Buffer.alloc(1024, 0x61);
  const starts: number[] = [];
  const ends: number[] = [];
  const until = performance.now() + maxMs;
  try {
    for (let i = 0; i < count && performance.now() < until; i++) {
      starts.push(performance.now());
      await file.write(chunk, 0, chunk.length, i * chunk.length);
      await file.datasync();
      ends.push(performance.now());
    }
  } finally {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  }
  const rounds = percentiles(starts.map((s, i) => ends[i]! - s));
  const waited: number[] = [];
  let round = 0;
  for (let arrival = starts[0]!; arrival < starts.at(-1)!; arrival += ARRIVAL_STEP_MS) {
    while (starts[round]! < arrival) round++;
    waited.push(ends[round]! - arrival);
  }
  return { ...rounds, count: starts.length, waited: percentiles(waited) };
}

function percentiles(samples: number[]): Percentiles {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor((samples.length - 1) * q))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}
