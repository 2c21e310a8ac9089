/**
 * Open files of a broker holding many partitions of several segments each, and the speed of reading them back
 * from their old (inactive) segments. Not part of `npm run bench`:
 *
 *   node --import tsx bench/open-files.ts [--partitions 200] [--nofile 1024]
 *
 * Starts `samsa server` in a child process (under `prlimit --nofile` when given, for the restart and the read),
 * fills the partitions, counts /proc/<pid>/fd while it runs and after a restart, then times kcat reading every
 * partition from the beginning.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const run = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

function arg(name: string, fallback: number | null): number | null {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const PARTITIONS = arg('partitions', 200)!;
const NOFILE = arg('nofile', null);
const SEGMENT_BYTES = 64 * 1024;
const RECORD_BYTES = 1024;
const RECORDS_PER_PARTITION = 320; // about five segments each
const RECORDS_PER_BATCH = 20;

async function start(props: string, nofile: number | null): Promise<{ child: ChildProcess; port: number }> {
  const node = [process.execPath, '--import', 'tsx', MAIN, 'server', props];
  const child = nofile
    ? spawn('prlimit', [`--nofile=${nofile}:${nofile}`, ...node], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = / started .*listener=[^ ]*:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${log}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function openFiles(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-open-files-'));
  try {
    const props = join(dir, 'server.properties');
    await writeFile(
      props,
      `listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs=${join(dir, 'data')}\nlog.segment.bytes=${SEGMENT_BYTES}\nsamsa.max.broker.partitions=100000\n`,
    );
    let { child, port } = await start(props, null);
    const idle = await openFiles(child.pid!);
    const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'many', numPartitions: PARTITIONS }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const value = Buffer.alloc(RECORD_BYTES, 0x61);
    for (let sent = 0; sent < RECORDS_PER_PARTITION; sent += RECORDS_PER_BATCH) {
      const messages = [];
      for (let p = 0; p < PARTITIONS; p++) {
        for (let i = 0; i < RECORDS_PER_BATCH; i++) messages.push({ partition: p, value });
      }
      await producer.send({ topic: 'many', messages, acks: 1 });
    }
    await producer.disconnect();
    const segments = (await readdir(join(dir, 'data', 'many-0'))).filter((f) => f.endsWith('.log')).length;
    const running = await openFiles(child.pid!);
    await stop(child);

    ({ child, port } = await start(props, NOFILE));
    const restarted = await openFiles(child.pid!);
    const totalBytes = PARTITIONS * RECORDS_PER_PARTITION * RECORD_BYTES;
    const readStarted = performance.now();
    const { stdout } = await run(
      'kcat',
      ['-C', '-b', `127.0.0.1:${port}`, '-t', 'many', '-o', 'beginning', '-e', '-q', '-f', '%p\n'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const readMs = performance.now() - readStarted;
    const records = stdout.split('\n').filter((l) => l.length > 0).length;
    const afterRead = await openFiles(child.pid!);
    await stop(child);
    console.log(
      JSON.stringify({
        partitions: PARTITIONS,
        segmentsPerPartition: segments,
        nofile: NOFILE,
        openFiles: { idle, running, restarted, afterRead },
        read: {
          records,
          expected: PARTITIONS * RECORDS_PER_PARTITION,
          MBps: Math.round((totalBytes / 1e6 / (readMs / 1000)) * 10) / 10,
          ms: Math.round(readMs),
        },
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
