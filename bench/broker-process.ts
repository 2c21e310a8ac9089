import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, '..');

/** Compiles src/ to dist/ when a source file is newer than the compiled entry point: the broker runs as users run it. */
export async function buildDist(): Promise<void> {
  const entry = join(ROOT, 'dist', 'cli', 'main.js');
  let builtMs = 0;
  try {
    builtMs = statSync(entry).mtimeMs;
  } catch {}
  const newest = async (dir: string): Promise<number> => {
    let max = 0;
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      max = Math.max(max, e.isDirectory() ? await newest(path) : statSync(path).mtimeMs);
    }
    return max;
  };
  if ((await newest(join(ROOT, 'src'))) > builtMs) {
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
    });
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface BrokerProcess {
  pid: number;
  port: number;
  bootstrap: string;
  dataDir: string;
  /** Milliseconds from spawn to the log line saying the broker started. */
  startedMs: number;
  /** The broker's recent log output. */
  log(): string;
  /** Event-loop delay since the previous call (the broker is preloaded with bench/eld-probe.mjs). */
  eventLoopDelay(): Promise<{ p50: number; p99: number; max: number; memory?: Record<string, number> }>;
  stop(): Promise<void>;
}

export interface BrokerOptions {
  /** server.properties lines beyond the listener and the log dir. */
  properties?: Record<string, string>;
  /** A directory for `node --cpu-prof` output, or none. */
  cpuProfDir?: string;
  /** An existing data directory to start on (kept on stop). */
  dataDir?: string;
  port?: number;
  /** Extra options for node (V8 flags), before the script. */
  nodeArgs?: string[];
  /** Another build's bin/samsa.js to start instead of this checkout's (to compare before and after a change). */
  samsaBin?: string;
  /** Extra environment variables for the broker process. */
  env?: Record<string, string>;
}

/** CPU seconds (user + system) a process has used: less sensitive than throughput to other work on the machine. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * The flags the first line of a bin/samsa.js gives node (`#!/usr/bin/env -S node <flags>`): the broker is spawned
 * through node here, to preload the probe, and gets them as the `samsa` command would. A variant's node arguments
 * come after them, and V8 takes the last of two values of a flag.
 */
function launcherFlags(samsaBin: string): string[] {
  const first = readFileSync(samsaBin, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env(?: -S)? node((?: \S+)*)\s*$/.exec(first);
  return m?.[1] ? m[1].trim().split(' ') : [];
}

/** A broker in its own process, started as users start it: `samsa server <properties>`. */
export async function startBrokerProcess(options: BrokerOptions = {}): Promise<BrokerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-bench-'));
  const dataDir = options.dataDir ?? join(dir, 'data');
  const props = join(dir, 'server.properties');
  const port = options.port ?? 0;
  const lines = {
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    'log.dirs': dataDir,
    // As config/server.properties sets it (and Kafka's shipped server.properties): a consumer group's first member
    // is not held 3 s for others to join. Kafka 0.9, whose Java consumer the clients group runs, had no such delay;
    // with it, ConsumerPerformance's rate counted the 3 s.
    'group.initial.rebalance.delay.ms': '0',
    ...options.properties,
  };
  await writeFile(
    props,
    `${Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  const samsaBin = options.samsaBin ?? join(ROOT, 'bin', 'samsa.js');
  const execArgv = [
    ...launcherFlags(samsaBin),
    ...(options.nodeArgs ?? []),
    '--import',
    join(ROOT, 'bench', 'eld-probe.mjs'),
  ];
  if (options.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  const spawned = performance.now();
  const child = spawn(process.execPath, [...execArgv, samsaBin, 'server', props], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SAMSA_LOG_LEVEL: 'info', ...options.env },
  });
  let log = '';
  const eldWaiters: Array<(v: { p50: number; p99: number; max: number; memory?: Record<string, number> }) => void> = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<{ port: number; ms: number }>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      for (;;) {
        const m = /samsa-bench-eld (\{[^\n]*\})\n/.exec(log);
        if (!m) break;
        log = log.slice(0, m.index) + log.slice(m.index + m[0].length);
        eldWaiters.shift()?.(JSON.parse(m[1]!));
      }
      const s = / started .*listener=[^ ]*:(\d+)/.exec(log);
      if (s) resolve({ port: Number(s[1]), ms: performance.now() - spawned });
      if (log.length > 1 << 20) log = log.slice(-4096);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${log}`)));
  });
  const { port: boundPort, ms } = await started;
  return {
    pid: child.pid!,
    port: boundPort,
    bootstrap: `127.0.0.1:${boundPort}`,
    dataDir,
    startedMs: ms,
    log: () => log,
    eventLoopDelay: () =>
      new Promise((resolve) => {
        eldWaiters.push(resolve);
        child.kill('SIGUSR2');
      }),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(options.dataDir ? props : dir, { recursive: true, force: true });
      if (options.dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Samples a process's RSS every `everyMs` until stopped: the largest seen overall, and since the last look. */
export function sampleRss(pid: number, everyMs = 100): { stop: () => number; sinceLastLook: () => number } {
  let max = rssBytes(pid);
  let recent = max;
  const timer = setInterval(() => {
    try {
      const now = rssBytes(pid);
      max = Math.max(max, now);
      recent = Math.max(recent, now);
    } catch {}
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
    sinceLastLook: () => {
      const r = recent;
      recent = 0;
      return r;
    },
  };
}
