import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLEAN_SHUTDOWN_FILE } from '../../src/storage/log-manager.js';

/*
 * The package as a user gets it, used from CommonJS, from ES modules, by a Jest-style CommonJS test and by a
 * CommonJS TypeScript project. Two ways to get it (README, "Set up, test"):
 *
 * - 'linked' (test/integration/package.test.ts, in `npm test`): the real build (scripts/build.mjs) of a copy of
 *   the sources, linked into a test project's node_modules as `npm link` would; the tarball's file list from
 *   `npm pack --dry-run`. Bounded to well under the suite's per-file timeout.
 * - 'packed' (test/package/packed.ts, `npm run test:package`): `npm pack`, then `npm ci` of the tarball into an
 *   empty project, from a lockfile made of the repository's own (the versions `npm ci` installed here, hence in
 *   npm's cache) with --prefer-offline: no network when the cache holds them, the registry otherwise. Adds
 *   `npx samsa server` and the packaged tools, and node10 resolution. About a minute on an idle machine.
 *
 * CommonJS callers run with require(esm) turned off (--no-experimental-require-module), as on Node.js before
 * 20.19 and under Jest, whose module system compiles every required file as CommonJS: any ES module on the way
 * fails there, which is what a real CommonJS build has to rule out.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm pack` needs besides the package's `files`: the sources and how to build them. */
const BUILD_INPUTS = [
  'src',
  'web',
  'scripts/build.mjs',
  'scripts/build-web.mjs',
  'tsconfig.json',
  'tsconfig.build.json',
  'tsconfig.cjs.json',
];
/** The test project's other dependencies, at the versions of the repository's lockfile. */
const APP_DEPENDENCIES = ['kafkajs'];
const APP_DEV_DEPENDENCIES = ['@types/node'];
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
/** Node before 20.19 has neither require(esm) nor the flag, and needs no flag to behave so. */
const NO_REQUIRE_ESM = process.allowedNodeEnvironmentFlags.has('--experimental-require-module')
  ? ['--no-experimental-require-module']
  : [];
/** Bounds each npm, node and tsc run: a hung step fails the test instead of stalling it. */
const STEP_TIMEOUT_MS = 180_000;

export type Install = 'linked' | 'packed';

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  [key: string]: unknown;
}

interface RepoLock {
  packages: Record<string, LockEntry>;
}

/**
 * A lockfile for the test project: the tarball, and the entries of the repository's lockfile that the project's
 * dependencies reach (nested copies first, as npm resolves them), hoisted where they are in the repository.
 */
function appLockfile(repoLock: RepoLock, root: LockEntry, samsaEntry: LockEntry): Record<string, unknown> {
  const packages: Record<string, LockEntry> = { '': root, 'node_modules/samsa': samsaEntry };
  const visit = (from: string, name: string) => {
    let at = from;
    for (;;) {
      const key = `${at ? `${at}/` : ''}node_modules/${name}`;
      const entry = repoLock.packages[key];
      if (entry) {
        if (packages[key]) return;
        const { dev: _d, devOptional: _o, peer: _p, ...kept } = entry;
        packages[key] = kept;
        for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) visit(key, dep);
        return;
      }
      if (!at) throw new Error(`${name} is not in package-lock.json`);
      at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '';
    }
  };
  for (const name of Object.keys({ ...samsaEntry.dependencies, ...root.dependencies, ...root.devDependencies }))
    if (name !== 'samsa') visit('', name);
  return { name: root['name'], lockfileVersion: 3, requires: true, packages };
}

/** Environment for the commands run here: a nested `node --test` must not report to this test runner. */
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}

/** Runs `command args` in `cwd`; resolves with its standard output, rejects with all of its output. */
async function exec(command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, timeout: STEP_TIMEOUT_MS, env: childEnv() });
    return stdout;
  } catch (e) {
    const { stdout, stderr } = e as { stdout: string; stderr: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout}\n${stderr}`);
  }
}

export function definePackageTests(install: Install): void {
  let work = '';
  let app = '';
  let packedFiles: string[] = [];
  const node = (args: string[]) => exec(process.execPath, args, app);

  before(
    async () => {
      work = await mkdtemp(join(tmpdir(), `samsa-package-${install}-`));
      // A copy of the sources, so that this build does not rewrite the dist/ other tests run from.
      const stage = join(work, 'stage');
      const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
        version: string;
        files: string[];
        dependencies: Record<string, string>;
      };
      for (const path of [
        ...pkg.files.filter((f) => f !== 'dist'),
        ...BUILD_INPUTS,
        'package.json',
        'README.md',
        'LICENSE',
      ])
        await cp(join(ROOT, path), join(stage, path), { recursive: true });
      await symlink(join(ROOT, 'node_modules'), join(stage, 'node_modules'));
      app = join(work, 'app');
      await mkdir(join(app, 'node_modules'), { recursive: true });

      if (install === 'linked') {
        await exec(process.execPath, ['scripts/build.mjs'], stage);
        const stdout = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], stage);
        packedFiles = packResult(stdout).files.map((f) => f.path);
        await symlink(stage, join(app, 'node_modules', 'samsa'));
        for (const name of [...APP_DEPENDENCIES, ...APP_DEV_DEPENDENCIES]) {
          await mkdir(dirname(join(app, 'node_modules', name)), { recursive: true });
          await symlink(join(ROOT, 'node_modules', name), join(app, 'node_modules', name));
        }
        await writeFile(join(app, 'package.json'), '{ "name": "samsa-user", "private": true }\n');
        return;
      }

      const stdout = await exec('npm', ['pack', '--json', '--pack-destination', work], stage);
      const packed = packResult(stdout);
      packedFiles = packed.files.map((f) => f.path);
      const repoLock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as RepoLock;
      const version = (name: string) => repoLock.packages[`node_modules/${name}`]!.version!;
      const root = {
        name: 'samsa-user',
        version: '1.0.0',
        dependencies: {
          samsa: `file:../${packed.filename}`,
          ...Object.fromEntries(APP_DEPENDENCIES.map((n) => [n, version(n)])),
        },
        devDependencies: Object.fromEntries(APP_DEV_DEPENDENCIES.map((n) => [n, version(n)])),
      };
      const samsaEntry: LockEntry = {
        version: pkg.version,
        resolved: `file:../${packed.filename}`,
        integrity: `sha512-${createHash('sha512')
          .update(await readFile(join(work, packed.filename)))
          .digest('base64')}`,
        license: 'Apache-2.0',
        dependencies: pkg.dependencies,
        bin: { samsa: 'bin/samsa.js' },
      };
      await writeFile(join(app, 'package.json'), `${JSON.stringify(root, null, 2)}\n`);
      await writeFile(
        join(app, 'package-lock.json'),
        `${JSON.stringify(appLockfile(repoLock, root, samsaEntry), null, 2)}\n`,
      );
      await exec('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], app);
    },
    { timeout: 2 * STEP_TIMEOUT_MS },
  );

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the tarball holds both builds, their declarations, the web console, the LICENSE, and no source maps', () => {
    for (const path of [
      'LICENSE',
      'README.md',
      'bin/samsa.js',
      'config/server.properties',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/cjs/package.json',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/web/index.html',
    ])
      assert.ok(packedFiles.includes(path), `${path} is packed`);
    assert.deepEqual(
      packedFiles.filter((p) => p.endsWith('.map')),
      [],
    );
    assert.deepEqual(
      packedFiles.filter((p) => /(?<!\.d)\.[cm]?ts$/.test(p)),
      [],
      'no TypeScript sources',
    );
  });

  test('a CommonJS program requires samsa, starts a broker, and clients read back what they wrote, zstd too', async () => {
    await writeFile(join(app, 'program.cjs'), COMMONJS_PROGRAM);
    const out = JSON.parse(await node([...NO_REQUIRE_ESM, 'program.cjs'])) as Record<string, unknown>;
    assert.deepEqual(out, { exports: EXPORTS, plain: 'hello from CommonJS', zstd: 'squeezed by the broker' });
  });

  test('an ES module program imports samsa, starts a broker, and KafkaJS reads back what it wrote', async () => {
    await writeFile(join(app, 'program.mjs'), ESM_PROGRAM);
    const out = JSON.parse(await node(['program.mjs'])) as Record<string, unknown>;
    assert.deepEqual(out, { exports: EXPORTS, plain: 'hello from ESM' });
  });

  test('a Jest-style CommonJS test file starts a broker in its before hook and passes under node --test', async () => {
    await writeFile(join(app, 'broker.test.cjs'), JEST_STYLE_TEST);
    const out = await node([...NO_REQUIRE_ESM, '--test', '--test-reporter=tap', 'broker.test.cjs']);
    assert.match(out, /^# pass 2$/m);
    assert.match(out, /^# fail 0$/m);
  });

  const resolutions = install === 'packed' ? (['node16', 'node10'] as const) : (['node16'] as const);
  test(`a CommonJS TypeScript project type-checks against the declarations and runs (${resolutions.join(', ')})`, async () => {
    await writeFile(join(app, 'main.ts'), TYPESCRIPT_PROGRAM);
    for (const resolution of resolutions) {
      const outDir = `out-${resolution}`;
      const tsconfig = `tsconfig.${resolution}.json`;
      const compilerOptions = {
        module: resolution === 'node16' ? 'node16' : 'commonjs',
        moduleResolution: resolution,
        target: 'ES2022',
        lib: ['ES2023'],
        types: ['node'],
        strict: true,
        // The packed run also checks the package's declarations under the project's strict settings.
        skipLibCheck: install === 'linked',
        esModuleInterop: true,
        outDir,
      };
      await writeFile(join(app, tsconfig), JSON.stringify({ compilerOptions, files: ['main.ts'] }));
      await exec(process.execPath, [TSC, '-p', tsconfig], app);
      const out = JSON.parse(await node([...NO_REQUIRE_ESM, join(outDir, 'main.js')])) as Record<string, unknown>;
      assert.deepEqual(out, { bootstrap: true, retriable: true, wrong: 'string' }, resolution);
    }
  });

  if (install === 'packed')
    test('`npx samsa server` runs from the installed package, and its tools produce and consume through it', async () => {
      const dataDir = join(work, 'data');
      const port = await freePort();
      const bootstrap = `127.0.0.1:${port}`;
      const server = spawn(
        'npx',
        ['samsa', 'server', '--override', `log.dirs=${dataDir}`, '--override', `listeners=PLAINTEXT://${bootstrap}`],
        // Its own process group, so that the stop below reaches the broker under npx (which does not pass it on).
        { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      let log = '';
      server.stderr.on('data', (d: Buffer) => (log += d.toString()));
      // Closed when every process of the group has exited.
      const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
      try {
        await new Promise<void>((resolve, reject) => {
          server.stderr.on('data', () => / started /.test(log) && resolve());
          closed.then(() => reject(new Error(`the broker exited: ${log}`)));
        });
        const tool = (args: string[], input = '') =>
          new Promise<string>((resolve, reject) => {
            const child = execFile(
              'npx',
              ['samsa', ...args],
              { cwd: app, timeout: STEP_TIMEOUT_MS, env: childEnv() },
              (e, stdout, stderr) =>
                e ? reject(new Error(`samsa ${args.join(' ')}: ${e.message}\n${stderr}`)) : resolve(stdout),
            );
            child.stdin!.end(input);
          });
        const topic = ['--bootstrap-server', bootstrap, '--topic', 'packaged'];
        await tool(['console-producer', ...topic, '--compression-codec', 'zstd'], 'one\ntwo\n');
        const consumed = await tool(['console-consumer', ...topic, '--from-beginning', '--max-messages', '2']);
        assert.deepEqual(consumed.trim().split('\n'), ['one', 'two']);
      } finally {
        process.kill(-server.pid!, 'SIGTERM');
        await closed;
      }
      assert.ok(existsSync(join(dataDir, CLEAN_SHUTDOWN_FILE)), `a clean stop on SIGTERM: ${log}`);
    });
}

function packResult(stdout: string): { filename: string; files: { path: string }[] } {
  // npm prints the lifecycle scripts' output before the JSON.
  return (JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[])[0]!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const EXPORTS = [
  'Broker',
  'DecodeError',
  'ErrorCode',
  'KafkaError',
  'Logger',
  'Reader',
  'Writer',
  'defaultBrokerSettings',
  'errorInfo',
  'isRetriable',
  'startBroker',
];

/** Produces one record with KafkaJS and consumes it back in a group; the same code in CommonJS and ESM. */
const KAFKAJS_ROUND_TRIP = `
async function roundTrip(bootstrap, topic, value) {
  const kafka = new Kafka({ clientId: 'samsa-user', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'k', value }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: topic + '-group' });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const received = await new Promise((resolve, reject) => {
    consumer.run({ eachMessage: async ({ message }) => resolve(message.value.toString()) }).catch(reject);
  });
  await consumer.disconnect();
  return received;
}
`;

const COMMONJS_PROGRAM = `const { execFile } = require('node:child_process');
const samsa = require('samsa');
const { Kafka, logLevel } = require('kafkajs');
${KAFKAJS_ROUND_TRIP}
async function main() {
  const broker = await samsa.startBroker();
  try {
    const plain = await roundTrip(broker.bootstrap, 'from-commonjs', 'hello from CommonJS');
    // A topic whose batches the broker recompresses with zstd: this build's WebAssembly codec, read back by
    // the package's console-consumer.
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'zstd', configEntries: [{ name: 'compression.type', value: 'zstd' }] }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'zstd', messages: [{ value: 'squeezed by the broker' }] });
    await producer.disconnect();
    // Asynchronously: the broker runs in this process.
    const zstd = await new Promise((resolve, reject) =>
      execFile(process.execPath, [require.resolve('samsa/package.json').replace('package.json', 'bin/samsa.js'),
        'console-consumer', '--bootstrap-server', broker.bootstrap, '--topic', 'zstd', '--from-beginning',
        '--max-messages', '1'], (e, stdout, stderr) => (e ? reject(new Error(stderr)) : resolve(stdout.trim()))));
    console.log(JSON.stringify({ exports: Object.keys(samsa).sort(), plain, zstd }));
  } finally {
    await broker.stop();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;

const ESM_PROGRAM = `import * as samsa from 'samsa';
import { startBroker } from 'samsa';
import kafkajs from 'kafkajs';
const { Kafka, logLevel } = kafkajs;
${KAFKAJS_ROUND_TRIP}
const broker = await startBroker();
try {
  const plain = await roundTrip(broker.bootstrap, 'from-esm', 'hello from ESM');
  console.log(JSON.stringify({ exports: Object.keys(samsa).sort(), plain }));
} finally {
  await broker.stop();
}
`;

const JEST_STYLE_TEST = `const assert = require('node:assert/strict');
const { after, before, describe, it } = require('node:test');
const { ErrorCode, KafkaError, startBroker } = require('samsa');
const { Kafka, logLevel } = require('kafkajs');
${KAFKAJS_ROUND_TRIP}
describe('a service that uses Kafka', () => {
  let broker;
  before(async () => {
    broker = await startBroker();
  });
  after(() => broker.stop());

  it('reads back what it writes', async () => {
    assert.equal(await roundTrip(broker.bootstrap, 'from-a-test', 'hello from a test'), 'hello from a test');
  });

  it('gets Kafka error codes', () => {
    assert.equal(new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).errorName, 'UNKNOWN_TOPIC_OR_PARTITION');
  });
});
`;

const TYPESCRIPT_PROGRAM = `import { type Broker, ErrorCode, KafkaError, type StartBrokerOptions, startBroker } from 'samsa';

async function main(): Promise<void> {
  const options: StartBrokerOptions = { host: '127.0.0.1', logDefaults: { segmentBytes: 1024 * 1024 } };
  const broker: Broker = await startBroker(options);
  const bootstrap: string = broker.bootstrap;
  // @ts-expect-error: the declarations are real types, not any
  const wrong: number = broker.bootstrap;
  await broker.stop();
  const error = new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  console.log(JSON.stringify({ bootstrap: bootstrap.startsWith('127.0.0.1:'), retriable: error.retriable, wrong: typeof wrong }));
}
main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
`;
