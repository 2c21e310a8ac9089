import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The shell blocks of the README's quick start, in order. */
async function quickStartBlocks(): Promise<string[][]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Quick start'),
    readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1),
  );
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim().split('\n'));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The README's quick start, run as written: the broker `npm start` starts (the same command, with its data in a
 * temporary directory and on a free port so that the test disturbs nothing), then every client command of the
 * README against it, with the port put in place of 9092. The commands go through bin/, which runs the compiled
 * dist/ of `npm install`, so the build is refreshed first.
 */
test('the README quick start runs as written', async () => {
  const [setup, ...clients] = await quickStartBlocks();
  assert.deepEqual(setup, [
    'npm install',
    'npm start                       # a broker on localhost:9092, data under ./data (config/server.properties)',
  ]);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, './bin/samsa.js server config/server.properties');
  await run('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 });

  const dir = await mkdtemp(join(tmpdir(), 'samsa-readme-'));
  const port = await freePort();
  // bin/samsa.js as a program, as `npm start` runs it: its first line gives node the broker's flags.
  const server = spawn(
    './bin/samsa.js',
    [
      'server',
      'config/server.properties',
      '--override',
      `log.dirs=${dir}`,
      '--override',
      `listeners=PLAINTEXT://:${port}`,
      '--override',
      `advertised.listeners=PLAINTEXT://localhost:${port}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let log = '';
      server.stderr.on('data', (d: Buffer) => {
        log += d.toString();
        if (/ started /.test(log)) resolve();
      });
      server.once('exit', (code) => reject(new Error(`the broker exited with ${code}: ${log}`)));
    });
    const outputs: string[] = [];
    for (const block of clients) {
      for (const line of block) {
        const command = line.replaceAll('localhost:9092', `localhost:${port}`);
        const { stdout } = await run('sh', ['-c', command], { cwd: ROOT, timeout: 60_000 });
        outputs.push(stdout);
      }
    }
    const all = outputs.join('');
    assert.match(all, /^hello samsa$/m, 'kcat reads back what it wrote');
    assert.match(all, /Created topic orders\./);
    // Keyed records land on different partitions, so their order is not defined.
    assert.match(all, /^k1\tfirst$/m, 'the console consumer prints keys and values');
    assert.match(all, /^k2\tsecond$/m);
    assert.match(all, /^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG/m);
    assert.match(all, /^my-group\s+orders\s+\d\s+\d\s+\d\s+0\s/m, 'the group has read everything');
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    await rm(dir, { recursive: true, force: true });
  }
});
