// What the compatibility suites share: Debian's packages and sources, a Samsa broker started for a suite, child
// processes with a time limit, and the shape of a result.
//
// A result is { name, status: 'passed' | 'failed' | 'skipped', detail }, where detail is the first error line of
// a failure or the reason for a skip. A suite answers { suite, source, command, broker, results, notes }.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
// Everything fetched or built for the suites lives here, and is git-ignored: none of it is committed.
export const WORK = join(REPO, '.compat');

// A deb-src stanza beside the machine's own sources, so `apt-get source` finds Debian's source packages.
const DEB_SRC_FILE = '/etc/apt/sources.list.d/samsa-compat-src.sources';
const DEB_SRC_STANZA = `# Debian's source packages, for Samsa's compatibility suites (npm run compat).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

export function log(message) {
  console.log(`[compat] ${message}`);
}

/** Runs a command to its end, its output inherited; throws when it fails. */
export function sh(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  }
}

let aptUpdated = false;

/** Adds the deb-src stanza (once: it is left in place for the next run) and refreshes apt's lists once a run. */
export function ensureDebSrc() {
  if (!existsSync(DEB_SRC_FILE)) {
    log(`adding ${DEB_SRC_FILE}`);
    writeFileSync(DEB_SRC_FILE, DEB_SRC_STANZA);
    aptUpdated = false;
  }
  if (!aptUpdated) {
    sh('apt-get', ['update', '-qq']);
    aptUpdated = true;
  }
}

export function aptInstall(packages) {
  const missing = packages.filter((name) => {
    const status = spawnSync('dpkg', ['-s', name], { encoding: 'utf8' });
    return !status.stdout?.includes('Status: install ok installed');
  });
  if (missing.length === 0) return;
  ensureDebSrc();
  log(`apt-get install ${missing.join(' ')}`);
  sh('apt-get', ['install', '-y', '-qq', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/**
 * Unpacks Debian's source package `name` under WORK/src and answers its directory. When the Debian part of a
 * source package cannot be fetched (the archive has answered 404 for some), the upstream tarball, which holds the
 * tests, is unpacked instead: the tests are upstream's either way.
 */
export function debianSource(name) {
  const dir = join(WORK, 'src');
  mkdirSync(dir, { recursive: true });
  const unpacked = () =>
    readdirSync(dir).find((entry) => entry.startsWith(`${name}-`) && statSync(join(dir, entry)).isDirectory());
  if (unpacked()) return join(dir, unpacked());
  ensureDebSrc();
  log(`apt-get source ${name}`);
  const result = spawnSync('apt-get', ['source', '-qq', name], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) {
    const orig = readdirSync(dir).find((entry) => entry.startsWith(`${name}_`) && entry.includes('.orig.tar'));
    if (!orig) throw new Error(`apt-get source ${name} failed and fetched no upstream tarball`);
    log(`apt-get source ${name} failed; unpacking the upstream tarball ${orig}`);
    const target = join(dir, `${name}-${orig.slice(name.length + 1).replace(/\.orig\.tar\..*$/, '')}`);
    mkdirSync(target, { recursive: true });
    sh('tar', ['-xf', join(dir, orig), '-C', target, '--strip-components=1']);
  }
  if (!unpacked()) throw new Error(`apt-get source ${name} left no source directory`);
  return join(dir, unpacked());
}

/** Resolves once something accepts connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(host, port, timeoutMs, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((done) => {
      const socket = connect({ host, port }, () => {
        socket.destroy();
        done(true);
      });
      socket.on('error', () => done(false));
    });
    if (open) return;
    if (!isAlive()) throw new Error(`the broker on ${host}:${port} exited before it listened`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

const BROKER_START_TIMEOUT_MS = 60_000;

/**
 * Starts `samsa server` (from the sources, through tsx) with Kafka's properties: a fresh log dir under WORK, the
 * given port, and `overrides` on top. Answers { bootstrap, properties, stop() }.
 */
export async function startSamsa(name, port, overrides = {}) {
  const dir = mkdtempSync(join(WORK, `broker-${name}-`));
  const properties = {
    'node.id': '0',
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    'advertised.listeners': `PLAINTEXT://localhost:${port}`,
    'log.dirs': join(dir, 'data'),
    'num.partitions': '1',
    'default.replication.factor': '1',
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    // Kafka has no broker-wide partition limit, and a suite's run creates topics it never deletes (librdkafka's
    // passes 1,700 partitions): the limit Samsa derives from its open-files limit would refuse them part way.
    'samsa.max.broker.partitions': '10000',
    ...overrides,
  };
  const file = join(dir, 'server.properties');
  writeFileSync(
    file,
    `${Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  const out = openSync(join(dir, 'broker.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', file], {
    cwd: REPO,
    stdio: ['ignore', out, out],
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  await waitForPort('127.0.0.1', port, BROKER_START_TIMEOUT_MS, () => !exited);
  log(`broker ${name} on localhost:${port}, log ${join(dir, 'broker.log')}`);
  return {
    bootstrap: `localhost:${port}`,
    properties,
    log: join(dir, 'broker.log'),
    // Stops the broker and drops its data; its log stays for reading.
    stop: async () => {
      if (!exited) {
        await new Promise((done) => {
          child.on('exit', done);
          child.kill('SIGTERM');
        });
      }
      rmSync(properties['log.dirs'], { recursive: true, force: true });
    },
  };
}

const CLUSTER_START_TIMEOUT_MS = 120_000;

/**
 * Starts a cluster of `brokers` Samsa brokers on one etcd with `samsa cluster` (from the sources, through tsx),
 * their ports from `port` on, with `overrides` for every broker, in a fresh directory under WORK. Answers
 * { bootstrap, log, stop() }; each broker's own log is in the directory beside the command's.
 */
export async function startSamsaCluster(name, port, brokers, overrides = {}) {
  const dir = mkdtempSync(join(WORK, `cluster-${name}-`));
  const logPath = join(dir, 'cluster.log');
  const out = openSync(logPath, 'a');
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'cluster', '--brokers', String(brokers), '--dir', dir];
  args.push('--port', String(port));
  // As startSamsa: the suites create more partitions than the open-files limit would let Samsa derive.
  for (const [k, v] of Object.entries({ 'samsa.max.broker.partitions': '10000', ...overrides }))
    args.push('--override', `${k}=${v}`);
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', out, out] });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + CLUSTER_START_TIMEOUT_MS;
  let bootstrap;
  while (!bootstrap) {
    const m = /^bootstrap servers: (\S+)$/m.exec(readFileSync(logPath, 'utf8'));
    if (m) bootstrap = m[1];
    else if (exited) throw new Error(`samsa cluster exited before it started: see ${logPath}`);
    else if (Date.now() > deadline) throw new Error(`samsa cluster did not start in time: see ${logPath}`);
    else await new Promise((done) => setTimeout(done, 200));
  }
  log(`cluster ${name} of ${brokers} brokers on ${bootstrap}, logs in ${dir}`);
  return {
    bootstrap,
    log: logPath,
    // Stops the brokers (each a controlled shutdown) and etcd; the data stays in its directory for reading.
    stop: async () => {
      if (!exited) {
        await new Promise((done) => {
          child.on('exit', done);
          child.kill('SIGTERM');
        });
      }
    },
  };
}

/**
 * Runs a command with a time limit, its output to `logFile`. Answers { code, signal, timedOut }. The child leads
 * its own process group so that a timeout ends everything it started.
 */
export function runLogged(command, args, { logFile, timeoutMs, ...options }) {
  return new Promise((done) => {
    const out = openSync(logFile, 'w');
    const child = spawn(command, args, { stdio: ['ignore', out, out], detached: true, ...options });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, timedOut });
    });
  });
}

/** Runs `fn` over `items` with at most `limit` at a time; answers the results in order. */
export async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The first line of `text` that matches `pattern`, trimmed and bounded, or undefined. */
export function firstLine(text, pattern) {
  const line = text.split('\n').find((l) => pattern.test(l));
  return line === undefined ? undefined : line.trim().slice(0, 300);
}
