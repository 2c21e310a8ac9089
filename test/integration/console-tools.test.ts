import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Broker, startBroker } from '../../src/index.js';
import { consumeWithKafkaPython } from './clients.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let broker: Broker;

before(async () => {
  broker = await startBroker({ numPartitions: 2, groups: { offsetsTopicNumPartitions: 3 } });
});

after(async () => {
  await broker.stop();
});

/** Runs a tool with `input` on its standard input. */
function tool(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

test('console-producer sends keyed lines under a codec; console-consumer prints them back with keys, partitions, offsets', async () => {
  const b = ['--bootstrap-server', broker.bootstrap];
  await run(process.execPath, [
    '--import',
    'tsx',
    MAIN,
    'topics',
    ...b,
    '--create',
    '--topic',
    'console',
    '--partitions',
    '1',
  ]);
  const lines = Array.from({ length: 30 }, (_, i) => `key${i}:value ${i}`).join('\n');
  const produced = await tool(
    [
      'console-producer',
      ...b,
      '--topic',
      'console',
      '--property',
      'parse.key=true',
      '--property',
      'key.separator=:',
      // Without a value, Kafka's default codec: gzip.
      '--compression-codec',
    ],
    `${lines}\n`,
  );
  assert.equal(produced.code, 0, produced.stderr);

  // An independent client sees what the tool wrote.
  const viaPython = await consumeWithKafkaPython(broker.bootstrap, 'console', [0]);
  assert.deepEqual(
    viaPython.map((r) => [r.offset, r.key, r.value]),
    Array.from({ length: 30 }, (_, i) => [i, `key${i}`, `value ${i}`]),
  );

  const consumed = await tool([
    'console-consumer',
    ...b,
    '--topic',
    'console',
    '--from-beginning',
    '--max-messages',
    '30',
    '--property',
    'print.key=true',
    '--property',
    'print.partition=true',
    '--property',
    'print.offset=true',
  ]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(
    consumed.stdout.trim().split('\n'),
    Array.from({ length: 30 }, (_, i) => `Partition:0\tOffset:${i}\tkey${i}\tvalue ${i}`),
  );
  assert.match(consumed.stderr, /Processed a total of 30 messages/);

  const fromOffset = await tool([
    'console-consumer',
    ...b,
    '--topic',
    'console',
    '--partition',
    '0',
    '--offset',
    '27',
    '--max-messages',
    '3',
  ]);
  assert.equal(fromOffset.code, 0, fromOffset.stderr);
  assert.deepEqual(fromOffset.stdout.trim().split('\n'), ['value 27', 'value 28', 'value 29']);
});

test('console tools: usage errors exit 2; an unreachable broker is one line', async () => {
  const offsetWithoutPartition = await tool([
    'console-consumer',
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    'x',
    '--offset',
    '3',
  ]);
  assert.equal(offsetWithoutPartition.code, 2);
  assert.match(offsetWithoutPartition.stderr, /partition is required when offset is specified/);
  const badCodec = await tool([
    'console-producer',
    '--bootstrap-server',
    broker.bootstrap,
    '--topic',
    'x',
    '--compression-codec',
    'brotli',
  ]);
  assert.equal(badCodec.code, 2);
  const unreachable = await tool(['console-producer', '--broker-list', '127.0.0.1:1', '--topic', 'x'], 'hello\n');
  assert.equal(unreachable.code, 1);
  assert.equal(unreachable.stderr, 'samsa console-producer: cannot reach a broker at 127.0.0.1:1 (ECONNREFUSED)\n');
});
