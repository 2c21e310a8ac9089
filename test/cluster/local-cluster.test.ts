import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withTimeout } from '../chaos/harness.js';
import { MAIN, samsa } from '../integration/cli.js';
import { eventually, kafkaFor } from './cluster-helpers.js';
import { etcdUnavailable } from './etcd.js';

/** How long `samsa cluster` may take to print its bootstrap servers (three brokers compiled from source). */
const START_TIMEOUT_MS = 100_000;
/** How long the whole stop may take before the test counts it as hung. */
const STOP_TIMEOUT_MS = 90_000;

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

test('samsa cluster: etcd and three brokers in one command; a topic with replication factor 3 takes records that ' +
  'a consumer group reads back; SIGINT stops the brokers cleanly, then etcd, and leaves no process behind', {
  skip: etcdUnavailable,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-local-cluster-'));
  const args = ['cluster', '--dir', dir, '--port', '0', '--override', 'broker.rack=rack-{node.id}'];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const bootstrap = await withTimeout(
      eventually(
        'the bootstrap servers printed',
        async () => /^bootstrap servers: (.+)$/m.exec(stdout)?.[1]?.split(','),
        START_TIMEOUT_MS,
      ),
      START_TIMEOUT_MS,
      `samsa cluster start-up (stdout: ${stdout}, stderr: ${stderr})`,
    );
    assert.equal(bootstrap.length, 3);
    const pids = [...stdout.matchAll(/^(etcd|broker \d) pid (\d+)/gm)].map((m) => ({
      name: m[1]!,
      pid: Number(m[2]),
    }));
    assert.deepEqual(
      pids.map((p) => p.name),
      ['etcd', 'broker 1', 'broker 2', 'broker 3'],
    );
    // What the user is told to look at is there: each broker's configuration, naming etcd.
    const props = await readFile(join(dir, 'broker-2.properties'), 'utf8');
    assert.match(props, /^node\.id=2$/m);
    assert.match(props, /^samsa\.metadata\.store=etcd$/m);
    assert.match(props, /^broker\.rack=rack-2$/m, "{node.id} in an --override is the broker's own id");

    const kafka = kafkaFor(bootstrap, 'local-cluster-test');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: 'tryout', numPartitions: 2, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      const described = await admin.fetchTopicMetadata({ topics: ['tryout'] });
      for (const p of described.topics[0]!.partitions) assert.deepEqual([...p.replicas].sort(), [1, 2, 3]);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const values = Array.from({ length: 20 }, (_, i) => `record-${i}`);
    try {
      await producer.send({ topic: 'tryout', acks: -1, messages: values.map((value) => ({ key: value, value })) });
    } finally {
      await producer.disconnect();
    }
    const consumer = kafka.consumer({ groupId: 'tryout-group' });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'tryout', fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      await eventually('every record consumed', async () => (seen.length >= values.length ? true : undefined));
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual([...seen].sort(), [...values].sort());

    child.kill('SIGINT');
    assert.equal(await withTimeout(exited, STOP_TIMEOUT_MS, 'samsa cluster stop'), 0, stderr);
    // Brokers first, in reverse start order, each by its clean stop; etcd last.
    const stops = [...stdout.matchAll(/^(etcd|broker \d) stopped \((.*)\)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
    assert.deepEqual(stops, [
      'broker 3: exit code 0',
      'broker 2: exit code 0',
      'broker 1: exit code 0',
      'etcd: signal SIGTERM',
    ]);
    for (const nodeId of [1, 2, 3]) await access(join(dir, `broker-${nodeId}`, '.kafka_cleanshutdown'));
    for (const { name, pid } of pids) assert.ok(processGone(pid), `${name} (pid ${pid}) still running`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    // Should the command have failed, its children are found by their pids and not left running.
    for (const m of stdout.matchAll(/ pid (\d+)/g))
      if (!processGone(Number(m[1]))) process.kill(Number(m[1]), 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('samsa cluster without etcd installed says which package to install', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-local-cluster-'));
  const saved = process.env['PATH'];
  // A PATH with node alone on it (Debian installs etcd beside node, in /usr/bin).
  await mkdir(join(dir, 'bin'));
  await symlink(process.execPath, join(dir, 'bin', 'node'));
  process.env['PATH'] = join(dir, 'bin');
  try {
    const run = await samsa(['cluster', '--port', '0', '--dir', join(dir, 'cluster')]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /etcd is not installed .*apt-get install etcd-server/);
  } finally {
    process.env['PATH'] = saved;
    await rm(dir, { recursive: true, force: true });
  }
});
