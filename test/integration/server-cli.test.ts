import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { withTempDir } from '../storage/helpers.js';
import { startedPort } from './cli.js';
import { consumeWithKcat } from './clients.js';

const run = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function samsa(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

test('samsa server starts from server.properties, serves clients, and stops cleanly on SIGTERM', () =>
  withTempDir(async (dir) => {
    const props = join(dir, 'server.properties');
    await writeFile(props, `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\nnum.io.threads=8\n`);
    const child = samsa(['server', props, '--override', 'num.partitions=2']);
    const port = await startedPort(child);
    const bootstrap = `127.0.0.1:${port}`;
    await run('sh', ['-c', `printf 'a\\nb\\n' | kcat -b ${bootstrap} -P -t cli-topic -p 1`]);
    const records = await consumeWithKcat(bootstrap, 'cli-topic', 1);
    assert.deepEqual(
      records.map((r) => r.value),
      ['a', 'b'],
    );
    const { stdout } = await run('kcat', ['-b', bootstrap, '-L', '-t', 'cli-topic']);
    assert.match(stdout, /2 partitions/, 'the override applied to auto-created topics');

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(existsSync(join(dir, 'data', '.kafka_cleanshutdown')), 'clean shutdown marker written');
    assert.ok(existsSync(join(dir, 'data', 'meta.properties')));
  }));

test('an invalid value stops start-up with a message naming the key', async () => {
  const child = samsa(['server', '--override', 'num.partitions=zero']);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 1);
  assert.match(err, /num\.partitions/);
});
