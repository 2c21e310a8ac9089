import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { withTempDir } from '../storage/helpers.js';
import { MAIN, samsa, startedPort } from './cli.js';

/** A node id no other broker on this machine uses, so that the test stops only its own broker. */
function uniqueNodeId(): number {
  return 100_000 + Math.floor(Math.random() * 1_000_000);
}

test('samsa server-stop --node-id signals the broker started with that node id, which shuts down cleanly', () =>
  withTempDir(async (dir) => {
    const nodeId = uniqueNodeId();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'server',
        '--override',
        'listeners=PLAINTEXT://127.0.0.1:0',
        '--override',
        `log.dirs=${join(dir, 'data')}`,
        '--override',
        `node.id=${nodeId}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await startedPort(child);
      const other = await samsa(['server-stop', '--node-id', String(nodeId + 1)]);
      assert.equal(other.code, 1);
      assert.equal(other.stdout, 'No kafka server to stop\n');

      const stopped = await samsa(['server-stop', '--node-id', String(nodeId)]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await exited, 0);
      assert.ok(existsSync(join(dir, 'data', '.kafka_cleanshutdown')), 'clean shutdown marker written');

      const none = await samsa(['server-stop', '--node-id', String(nodeId)]);
      assert.equal(none.code, 1);
      assert.equal(none.stdout, 'No kafka server to stop\n');
    } finally {
      child.kill('SIGKILL');
    }
  }));

test('every samsa tool answers --version with the version, as Kafka tools do', async () => {
  const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  for (const tool of [
    'topics',
    'console-consumer',
    'producer-perf-test',
    'consumer-perf-test',
    'dump-log',
    'configs',
  ]) {
    const run = await samsa([tool, '--version']);
    assert.equal(run.code, 0, `${tool}: ${run.stderr}`);
    assert.equal(run.stdout, `${pkg.version}\n`, tool);
  }
});
