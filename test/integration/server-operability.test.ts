import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { withTempDir } from '../storage/helpers.js';
import { MAIN } from './cli.js';
import { consumeWithKcat } from './clients.js';

const run = promisify(execFile);
const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;
/** The tsx loader by URL, so that a server started in another directory finds it. */
const TSX = import.meta.resolve('tsx');
const ROOT = join(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Servers still running; a failed test leaves none behind. */
const running = new Set<ChildProcess>();
function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
afterEach(killRunning);
// A test that times out skips afterEach.
process.on('exit', killRunning);

/** A `samsa server` process and what it has written to standard error so far. */
class Server {
  readonly child: ChildProcess;
  log = '';
  /** The exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  private waiters: Array<() => void> = [];

  /** `start`: the command that starts it, `samsa server` from the sources unless given (a script, say). */
  constructor(args: string[], options: { cwd?: string; wrapper?: string[]; start?: string[] } = {}) {
    const start = options.start ?? [process.execPath, '--import', TSX, MAIN, 'server'];
    const command = [...(options.wrapper ?? []), ...start, ...args];
    this.child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
    const onData = (d: Buffer) => {
      this.log += d.toString();
      for (const w of this.waiters) w();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    running.add(this.child);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        resolve(code ?? signal);
      }),
    );
  }

  /** Resolves with the first match of `pattern` in the output; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(this.log);
        if (m) resolve(m);
        return m;
      };
      if (check()) return;
      this.waiters.push(check);
      void this.exited.then((code) => {
        if (!check()) reject(new Error(`exited with ${code} before ${pattern}: ${this.log}`));
      });
    });
  }

  /** The port of the first listener, from the start-up line. */
  async port(): Promise<number> {
    return Number((await this.waitFor(/ started .*listener=[^ ]*:(\d+)/))[1]);
  }

  /** Whether it exits (with which code) or starts first. */
  outcome(): Promise<'started' | number | NodeJS.Signals | null> {
    return Promise.race([this.waitFor(/ started /).then(() => 'started' as const), this.exited]);
  }

  async stop(): Promise<number | NodeJS.Signals | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** A port free a moment ago, for configurations that cannot say port 0. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The bytes of every index file under a log dir's partition directories, by path. */
async function indexFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('__')) continue;
    for (const file of await readdir(join(dir, entry.name))) {
      if (file.endsWith('index')) out.set(join(entry.name, file), await readFile(join(dir, entry.name, file)));
    }
  }
  return out;
}

/** The lines a failed start printed, without the INFO lines that came before the failure. */
function errorLines(log: string): string[] {
  return log.split('\n').filter((l) => l !== '' && !/^\[[^\]]+\] INFO /.test(l));
}

test('a second broker on the same log dir or port stops before touching the files; kill -9 leaves no stale lock', () =>
  withTempDir(async (dir) => {
    const data = join(dir, 'data');
    // Small segments: a rolled segment's index files hold its entries (the active one's are written in batches).
    const first = new Server([
      '--override',
      'listeners=PLAINTEXT://127.0.0.1:0',
      '--override',
      `log.dirs=${data}`,
      '--override',
      'log.segment.bytes=8192',
    ]);
    const port = await first.port();
    const bootstrap = `127.0.0.1:${port}`;
    // Enough records for index entries (one per log.index.interval.bytes) and a few segments.
    const lines = Array.from({ length: 300 }, (_, i) => `record-${i}-${'x'.repeat(100)}`).join('\\n');
    await run('sh', [
      '-c',
      `printf '${lines}\\n' | kcat -b ${bootstrap} -P -t locked -X acks=all -X batch.num.messages=5 -X linger.ms=0`,
    ]);
    const before = await indexFiles(data);
    assert.ok(
      [...before.values()].some((b) => b.length > 0),
      'the running broker has index entries',
    );

    const sameDir = new Server(['--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `log.dirs=${data}`]);
    assert.equal(await sameDir.outcome(), 1, 'a second broker on the same log dir refuses to start');
    assert.deepEqual(errorLines(sameDir.log), [
      `samsa: log.dirs: ${data} is in use by another Samsa or Kafka process, which holds its lock file ${data}/.lock; refusing to start`,
    ]);
    assert.deepEqual(await indexFiles(data), before, "the running broker's index files are untouched");

    const fresh = join(dir, 'fresh');
    const samePort = new Server([
      '--override',
      `listeners=PLAINTEXT://127.0.0.1:${port}`,
      '--override',
      `log.dirs=${fresh}`,
    ]);
    assert.equal(await samePort.outcome(), 1, 'a second broker on the same port refuses to start');
    assert.deepEqual(errorLines(samePort.log), [
      `samsa: listeners: cannot listen on 127.0.0.1:${port} (listener PLAINTEXT): the port is already in use (by another Samsa or Kafka process?) (EADDRINUSE)`,
    ]);
    assert.ok(!existsSync(fresh), 'nothing is written before the ports are bound');

    first.child.kill('SIGKILL');
    await first.exited;
    const after = new Server(['--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `log.dirs=${data}`]);
    const records = await consumeWithKcat(`127.0.0.1:${await after.port()}`, 'locked', 0);
    assert.equal(records.length, 300, 'a broker starts on the dir of one killed with -9, and the records are there');
    assert.equal(await after.stop(), 0);
  }));

test("Kafka 0.10's host.name, port and zookeeper.connect, end to end with kcat", () =>
  withTempDir(async (dir) => {
    const port = await freePort();
    const props = join(dir, 'server.properties');
    await writeFile(
      props,
      [
        'broker.id=0',
        'host.name=127.0.0.1',
        `port=${port}`,
        'advertised.host.name=127.0.0.1',
        `log.dirs=${join(dir, 'data')}`,
        'zookeeper.connect=localhost:2181',
        '',
      ].join('\n'),
    );
    const server = new Server([props]);
    assert.equal(await server.port(), port, 'port is the listening port');
    assert.match(server.log, /INFO .*zookeeper\.connect is not used/);
    const bootstrap = `127.0.0.1:${port}`;
    await run('sh', ['-c', `printf 'one\\ntwo\\n' | kcat -b ${bootstrap} -P -t old-style`]);
    assert.deepEqual(
      (await consumeWithKcat(bootstrap, 'old-style', 0)).map((r) => r.value),
      ['one', 'two'],
    );
    const { stdout } = await run('kcat', ['-b', bootstrap, '-L']);
    assert.match(stdout, new RegExp(`broker 0 at 127\\.0\\.0\\.1:${port}`), 'advertised as advertised.host.name:port');
    assert.equal(await server.stop(), 0);
  }));

test('every listener is bound, and each advertises its own address to the clients that connect on it', () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    await writeFile(
      props,
      [
        'listeners=PLAINTEXT://127.0.0.1:0,PLAINTEXT_HOST://127.0.0.1:0',
        'advertised.listeners=PLAINTEXT://127.0.0.1:0,PLAINTEXT_HOST://localhost:0',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT',
        `log.dirs=${join(dir, 'data')}`,
        '',
      ].join('\n'),
    );
    const server = new Server([props]);
    const m = await server.waitFor(
      / started .*listeners=PLAINTEXT:\/\/127\.0\.0\.1:(\d+),PLAINTEXT_HOST:\/\/127\.0\.0\.1:(\d+)/,
    );
    const [internal, host] = [Number(m[1]), Number(m[2])];
    const viaInternal = await run('kcat', ['-b', `127.0.0.1:${internal}`, '-L']);
    assert.match(viaInternal.stdout, new RegExp(`broker 0 at 127\\.0\\.0\\.1:${internal}`));
    const viaHost = await run('kcat', ['-b', `127.0.0.1:${host}`, '-L']);
    assert.match(viaHost.stdout, new RegExp(`broker 0 at localhost:${host}`));
    // A client on the second listener produces and reads through the address it is given.
    await run('sh', ['-c', `printf 'hi\\n' | kcat -b localhost:${host} -P -t two-listeners`]);
    assert.deepEqual(
      (await consumeWithKcat(`localhost:${host}`, 'two-listeners', 0)).map((r) => r.value),
      ['hi'],
    );
    // DescribeConfigs names both listeners too.
    const admin = new Kafka({ brokers: [`127.0.0.1:${internal}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        resources: [
          { type: ConfigResourceTypes.BROKER, name: '0', configNames: ['listeners', 'advertised.listeners'] },
        ],
        includeSynonyms: false,
      });
      const entries = Object.fromEntries(
        described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]),
      );
      assert.deepEqual(entries, {
        listeners: `PLAINTEXT://127.0.0.1:${internal},PLAINTEXT_HOST://127.0.0.1:${host}`,
        'advertised.listeners': `PLAINTEXT://127.0.0.1:${internal},PLAINTEXT_HOST://localhost:${host}`,
      });
    } finally {
      await admin.disconnect();
    }
    assert.equal(await server.stop(), 0);
  }));

test('listeners overridden while advertised.listeners comes from the file, or set beside port: start-up says so', () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    await writeFile(
      props,
      `listeners=PLAINTEXT://:9092\nadvertised.listeners=PLAINTEXT://localhost:9092\nport=9092\nlog.dirs=${join(dir, 'data')}\n`,
    );
    const server = new Server([props, '--override', 'listeners=PLAINTEXT://127.0.0.1:0']);
    await server.port();
    assert.match(
      server.log,
      /WARN .*listeners is overridden but advertised\.listeners comes from the file: clients are still sent there; override it too advertised=PLAINTEXT:\/\/localhost:9092/,
    );
    assert.match(
      server.log,
      /WARN .*port ignored: listeners is set/,
      "Kafka 0.10's key loses to the newer one, saying so",
    );
    assert.equal(await server.stop(), 0);
  }));

test('the shipped config with listeners overridden advertises the listener; start-up names the version and absolute log dirs', () =>
  withTempDir(async (dir) => {
    const server = new Server(
      [join(ROOT, 'config', 'server.properties'), '--override', 'listeners=PLAINTEXT://127.0.0.1:0'],
      {
        cwd: dir,
      },
    );
    const port = await server.port();
    const line = (await server.waitFor(/ started .*/))[0];
    assert.ok(line.includes(` version=${VERSION} `), line);
    assert.ok(line.includes(` advertised=PLAINTEXT://127.0.0.1:${port} `), line);
    assert.ok(line.includes(` logDirs=${join(dir, 'data')} `), line);
    assert.doesNotMatch(server.log, /WARN/);
    assert.equal(await server.stop(), 0);
  }));

test('start-up failures are one line naming the setting and the cause, with exit code 1', () =>
  withTempDir(async (dir) => {
    const cases: Array<{ args: string[]; wrapper?: string[]; line: string }> = [
      {
        args: ['--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', 'log.dirs=/etc/hostname/data'],
        line: 'samsa: log.dirs: cannot use /etc/hostname/data: a part of the path is not a directory (ENOTDIR)',
      },
      {
        args: [join(dir, 'missing.properties')],
        line: `samsa: cannot read the configuration file ${join(dir, 'missing.properties')}: no such file`,
      },
      {
        args: ['--override', 'listeners=SSL://127.0.0.1:0', '--override', 'ssl.keystore.location=/k.jks'],
        line: 'samsa: ssl.keystore.type=JKS (/k.jks): Node.js cannot read Java KeyStore (JKS) files; convert it to PKCS12 (keytool -importkeystore -deststoretype PKCS12) or PEM, and set ssl.keystore.type accordingly',
      },
      {
        args: ['--override', 'listeners=SASL_PLAINTEXT://127.0.0.1:0'],
        line: 'samsa: sasl.enabled.mechanisms=GSSAPI (listener SASL_PLAINTEXT): GSSAPI (Kerberos) is not built in Samsa; enable PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER',
      },
    ];
    if (process.getuid?.() === 0) {
      // As root nothing is refused for want of permission: run these as nobody.
      const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      await mkdir(join(dir, 'root-only'));
      await chmod(dir, 0o755);
      cases.push(
        {
          wrapper: nobody,
          args: [
            '--override',
            'listeners=PLAINTEXT://127.0.0.1:0',
            '--override',
            `log.dirs=${join(dir, 'root-only', 'data')}`,
          ],
          line: `samsa: log.dirs: cannot use ${join(dir, 'root-only', 'data')}: permission denied (EACCES)`,
        },
        {
          wrapper: nobody,
          args: ['--override', 'listeners=PLAINTEXT://127.0.0.1:1000', '--override', `log.dirs=${join(dir, 'nobody')}`],
          line: 'samsa: listeners: cannot listen on 127.0.0.1:1000 (listener PLAINTEXT): permission denied (EACCES)',
        },
      );
      await chmod(dir, 0o777);
    }
    for (const { args, wrapper, line } of cases) {
      const server = new Server(args, { wrapper });
      assert.equal(await server.exited, 1, line);
      assert.deepEqual(errorLines(server.log), [line]);
    }
  }));

test('samsa server --help prints its usage; kafka-server-start.sh without arguments prints Kafka usage', async () => {
  const help = new Server(['--help']);
  assert.equal(await help.exited, 0);
  assert.match(help.log, /^usage: samsa server \[server\.properties\] \[--override key=value \.\.\.\]/);
  assert.match(help.log, /SAMSA_LOG_FORMAT/);
  const script = join(ROOT, 'bin', 'kafka-server-start.sh');
  await assert.rejects(run(script, []), (e: { code: number; stdout: string }) => {
    assert.equal(e.code, 1);
    assert.equal(e.stdout, `USAGE: ${script} [-daemon] server.properties [--override property=value]*\n`);
    return true;
  });
});

test('kafka-server-start.sh starts the broker with the flags the first line of bin/samsa.js gives node', () =>
  withTempDir(async (dir) => {
    // The script runs bin/samsa.js (the build in dist/) as a program, so that its #! line reaches node: a broken
    // line would leave every installed `samsa` command unable to start.
    const props = join(dir, 'server.properties');
    await writeFile(props, `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\n`);
    const server = new Server([props], { start: [join(ROOT, 'bin', 'kafka-server-start.sh')] });
    await server.port();
    // The script and env exec in place, so the process started is node itself.
    const argv = (await readFile(`/proc/${server.child.pid}/cmdline`, 'utf8')).split('\0');
    assert.match(argv[0]!, /node/);
    assert.ok(argv.includes('--max-semi-space-size=4'), argv.join(' '));
    assert.equal(await server.stop(), 0);
  }));

test('signals during shutdown are ignored: a second SIGTERM and a SIGINT leave the clean stop to finish', () =>
  withTempDir(async (dir) => {
    const data = join(dir, 'data');
    const server = new Server(['--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `log.dirs=${data}`]);
    const bootstrap = `127.0.0.1:${await server.port()}`;
    await run('sh', ['-c', `printf 'a\\n' | kcat -b ${bootstrap} -P -t signals`]);
    // A named pipe where the clean shutdown marker goes: writing it blocks until someone reads, so the shutdown
    // waits there, as on a slow disk, for as long as the test needs.
    const marker = join(data, '.kafka_cleanshutdown');
    await run('mkfifo', [marker]);
    server.child.kill('SIGTERM');
    await server.waitFor(/shutting down signal=SIGTERM/);
    server.child.kill('SIGTERM');
    await server.waitFor(/INFO .*already shutting down: signal ignored .* signal=SIGTERM/);
    server.child.kill('SIGINT');
    await server.waitFor(/INFO .*already shutting down: signal ignored .* signal=SIGINT/);
    // Reading the pipe lets the marker's write finish.
    await run('cat', [marker]);
    assert.equal(await server.exited, 0, 'the stop finished');
    assert.match(server.log, / stopped/);
  }));

test('start-up raises the open files limit to the hard limit and warns when the segments come near it', () =>
  withTempDir(async (dir) => {
    const raised = new Server(
      ['--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `log.dirs=${join(dir, 'a')}`],
      {
        wrapper: ['prlimit', '--nofile=256:4096', '--'],
      },
    );
    await raised.port();
    assert.match(raised.log, /INFO .*open files limit limit=4096 hard=4096/);
    assert.doesNotMatch(raised.log, /WARN/);
    assert.equal(await raised.stop(), 0);

    // 40 segments need 120 files, near a limit of 128.
    const crowded = join(dir, 'b');
    for (let p = 0; p < 40; p++) {
      await mkdir(join(crowded, `t-${p}`), { recursive: true });
      await writeFile(join(crowded, `t-${p}`, '00000000000000000000.log'), '');
    }
    const low = new Server(['--override', 'listeners=PLAINTEXT://127.0.0.1:0', '--override', `log.dirs=${crowded}`], {
      wrapper: ['prlimit', '--nofile=128:128', '--'],
    });
    await low.waitFor(/WARN .*open files limit is near .* segments=40 files=120 limit=128/);
    low.child.kill('SIGKILL');
    await low.exited;
  }));
