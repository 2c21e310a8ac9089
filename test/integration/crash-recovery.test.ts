import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { withTempDir } from '../storage/helpers.js';
import { consumeWithKafkaPython, consumeWithKcat, createTopics, PYTHON } from './clients.js';
import { DroppingProxy } from './dropping-proxy.js';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const ACKED_BEFORE_KILL = 300;
const run = promisify(execFile);

/** A port free right now, so that a restarted broker can listen where its clients expect it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `samsa server` and resolves its port from the start-up log line. `exited` is made at spawn, so a
 * kill whose exit event fires before the caller awaits it is not missed.
 */
function startServer(props: string): { child: ChildProcess; port: Promise<number>; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', props], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = new Promise<number>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = / started .*listener=[^ ]*:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { child, port, exited };
}

test('kill -9 during acks=all writes: after restart every acknowledged record is there once, in order', () =>
  withTempDir(async (dir) => {
    const data = join(dir, 'data');
    const props = join(dir, 'server.properties');
    await writeFile(props, `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${data}\nlog.segment.bytes=20000\n`);

    const first = startServer(props);
    const port = await first.port;
    const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    await createTopics(kafka, [{ topic: 'crash', numPartitions: 1 }]);
    const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
    await producer.connect();

    // Several producers' worth of concurrent sends, each acknowledged only once on disk.
    const acknowledged: string[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const value = `m${next++}`;
        try {
          await producer.send({ topic: 'crash', acks: -1, messages: [{ value }] });
          acknowledged.push(value);
          if (acknowledged.length === ACKED_BEFORE_KILL && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        } catch {
          // Sends in flight at the kill fail; they were never acknowledged.
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await first.exited;
    await producer.disconnect().catch(() => {});

    const second = startServer(props);
    const port2 = await second.port;
    const records = await consumeWithKafkaPython(`127.0.0.1:${port2}`, 'crash', [0]);
    const values = records.map((r) => r.value!);
    assert.deepEqual(
      records.map((r) => r.offset),
      values.map((_, i) => i),
      'offsets are dense from 0',
    );
    assert.equal(new Set(values).size, values.length, 'no record twice');
    const stored = new Set(values);
    for (const v of acknowledged) assert.ok(stored.has(v), `acknowledged ${v} is stored`);
    // Acknowledged records keep the order in which they were acknowledged.
    const position = new Map(values.map((v, i) => [v, i]));
    const order = acknowledged.map((v) => position.get(v)!);
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
    );

    second.child.kill('SIGTERM');
    await second.exited;

    // The log's own consistency check: every segment is whole batches with valid CRCs and dense offsets.
    const partitionDir = join(data, 'crash-0');
    let expected = 0;
    for (const name of (await readdir(partitionDir)).filter((f) => f.endsWith('.log')).sort()) {
      const { batches, partialBytes } = readBatches(await readFile(join(partitionDir, name)));
      assert.equal(partialBytes, 0, `${name} has no torn tail`);
      for (const b of batches) {
        assert.equal(b.verifyCrc(), true);
        assert.equal(Number(b.baseOffset), expected);
        expected = Number(b.lastOffset) + 1;
      }
    }
    assert.equal(expected, values.length);
  }));

test('kill -9 right after an idempotent batch was written but before its answer arrived: the retry after the restart is not written twice', () =>
  withTempDir(async (dir) => {
    const port = await freePort();
    let server: ReturnType<typeof startServer> | null = null;
    let restarted: Promise<number> | null = null;
    const props = join(dir, 'server.properties');
    // The broker is killed at the moment the proxy swallows the answer to the 40th Produce request.
    const proxy = new DroppingProxy(
      () => ({ host: '127.0.0.1', port }),
      (n) => n === 40,
      () => {
        const killed = server!.child;
        killed.once('exit', () => {
          server = startServer(props);
          restarted = server.port;
        });
        killed.kill('SIGKILL');
      },
    );
    const proxyPort = await proxy.listen();
    await writeFile(
      props,
      `listeners=PLAINTEXT://127.0.0.1:${port}\nadvertised.listeners=PLAINTEXT://127.0.0.1:${proxyPort}\nlog.dirs=${join(dir, 'data')}\nlog.segment.bytes=50000\n`,
    );
    server = startServer(props);
    await server.port;
    try {
      const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
      await createTopics(kafka, [{ topic: 'idem-crash', numPartitions: 1 }]);

      const count = 1000;
      const script = join(import.meta.dirname, 'python', 'idempotent_producer.py');
      const { stdout } = await run(PYTHON, [script, `127.0.0.1:${proxyPort}`, 'idem-crash', String(count), '1'], {
        timeout: 120_000,
      });
      assert.ok(restarted, 'the broker was killed part-way');
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { delivered: number; errors: string[] };
      assert.deepEqual(result.errors, []);
      assert.equal(result.delivered, count);
      const stored = await consumeWithKcat(`127.0.0.1:${await restarted!}`, 'idem-crash', 0);
      assert.deepEqual(
        stored.map((r) => r.value),
        Array.from({ length: count }, (_, i) => `v${i}`),
      );
    } finally {
      await proxy.close();
      const last = server!;
      if (last.child.exitCode === null && last.child.signalCode === null) {
        last.child.kill('SIGTERM');
        await last.exited;
      }
    }
  }));
