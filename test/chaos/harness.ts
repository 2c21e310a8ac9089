import { type ChildProcess, spawn } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis, defaultFetchRequest, defaultListOffsetsRequest } from '../../src/protocol/generated/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { RawClient } from '../integration/raw-client.js';

/** The CLI's entry point, run from source through tsx, as the other process tests do. */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** How long a broker process may take to start (tsx compiles the sources on the way) before it counts as hung. */
export const START_TIMEOUT_MS = 60_000;
/** How long a clean stop may take before it counts as hung. */
const STOP_TIMEOUT_MS = 30_000;
/** How often the broker's peak RSS is read from /proc while it runs (the kernel keeps the peak; we keep the last read). */
const RSS_SAMPLE_MS = 200;

/**
 * A small seeded PRNG (mulberry32): every random choice of a probe comes from one, so that a failure is
 * replayed by passing the seed it printed.
 */
export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** A seed from the environment (CHAOS_SEED) or the clock, printed by every probe. */
export function chooseSeed(): number {
  const fromEnv = process.env['CHAOS_SEED'];
  return fromEnv ? Number(fromEnv) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** A port free right now, so that a restarted broker listens where its clients expect it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Memory-backed /dev/shm where there is one: every case restarts a broker whose clean stop syncs each log and
 * checkpoint, and on a disk those syncs were most of the slice's time. What is judged does not depend on it.
 */
export async function fastTempRoot(): Promise<string> {
  const shm = '/dev/shm';
  return access(shm, constants.W_OK).then(
    () => shm,
    () => tmpdir(),
  );
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-chaos-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes a server.properties with Kafka's keys; `extra` overrides or adds keys. */
export async function writeServerProperties(
  path: string,
  logDir: string,
  port: number,
  extra: Record<string, string | number> = {},
): Promise<void> {
  const props: Record<string, string | number> = {
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'log.dirs': logDir,
    ...extra,
  };
  await writeFile(
    path,
    `${Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
}

/**
 * `samsa server <props>` as a child process: its port from the start-up log line, its whole log, its exit,
 * and its peak resident set size (VmHWM from /proc, sampled while it runs).
 */
export class BrokerProcess {
  readonly child: ChildProcess;
  /** Resolves with the listening port once the broker logged that it started; rejects if it exits first. */
  readonly started: Promise<number>;
  /** Resolves when the process is gone, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log = '';
  peakRssBytes = 0;
  private readonly sampler: NodeJS.Timeout;

  /** `wrapper`: a command prefix to run the broker with (a network namespace's `ip netns exec <ns>`, which execs it). */
  constructor(propsPath: string, env: Record<string, string> = {}, wrapper: string[] = []) {
    const [command, ...args] = [...wrapper, process.execPath, '--import', 'tsx', MAIN, 'server', propsPath];
    this.child = spawn(command!, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        clearInterval(this.sampler);
        resolve({ code, signal });
      }),
    );
    this.started = new Promise<number>((resolve, reject) => {
      this.child.stderr!.on('data', (d: Buffer) => {
        this.log += d.toString();
        const m = / started .*listener=[^ ]*:(\d+)/.exec(this.log);
        if (m) resolve(Number(m[1]));
      });
      this.child.once('exit', (code, signal) =>
        reject(new Error(`broker exited (${code ?? signal}) before it started:\n${this.log}`)),
      );
    });
    // Callers that only kill the broker need not observe a failed start.
    this.started.catch(() => {});
    this.sampler = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS);
    this.sampler.unref();
  }

  /** Waits for the start-up line, failing as hung after START_TIMEOUT_MS. */
  async waitStarted(): Promise<number> {
    const port = await withTimeout(this.started, START_TIMEOUT_MS, 'broker start-up');
    this.sampleRss();
    return port;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private sampleRss(): void {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) this.peakRssBytes = Math.max(this.peakRssBytes, Number(m[1]) * 1024);
    } catch {
      // The process is gone, or this is not Linux: the last sample stands.
    }
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    this.sampleRss();
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a clean stop: checkpoints and the clean shutdown marker), failing as hung after `timeoutMs`. */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    this.sampleRss();
    if (this.running) this.child.kill('SIGTERM');
    try {
      await withTimeout(this.exited, timeoutMs, 'broker clean stop');
    } catch (e) {
      await this.kill();
      throw e;
    }
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StoredRecord {
  offset: number;
  key: string | null;
  value: string | null;
}

export interface PartitionRead {
  records: StoredRecord[];
  /** The end the broker reported: high watermark (read_uncommitted) or last stable offset (read_committed). */
  endOffset: number;
  logStartOffset: number;
  /** The first and last offset of every batch read, control batches included: the offsets the log holds. */
  batches: Array<[number, number]>;
  /** Set when the read stopped before the end: the error code or the reason. */
  stoppedBy: string | null;
}

/** Fetch v11 (the last version naming topics, not ids) of a partition's records from its log start to its end. */
export async function readPartition(
  client: RawClient,
  topic: string,
  partition: number,
  isolationLevel: 0 | 1 = 0,
): Promise<PartitionRead> {
  const list = await client.request(apis.ListOffsets, 4, {
    ...defaultListOffsetsRequest(),
    replicaId: -1,
    isolationLevel,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
      },
    ],
  });
  const listed = list.topics[0]?.partitions[0];
  if (!listed || listed.errorCode !== ErrorCode.NONE) {
    return {
      records: [],
      batches: [],
      endOffset: -1,
      logStartOffset: -1,
      stoppedBy: `ListOffsets error ${listed?.errorCode}`,
    };
  }
  const endOffset = Number(listed.offset);
  const records: StoredRecord[] = [];
  const ranges: Array<[number, number]> = [];
  let logStartOffset = -1;
  let next = 0;
  const abortingProducers = new Set<bigint>();
  for (;;) {
    const fetch = await client
      .request(apis.Fetch, 11, {
        ...defaultFetchRequest(),
        maxWaitMs: 0,
        maxBytes: 4 << 20,
        isolationLevel,
        topics: [
          {
            topic,
            topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(next),
                lastFetchedEpoch: -1,
                logStartOffset: -1n,
                partitionMaxBytes: 4 << 20,
                replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA',
              },
            ],
          },
        ],
      })
      .catch((e: Error) => e);
    if (fetch instanceof Error)
      return { records, batches: ranges, endOffset, logStartOffset, stoppedBy: `${fetch.message} at offset ${next}` };
    const p = fetch.responses[0]?.partitions[0];
    if (!p)
      return { records, batches: ranges, endOffset, logStartOffset, stoppedBy: 'no partition in the Fetch response' };
    if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && next === 0 && Number(p.logStartOffset) > 0) {
      // The log starts later (retention or DeleteRecords): read from its start.
      next = Number(p.logStartOffset);
      continue;
    }
    if (p.errorCode !== ErrorCode.NONE)
      return {
        records,
        batches: ranges,
        endOffset,
        logStartOffset,
        stoppedBy: `Fetch error ${p.errorCode} at ${next}`,
      };
    logStartOffset = Number(p.logStartOffset);
    // Kafka's consumer algorithm: a transactional batch of a producer whose aborted transaction began at or
    // before it is skipped until that producer's ABORT marker.
    const aborted = (p.abortedTransactions ?? [])
      .map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))
      .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
    const before = next;
    let batches: ReturnType<typeof readBatches>['batches'];
    try {
      batches = readBatches(p.records ?? Buffer.alloc(0)).batches;
    } catch (e) {
      return {
        records,
        batches: ranges,
        endOffset,
        logStartOffset,
        stoppedBy: `unreadable batch at ${next}: ${(e as Error).message}`,
      };
    }
    for (const batch of batches) {
      const last = Number(batch.lastOffset);
      if (last < next) continue;
      if (!batch.verifyCrc())
        return {
          records,
          batches: ranges,
          endOffset,
          logStartOffset,
          stoppedBy: `batch with a bad CRC at ${batch.baseOffset}`,
        };
      while (aborted.length > 0 && aborted[0]!.firstOffset <= batch.lastOffset)
        abortingProducers.add(aborted.shift()!.producerId);
      const abortedBatch = isolationLevel === 1 && batch.isTransactional && abortingProducers.has(batch.producerId);
      if (batch.isControl) abortingProducers.delete(batch.producerId);
      ranges.push([Number(batch.baseOffset), last]);
      if (!batch.isControl && !abortedBatch) {
        for (const r of batch.records()) {
          if (Number(r.offset) < next) continue;
          records.push({
            offset: Number(r.offset),
            key: r.key?.toString() ?? null,
            value: r.value?.toString() ?? null,
          });
        }
      }
      next = last + 1;
    }
    if (next >= endOffset) return { records, batches: ranges, endOffset, logStartOffset, stoppedBy: null };
    if (next === before)
      return { records, batches: ranges, endOffset, logStartOffset, stoppedBy: `no progress at offset ${next}` };
  }
}

/** One line of figures, as every probe prints them at its end. */
export function printFigures(probe: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`chaos ${probe}: ${text}`);
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}MiB`;
}

export { RawClient };
