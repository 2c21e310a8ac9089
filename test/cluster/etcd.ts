import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The etcd server binary (Debian's etcd-server package); the tests that need it skip, saying so, without it. */
export const ETCD_BINARY = process.env.ETCD_BINARY ?? 'etcd';

function etcdInstalled(): boolean {
  try {
    execFileSync(ETCD_BINARY, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A skip reason for node:test when etcd is not installed (CI installs it: there the tests always run). */
export const etcdUnavailable: string | false = etcdInstalled()
  ? false
  : `etcd is not installed (apt-get install etcd-server, or set ETCD_BINARY): etcd tests skipped`;

/** How long etcd may take to answer its first request. */
const START_TIMEOUT_MS = 20_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface EtcdServer {
  endpoint: string;
  /** Stops the process (SIGTERM) and waits for it; the data dir stays, so start() brings the same data back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * Freezes the process (SIGSTOP): its sockets stay open and connections are still accepted by the kernel, but
   * nothing is answered, as an etcd that hangs or is cut off mid-conversation. resume() (SIGCONT) thaws it.
   */
  pause(): void;
  resume(): void;
  /** Stops it and removes its data dir. */
  destroy(): Promise<void>;
}

export interface EtcdOptions {
  /** The address to serve on (default loopback, on free ports); another one gets etcd's usual ports 2379/2380. */
  host?: string;
  /** A command prefix to run etcd with (a network namespace's `ip netns exec <ns>`). */
  wrapper?: string[];
}

/** Starts of etcd whose free ports were taken meanwhile, before the start fails. */
const PORT_ATTEMPTS = 3;

/** One etcd member on free loopback ports (or `options.host`) with a temporary data dir. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(options);
    } catch (e) {
      // A port found free was taken before etcd bound it (a busy machine): new ports.
      if (options.host || attempt >= PORT_ATTEMPTS || !String(e).includes('address already in use')) throw e;
    }
  }
}

async function startEtcdOnce(options: EtcdOptions): Promise<EtcdServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'samsa-etcd-'));
  const host = options.host ?? '127.0.0.1';
  const clientPort = options.host ? 2379 : await freePort();
  const peerPort = options.host ? 2380 : await freePort();
  const endpoint = `http://${host}:${clientPort}`;
  const peer = `http://${host}:${peerPort}`;
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    const [command, ...prefix] = [...(options.wrapper ?? []), ETCD_BINARY];
    child = spawn(
      command!,
      [
        ...prefix,
        '--name=samsa-test',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=samsa-test=${peer}`,
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<never>((_, reject) =>
      child!.once('exit', (code) => reject(new Error(`etcd exited (${code}) before it was ready: ${output}`))),
    );
    const deadline = Date.now() + START_TIMEOUT_MS;
    const ready = (async () => {
      for (;;) {
        try {
          const r = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' });
          if (r.ok) return;
        } catch {}
        if (Date.now() > deadline) throw new Error(`etcd did not answer within ${START_TIMEOUT_MS} ms: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await Promise.race([ready, exited]);
    exited.catch(() => {});
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || (c.signalCode !== null && c.signalCode !== 'SIGSTOP')) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    // A paused etcd is thawed first, or SIGTERM waits for it.
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    await exited;
  };
  const signal = (name: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error('etcd is not running');
    child.kill(name);
  };
  try {
    await start();
  } catch (e) {
    await stop();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    endpoint,
    start,
    stop,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    destroy: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` with a fresh etcd, removed afterwards. */
export async function withEtcd<T>(fn: (etcd: EtcdServer) => Promise<T>): Promise<T> {
  const etcd = await startEtcd();
  try {
    return await fn(etcd);
  } finally {
    await etcd.destroy();
  }
}
