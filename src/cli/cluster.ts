import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { integerFlag, keyValueFlags, parseFlags, UsageError, usageExit } from './tools/args.js';

const CLUSTER_USAGE = `usage: samsa cluster [--brokers N] [--dir DIR] [--port PORT] [--etcd-port PORT] [--override key=value ...]

Starts a local cluster to try Samsa with: one etcd (Debian's etcd-server package: the etcd binary on PATH) and
N brokers (default 3) as processes on this machine, each with its own server.properties and log dir written into
DIR (default: a new temporary directory, kept afterwards). Prints the bootstrap servers. Ctrl-C (SIGINT) or
SIGTERM stops it: the brokers one after another (each a clean, controlled shutdown), then etcd.

options:
  --brokers N        how many brokers, node ids 1..N (default 3)
  --dir DIR          where the configurations, logs and data go; starting again with the same DIR restarts the
                     same cluster
  --port PORT        the first broker's port, the others following (default 9092: 9092, 9093, 9094); 0 picks
                     free ports
  --etcd-port PORT   etcd's client port (default: a free port)
  --override k=v     a server.properties key for every broker (repeatable); {node.id} in the value becomes
                     each broker's id, for keys that differ between brokers (broker.rack=rack-{node.id})`;

const FLAGS = {
  brokers: 'value',
  dir: 'value',
  port: 'value',
  'etcd-port': 'value',
  override: 'repeated',
} as const;

const DEFAULT_BROKERS = 3;
/** In an --override value, each broker's own id: settings that must differ between brokers, such as racks. */
const NODE_ID_PLACEHOLDER = '{node.id}';
/** A local cluster to try things on; more brokers than this on one machine is a mistake, not a trial. */
const MAX_BROKERS = 16;
/** Kafka's default port, the first broker's. */
const DEFAULT_FIRST_PORT = 9092;
const MAX_PORT = 65535;
/** Kafka's default factor for the internal topics; a smaller cluster gets its size instead. */
const INTERNAL_TOPIC_REPLICATION_FACTOR = 3;
/** Kafka's default transaction.state.log.min.isr, capped by the cluster's size the same way. */
const TRANSACTION_STATE_MIN_ISR = 2;
/** The etcd key prefix of this cluster (Samsa's default). */
const ETCD_PREFIX = '/samsa';
/** The address everything listens on: a cluster for this machine only. */
const HOST = '127.0.0.1';
/** How long etcd may take to answer its health check after starting. */
const ETCD_START_TIMEOUT_MS = 30_000;
/** How often etcd's health is asked while it starts. */
const ETCD_POLL_MS = 100;
/** How long a broker may take to log that it started (from source, compiling costs several seconds). */
const BROKER_START_TIMEOUT_MS = 120_000;
/** How long a broker's clean stop may take before it is killed; a controlled shutdown normally takes a second. */
const BROKER_STOP_TIMEOUT_MS = 60_000;
/** How long etcd may take to stop on SIGTERM before it is killed. */
const ETCD_STOP_TIMEOUT_MS = 10_000;
/** The broker's start-up log line, which names the port it serves on. */
const STARTED_LINE = / started .*listener=[^ ]*:(\d+)/;
/** What the broker's output scan keeps at most while it waits for the start-up line. */
const MAX_SCANNED_OUTPUT_CHARS = 1 << 20;

class ClusterError extends Error {}

/** A process the cluster started: its output goes to `logPath`. */
interface Member {
  name: string;
  child: ChildProcess;
  logPath: string;
  log: WriteStream;
  exited: Promise<void>;
}

/**
 * `samsa cluster`: etcd and N brokers as child processes, for trying a cluster on one machine. The children run in
 * their own process groups, so that Ctrl-C in the terminal reaches this command alone and it can stop them in
 * order: brokers first (while etcd is still there for their controlled shutdown, in reverse start order so that
 * the first, usually the controller, goes last and the controller never has to move), then etcd.
 */
export async function runCluster(argv: string[]): Promise<number> {
  let brokers: number;
  let dir: string | undefined;
  let firstPort: number;
  let etcdPort: number | undefined;
  let overrides: Map<string, string>;
  try {
    const flags = parseFlags(argv, FLAGS);
    brokers = integerFlag(flags, 'brokers', 1) ?? DEFAULT_BROKERS;
    if (brokers > MAX_BROKERS) throw new UsageError(`--brokers must be at most ${MAX_BROKERS}, not ${brokers}`);
    dir = flags.values.get('dir');
    firstPort = integerFlag(flags, 'port', 0) ?? DEFAULT_FIRST_PORT;
    if (firstPort + brokers - 1 > MAX_PORT)
      throw new UsageError(`--port ${firstPort} leaves no room for ${brokers} brokers`);
    etcdPort = integerFlag(flags, 'etcd-port', 1);
    if (etcdPort !== undefined && etcdPort > MAX_PORT) throw new UsageError(`--etcd-port must be at most ${MAX_PORT}`);
    overrides = keyValueFlags(flags, 'override');
  } catch (e) {
    return usageExit('cluster', CLUSTER_USAGE, e);
  }

  const members: Member[] = [];
  let stopping: Promise<void> | null = null;
  let stopRequested!: () => void;
  const stopped = new Promise<void>((r) => {
    stopRequested = r;
  });
  const stopAll = () => {
    if (!stopping) {
      stopping = stopMembers(members);
      void stopping.then(stopRequested);
    }
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`${signal}: already stopping (SIGKILL to this process leaves the children running)`);
      return;
    }
    console.log(`${signal}: stopping the cluster`);
    void stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Should this process end without stopping them (an unforeseen exception), its children do not outlive it.
  const killLeftovers = () => {
    for (const m of members) if (isRunning(m.child)) m.child.kill('SIGKILL');
  };
  process.on('exit', killLeftovers);

  try {
    const root = resolve(dir ?? (await mkdtemp(join(tmpdir(), 'samsa-cluster-'))));
    await mkdir(root, { recursive: true });
    const etcd = await startEtcd(root, etcdPort ?? (await freePort()));
    members.push(etcd.member);
    console.log(
      `etcd pid ${etcd.member.child.pid} on ${etcd.endpoint}, data ${join(root, 'etcd')}, log ${etcd.member.logPath}`,
    );
    const bootstrap: string[] = [];
    for (let nodeId = 1; nodeId <= brokers; nodeId++) {
      if (stopping) break;
      const port = firstPort === 0 ? await freePort() : firstPort + nodeId - 1;
      const props = await writeBrokerProperties(root, nodeId, port, brokers, etcd.endpoint, overrides);
      const member = await startBroker(root, nodeId, props, members);
      console.log(
        `broker ${nodeId} pid ${member.child.pid} on ${HOST}:${port}, configuration ${props}, ` +
          `data ${join(root, `broker-${nodeId}`)}, log ${member.logPath}`,
      );
      bootstrap.push(`${HOST}:${port}`);
    }
    if (!stopping) {
      console.log(`bootstrap servers: ${bootstrap.join(',')}`);
      console.log('Ctrl-C stops the cluster (the brokers first, then etcd)');
      for (const m of members) {
        void m.exited.then(() => {
          if (!stopping) console.log(`${m.name} exited (${describeExit(m.child)}); see ${m.logPath}`);
        });
      }
    }
    await stopped;
    console.log(`stopped; the data stays in ${root}`);
    return 0;
  } catch (e) {
    if (!(e instanceof ClusterError)) throw e;
    if (stopping) {
      // Interrupted while starting: what failed is what the signal stopped.
      await stopping;
      return 0;
    }
    console.error(`samsa cluster: ${e.message}`);
    await stopAll();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', killLeftovers);
  }
}

/** Brokers one after another in reverse start order, each with SIGTERM (their clean stop), then etcd. */
async function stopMembers(members: Member[]): Promise<void> {
  for (const m of [...members].reverse()) {
    if (!isRunning(m.child)) continue;
    const timeoutMs = m.name === 'etcd' ? ETCD_STOP_TIMEOUT_MS : BROKER_STOP_TIMEOUT_MS;
    m.child.kill('SIGTERM');
    const stoppedInTime = await Promise.race([
      m.exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref()),
    ]);
    if (!stoppedInTime) {
      console.log(`${m.name} did not stop within ${timeoutMs} ms: killed`);
      m.child.kill('SIGKILL');
      await m.exited;
    }
    console.log(`${m.name} stopped (${describeExit(m.child)})`);
  }
  await Promise.all(members.map((m) => new Promise<void>((r) => m.log.end(r))));
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function describeExit(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
}

/** Spawns `command` in its own process group with its output appended to `logPath`. */
function spawnMember(name: string, command: string, args: string[], logPath: string): Member {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  return { name, child, logPath, log, exited };
}

/** Resolves once the child has spawned; a missing binary is ENOENT here. */
function spawned(child: ChildProcess): Promise<void> {
  return new Promise((ok, fail) => {
    child.once('spawn', ok);
    child.once('error', fail);
  });
}

async function startEtcd(root: string, clientPort: number): Promise<{ member: Member; endpoint: string }> {
  const dataDir = join(root, 'etcd');
  const endpoint = `http://${HOST}:${clientPort}`;
  const peer = `http://${HOST}:${await freePort()}`;
  const member = spawnMember(
    'etcd',
    'etcd',
    [
      '--name=samsa-local',
      // etcd 3.4's default logger is deprecated and says so at every start.
      '--logger=zap',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=samsa-local=${peer}`,
    ],
    join(root, 'etcd.log'),
  );
  try {
    await spawned(member.child);
  } catch (e) {
    member.log.end();
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ClusterError(
        'etcd is not installed (no etcd on PATH): on Debian or Ubuntu, apt-get install etcd-server',
      );
    throw new ClusterError(`etcd did not start: ${(e as Error).message}`);
  }
  let gone = false;
  void member.exited.then(() => (gone = true));
  const deadline = Date.now() + ETCD_START_TIMEOUT_MS;
  for (;;) {
    if (gone)
      throw new ClusterError(`etcd exited (${describeExit(member.child)}) as it started: see ${member.logPath}`);
    try {
      const answer = await fetch(`${endpoint}/health`);
      if (answer.ok && ((await answer.json()) as { health?: string }).health === 'true') break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      member.child.kill('SIGKILL');
      throw new ClusterError(`etcd did not answer within ${ETCD_START_TIMEOUT_MS} ms: see ${member.logPath}`);
    }
    await new Promise((r) => setTimeout(r, ETCD_POLL_MS));
  }
  return { member, endpoint };
}

/** Writes broker `nodeId`'s server.properties (Kafka's keys) into the cluster's dir, for the user to read or reuse. */
async function writeBrokerProperties(
  root: string,
  nodeId: number,
  port: number,
  brokers: number,
  etcdEndpoint: string,
  overrides: Map<string, string>,
): Promise<string> {
  const logDir = join(root, `broker-${nodeId}`);
  await mkdir(logDir, { recursive: true });
  const props = new Map<string, string>([
    ['node.id', String(nodeId)],
    ['listeners', `PLAINTEXT://${HOST}:${port}`],
    ['advertised.listeners', `PLAINTEXT://${HOST}:${port}`],
    ['log.dirs', logDir],
    ['samsa.metadata.store', 'etcd'],
    ['samsa.etcd.endpoints', etcdEndpoint],
    ['samsa.etcd.prefix', ETCD_PREFIX],
    ['offsets.topic.replication.factor', String(Math.min(INTERNAL_TOPIC_REPLICATION_FACTOR, brokers))],
    ['transaction.state.log.replication.factor', String(Math.min(INTERNAL_TOPIC_REPLICATION_FACTOR, brokers))],
    ['transaction.state.log.min.isr', String(Math.min(TRANSACTION_STATE_MIN_ISR, brokers))],
    ...[...overrides].map(([k, v]): [string, string] => [k, v.replaceAll(NODE_ID_PLACEHOLDER, String(nodeId))]),
  ]);
  const path = join(root, `broker-${nodeId}.properties`);
  const lines = [...props].map(([k, v]) => `${k}=${v}`);
  await writeFile(
    path,
    `# Broker ${nodeId} of a local cluster written by \`samsa cluster\`; \`samsa server ${path}\` starts it alone.\n` +
      `${lines.join('\n')}\n`,
  );
  return path;
}

/**
 * Starts `samsa server <props>` with the same Node.js, flags and entry point as this command (the installed
 * `samsa`, or the sources through a loader), and waits for its start-up line.
 */
async function startBroker(root: string, nodeId: number, props: string, members: Member[]): Promise<Member> {
  const entry = process.argv[1];
  if (entry === undefined) throw new ClusterError('cannot tell which script runs samsa');
  const member = spawnMember(
    `broker ${nodeId}`,
    process.execPath,
    [...process.execArgv, entry, 'server', props],
    join(root, `broker-${nodeId}.log`),
  );
  members.push(member);
  await spawned(member.child);
  await new Promise<void>((ok, fail) => {
    let output = '';
    const timer = setTimeout(() => {
      fail(
        new ClusterError(`broker ${nodeId} did not start within ${BROKER_START_TIMEOUT_MS} ms: see ${member.logPath}`),
      );
    }, BROKER_START_TIMEOUT_MS);
    const scan = (d: Buffer) => {
      output = (output + d.toString()).slice(-MAX_SCANNED_OUTPUT_CHARS);
      if (STARTED_LINE.test(output)) {
        clearTimeout(timer);
        member.child.stderr!.off('data', scan);
        ok();
      }
    };
    member.child.stderr!.on('data', scan);
    void member.exited.then(() => {
      clearTimeout(timer);
      fail(
        new ClusterError(
          `broker ${nodeId} exited (${describeExit(member.child)}) before it started: see ${member.logPath}\n` +
            output.trimEnd().split('\n').slice(-5).join('\n'),
        ),
      );
    });
  });
  return member;
}

/** A port free right now on the loopback address. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, HOST, ok);
  });
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
