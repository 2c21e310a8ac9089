import { cp, mkdir, open, readdir, readFile, rm, stat, truncate, unlink } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../src/broker/broker.js';
import { Logger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { readBatches } from '../../src/protocol/records/record-batch.js';
import { createTopics } from '../integration/clients.js';
import {
  BrokerProcess,
  freePort,
  RawClient,
  Rng,
  readPartition,
  START_TIMEOUT_MS,
  withTimeout,
  writeServerProperties,
} from './harness.js';

/**
 * Probe 2: the damaged-file matrix. A broker writes every kind of file Samsa keeps (segments and their
 * indexes, producer snapshots, the four checkpoints, partition.metadata, meta.properties, the metadata store's
 * snapshot and journal, the internal topics' segments) and is stopped, cleanly or with SIGKILL; then one file is
 * damaged in one way, the broker restarted, and the outcome judged. Acceptable:
 * - the broker starts, every acknowledged record outside the damaged bytes is readable at its offset (a damaged
 *   segment may lose the records from the damage on, never those before it nor other partitions'; a damaged
 *   index, checkpoint, snapshot or metadata file loses nothing), no partition serves a hole, and the group's
 *   committed offsets survive unless their own records were damaged; or
 * - the broker refuses to start with a message naming the damaged file.
 */

export type StopMode = 'clean' | 'kill';
export type Damage = 'deleted' | 'emptied' | 'truncated' | 'garbage-inside' | 'garbage-appended';
export const DAMAGES: readonly Damage[] = ['deleted', 'emptied', 'truncated', 'garbage-inside', 'garbage-appended'];
export const STOP_MODES: readonly StopMode[] = ['clean', 'kill'];

const DATA_TOPIC = 'chaos-data';
const DATA_PARTITIONS = 3;
const TXN_TOPIC = 'chaos-txn';
const COMPACT_TOPIC = 'chaos-compact';
const GROUP = 'chaos-group';
/** Small segments and dense indexes, so that every partition has several segments with index entries. */
const SEGMENT_BYTES = 4096;
const INDEX_INTERVAL_BYTES = 128;
const OFFSETS_PARTITIONS = 2;
const TXN_STATE_PARTITIONS = 2;
const CLEANER_BACKOFF_MS = 100;
/** The embedded metadata store writes snapshot.json after this many journal entries (SNAPSHOT_EVERY_ENTRIES). */
const METADATA_ENTRIES_PER_SNAPSHOT = 1000;
const CONFIGS_TOPIC = 'chaos-configs';
/** Values padded to this length, so that a few dozen records roll segments. */
const VALUE_BYTES = 100;
/** Garbage written into or after a file. */
const GARBAGE_BYTES = 64;
/** How long OffsetFetch may answer COORDINATOR_LOAD_IN_PROGRESS before the group counts as stuck loading. */
const GROUP_LOAD_TIMEOUT_MS = 10_000;

/** The files of the matrix: a name for the report, and how to find it in a log dir after the set-up. */
export const TARGETS = [
  'segment-first',
  'segment-active',
  'offset-index',
  'time-index',
  'txn-index',
  'producer-snapshot',
  'recovery-point-offset-checkpoint',
  'log-start-offset-checkpoint',
  'cleaner-offset-checkpoint',
  'replication-offset-checkpoint',
  'partition.metadata',
  'meta.properties',
  'metadata-snapshot',
  'metadata-journal',
  'consumer-offsets-segment',
  'transaction-state-segment',
] as const;
export type Target = (typeof TARGETS)[number];

export interface CaseId {
  target: Target;
  damage: Damage;
  mode: StopMode;
}

export function caseName(c: CaseId): string {
  return `${c.mode}/${c.target}/${c.damage}`;
}

/** What the set-up wrote and had acknowledged. */
export interface Written {
  /** topic-partition -> offset -> value, every acknowledged record (committed transactions only). */
  acked: Map<string, Map<number, string>>;
  /** The values of records of aborted transactions, which read_committed must not serve. */
  abortedValues: Set<string>;
  /** The group's committed offsets per partition of DATA_TOPIC, in commit order. */
  commits: number[][];
  /** The latest value of each key of the compacted topic. */
  compactLatest: Map<string, string>;
}

export interface Template {
  dir: string;
  written: Written;
  files: Record<Target, string>;
}

const brokerProps = {
  'log.segment.bytes': SEGMENT_BYTES,
  'log.index.interval.bytes': INDEX_INTERVAL_BYTES,
  'offsets.topic.num.partitions': OFFSETS_PARTITIONS,
  'transaction.state.log.num.partitions': TXN_STATE_PARTITIONS,
  'log.cleaner.backoff.ms': CLEANER_BACKOFF_MS,
  'group.initial.rebalance.delay.ms': 0,
  'auto.create.topics.enable': 'false',
};

function pad(value: string): string {
  return value.padEnd(VALUE_BYTES, '.');
}

function remember(written: Written, topic: string, partition: number, offset: number, value: string): void {
  const key = `${topic}-${partition}`;
  const m = written.acked.get(key) ?? new Map<number, string>();
  written.acked.set(key, m);
  m.set(offset, value);
}

/** Writes a round of records to each partition of DATA_TOPIC with an idempotent acks=all producer. */
async function writeData(kafka: Kafka, written: Written, rounds: number, tag: string): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let round = 0; round < rounds; round++) {
      const messages = Array.from({ length: DATA_PARTITIONS }, (_, partition) => ({
        partition,
        value: pad(`${tag}-p${partition}-${round}`),
      }));
      const result = await producer.send({ topic: DATA_TOPIC, acks: -1, messages });
      for (const r of result)
        remember(written, DATA_TOPIC, r.partition, Number(r.baseOffset), messages[r.partition]!.value);
    }
  } finally {
    await producer.disconnect();
  }
}

/** One committed, one aborted, one committed transaction, so that the partition has a transaction index. */
async function writeTransactions(kafka: Kafka, written: Written): Promise<void> {
  const producer = kafka.producer({ transactionalId: 'chaos-txn-id', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (const [i, outcome] of (['commit', 'abort', 'commit'] as const).entries()) {
      const txn = await producer.transaction();
      const values = [0, 1, 2].map((j) => `txn${i}-${outcome}-${j}`);
      const result = await txn.send({
        topic: TXN_TOPIC,
        acks: -1,
        messages: values.map((value) => ({ partition: 0, value })),
      });
      if (outcome === 'commit') {
        await txn.commit();
        const base = Number(result[0]!.baseOffset);
        for (const [j, v] of values.entries()) remember(written, TXN_TOPIC, 0, base + j, v);
      } else {
        await txn.abort();
        for (const v of values) written.abortedValues.add(v);
      }
    }
  } finally {
    await producer.disconnect();
  }
}

async function writeCompacted(kafka: Kafka, written: Written, rounds: number, tag: string): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < 5; k++) {
        const value = pad(`${tag}-k${k}-${round}`);
        await producer.send({ topic: COMPACT_TOPIC, acks: -1, messages: [{ key: `k${k}`, value }] });
        written.compactLatest.set(`k${k}`, value);
      }
    }
  } finally {
    await producer.disconnect();
  }
}

/** Commits offsets for every partition of DATA_TOPIC in one OffsetCommit (a tool's commit: no member). */
async function commitOffsets(port: number, written: Written, offsets: number[]): Promise<void> {
  const client = await RawClient.connect(port);
  try {
    await client.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [GROUP] });
    const r = await client.request(apis.OffsetCommit, 8, {
      groupId: GROUP,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [
        {
          name: DATA_TOPIC,
          partitions: offsets.map((offset, partitionIndex) => ({
            partitionIndex,
            committedOffset: BigInt(offset),
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: '',
          })),
        },
      ],
    });
    for (const p of r.topics[0]!.partitions)
      if (p.errorCode !== ErrorCode.NONE) throw new Error(`OffsetCommit failed with ${p.errorCode}`);
    written.commits.push(offsets);
  } finally {
    client.close();
  }
}

/**
 * Enough topic config changes for the metadata store to write its snapshot, before the other topics are
 * created: the store then has both a snapshot and a journal after it.
 */
async function forceMetadataSnapshot(port: number): Promise<void> {
  const client = await RawClient.connect(port);
  try {
    // One at a time: concurrent changes of one topic lose their compare-and-set and are refused.
    for (let i = 0; i < METADATA_ENTRIES_PER_SNAPSHOT; i++) {
      const r = await client.request(apis.IncrementalAlterConfigs, 1, {
        resources: [
          {
            resourceType: 2, // TOPIC
            resourceName: CONFIGS_TOPIC,
            configs: [{ name: 'retention.ms', configOperation: 0, value: String(3_600_000 + i) }],
          },
        ],
        validateOnly: false,
      });
      if (r.responses[0]!.errorCode !== ErrorCode.NONE)
        throw new Error(`set-up: IncrementalAlterConfigs failed with ${r.responses[0]!.errorCode}`);
    }
  } finally {
    client.close();
  }
}

/** Waits for a set-up step; `timeoutMs` bounds a hang (a loaded machine's log cleaner may take long to run). */
async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`set-up: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function fileHas(path: string, text: string): Promise<boolean> {
  return readFile(path, 'utf8').then(
    (s) => s.includes(text),
    () => false,
  );
}

/**
 * Runs a broker process that writes every kind of file, and stops it cleanly ('clean') or, after a clean stop,
 * a restart and more writes, with SIGKILL ('kill': the checkpoints are then older than the logs and the next
 * start recovers).
 */
export async function buildTemplate(dir: string, mode: StopMode): Promise<Template> {
  const logDir = join(dir, 'template');
  await mkdir(dir, { recursive: true });
  const props = join(dir, 'server.properties');
  const port = await freePort();
  await writeServerProperties(props, logDir, port, brokerProps);
  const written: Written = { acked: new Map(), abortedValues: new Set(), commits: [], compactLatest: new Map() };
  const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });

  let broker = new BrokerProcess(props);
  await broker.waitStarted();
  try {
    await createTopics(kafka, [{ topic: CONFIGS_TOPIC, numPartitions: 1 }]);
    await forceMetadataSnapshot(port);
    await createTopics(kafka, [
      { topic: DATA_TOPIC, numPartitions: DATA_PARTITIONS },
      { topic: TXN_TOPIC, numPartitions: 1 },
      {
        topic: COMPACT_TOPIC,
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: '1024' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        ],
      },
    ]);
    await writeData(kafka, written, 60, 'a');
    await commitOffsets(port, written, [10, 11, 12]);
    await writeTransactions(kafka, written);
    await commitOffsets(port, written, [20, 21, 22]);
    await writeCompacted(kafka, written, 6, 'a');
    await commitOffsets(port, written, [30, 31, 32]);
    await waitFor('a log cleaner pass', () => fileHas(join(logDir, 'cleaner-offset-checkpoint'), COMPACT_TOPIC));
    await broker.stop();
    if (mode === 'kill') {
      broker = new BrokerProcess(props);
      await broker.waitStarted();
      await writeData(kafka, written, 20, 'b');
      await commitOffsets(port, written, [40, 41, 42]);
      await writeCompacted(kafka, written, 2, 'b');
      await commitOffsets(port, written, [50, 51, 52]);
      await broker.kill();
    }
  } finally {
    await broker.kill();
  }
  return { dir: logDir, written, files: await findTargets(logDir) };
}

async function newestFile(dir: string, suffix: string, which: 'first' | 'last' = 'last'): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(suffix)).sort();
  const name = which === 'first' ? names[0] : names.at(-1);
  if (!name) throw new Error(`set-up: no ${suffix} file in ${dir}`);
  return join(dir, name);
}

/** The first partition directory of `topic` whose first segment holds records. */
async function nonEmptyPartition(logDir: string, topic: string): Promise<string> {
  for (const name of (await readdir(logDir)).filter((n) => n.startsWith(`${topic}-`)).sort()) {
    const segment = join(logDir, name, '00000000000000000000.log');
    if ((await stat(segment).catch(() => null))?.size) return join(logDir, name);
  }
  throw new Error(`set-up: no partition of ${topic} holds records`);
}

async function findTargets(logDir: string): Promise<Record<Target, string>> {
  const data0 = join(logDir, `${DATA_TOPIC}-0`);
  const data1 = join(logDir, `${DATA_TOPIC}-1`);
  const txn0 = join(logDir, `${TXN_TOPIC}-0`);
  const offsets = await nonEmptyPartition(logDir, '__consumer_offsets');
  const txnState = await nonEmptyPartition(logDir, '__transaction_state');
  const files: Record<Target, string> = {
    'segment-first': join(data0, '00000000000000000000.log'),
    'segment-active': await newestFile(data1, '.log'),
    'offset-index': join(data0, '00000000000000000000.index'),
    'time-index': join(data0, '00000000000000000000.timeindex'),
    'txn-index': await newestFile(txn0, '.txnindex', 'first'),
    'producer-snapshot': await newestFile(data0, '.snapshot'),
    'recovery-point-offset-checkpoint': join(logDir, 'recovery-point-offset-checkpoint'),
    'log-start-offset-checkpoint': join(logDir, 'log-start-offset-checkpoint'),
    'cleaner-offset-checkpoint': join(logDir, 'cleaner-offset-checkpoint'),
    'replication-offset-checkpoint': join(logDir, 'replication-offset-checkpoint'),
    'partition.metadata': join(data0, 'partition.metadata'),
    'meta.properties': join(logDir, 'meta.properties'),
    'metadata-snapshot': join(logDir, '__samsa_metadata', 'snapshot.json'),
    'metadata-journal': join(logDir, '__samsa_metadata', 'journal.jsonl'),
    'consumer-offsets-segment': join(offsets, '00000000000000000000.log'),
    'transaction-state-segment': join(txnState, '00000000000000000000.log'),
  };
  for (const [target, path] of Object.entries(files)) {
    const size = (await stat(path).catch(() => null))?.size;
    if (!size) throw new Error(`set-up: ${target} (${relative(logDir, path)}) is missing or empty`);
  }
  return files;
}

/** Where the damage starts, in bytes from the file's start; the file's size when nothing of it is lost. */
async function damage(path: string, kind: Damage, rng: Rng): Promise<number> {
  const size = (await stat(path)).size;
  const middle = Math.floor(size / 2);
  switch (kind) {
    case 'deleted':
      await unlink(path);
      return 0;
    case 'emptied':
      await truncate(path, 0);
      return 0;
    case 'truncated':
      await truncate(path, middle);
      return middle;
    case 'garbage-inside': {
      const file = await open(path, 'r+');
      await file.write(rng.bytes(Math.min(GARBAGE_BYTES, size - middle)), 0, undefined, middle);
      await file.close();
      return middle;
    }
    case 'garbage-appended': {
      const file = await open(path, 'a');
      await file.write(rng.bytes(GARBAGE_BYTES));
      await file.close();
      return size;
    }
  }
}

/** The byte ranges and offsets of the batches of a segment file. */
function batchLayout(segment: Buffer): Array<{ start: number; end: number; baseOffset: number; buf: Buffer }> {
  const out: Array<{ start: number; end: number; baseOffset: number; buf: Buffer }> = [];
  let start = 0;
  for (const b of readBatches(segment).batches) {
    out.push({ start, end: start + b.sizeInBytes, baseOffset: Number(b.baseOffset), buf: b.buf });
    start += b.sizeInBytes;
  }
  return out;
}

/** The first offset of a segment whose bytes from `position` on are damaged (Infinity: none of its records). */
function firstDamagedOffset(segment: Buffer, position: number): number {
  return batchLayout(segment).find((b) => b.end > position)?.baseOffset ?? Number.POSITIVE_INFINITY;
}

/**
 * How many of the group's commits lie wholly before `position` in its __consumer_offsets segment: each commit
 * of the set-up is one batch of offset commit records (key version 0 or 1).
 */
function intactCommits(segment: Buffer, position: number): number {
  let count = 0;
  for (const b of batchLayout(segment)) {
    const batch = readBatches(b.buf).batches[0]!;
    if (batch.isControl) continue;
    const isCommit = [...batch.records()].some((r) => r.key !== null && r.key.readInt16BE(0) <= 1);
    if (isCommit && b.end <= position) count++;
  }
  return count;
}

export interface CaseResult {
  name: string;
  outcome: 'started' | 'refused';
  /** Why the outcome is not acceptable; empty when it is. */
  problems: string[];
  /** The refusal's message, or the WARN/ERROR lines logged by a start. */
  message: string;
}

/** Copies the template, damages one file, restarts the broker from it, and judges the outcome. */
export async function runCase(template: Template, c: CaseId, workDir: string, rng: Rng): Promise<CaseResult> {
  const name = caseName(c);
  const dir = join(workDir, name.replaceAll('/', '_'));
  await cp(template.dir, dir, { recursive: true });
  try {
    const original = template.files[c.target];
    const path = join(dir, relative(template.dir, original));
    const before = await readFile(path);
    const position = await damage(path, c.damage, rng);

    const lines: string[] = [];
    const logger = new Logger('broker', { level: 'warn', sink: { write: (line: string) => void lines.push(line) } });
    let broker: Awaited<ReturnType<typeof startBroker>>;
    try {
      broker = await withTimeout(
        startBroker({
          logDirs: [dir],
          logger,
          autoCreateTopicsEnable: false,
          logDefaults: { segmentBytes: SEGMENT_BYTES, indexIntervalBytes: INDEX_INTERVAL_BYTES },
          groups: { offsetsTopicNumPartitions: OFFSETS_PARTITIONS },
          transactions: { stateLogNumPartitions: TXN_STATE_PARTITIONS },
        }),
        START_TIMEOUT_MS,
        'start-up',
      );
    } catch (e) {
      const message = [(e as Error).message, ...lines].join('\n');
      const partitionDir = basename(join(path, '..'));
      const names = message.includes(basename(path)) && (join(path, '..') === dir || message.includes(partitionDir));
      return {
        name,
        outcome: 'refused',
        problems: names ? [] : ['refused to start without naming the damaged file'],
        message,
      };
    }
    try {
      const problems = await judge(template, c, broker.port, before, position);
      return { name, outcome: 'started', problems, message: lines.join('\n') };
    } finally {
      await withTimeout(broker.stop(), START_TIMEOUT_MS, 'clean stop');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A read on a connection of its own: a broker that closes it on a damaged batch fails this read only. */
async function readWithOwnConnection(port: number, topic: string, partition: number, isolation: 0 | 1) {
  const client = await RawClient.connect(port);
  try {
    return await readPartition(client, topic, partition, isolation);
  } catch (e) {
    return { records: [], batches: [], endOffset: -1, logStartOffset: -1, stoppedBy: (e as Error).message };
  } finally {
    client.close();
  }
}

async function judge(template: Template, c: CaseId, port: number, before: Buffer, position: number): Promise<string[]> {
  const { written, files } = template;
  const problems: string[] = [];
  const damagedPartition =
    c.target.endsWith('-segment') || c.target.startsWith('segment-') ? basename(join(files[c.target], '..')) : null;
  const client = await RawClient.connect(port);
  try {
    for (const [tp, acked] of written.acked) {
      const cut = tp.lastIndexOf('-');
      const topic = tp.slice(0, cut);
      const partition = Number(tp.slice(cut + 1));
      const lossFrom = tp === damagedPartition ? firstDamagedOffset(before, position) : Number.POSITIVE_INFINITY;
      const read = await readWithOwnConnection(port, topic, partition, topic === TXN_TOPIC ? 1 : 0);
      const served = new Map(read.records.map((r) => [r.offset, r.value]));
      const missing = [...acked].filter(([offset, value]) => offset < lossFrom && served.get(offset) !== value);
      if (missing.length > 0) {
        const [offset] = missing[0]!;
        problems.push(
          `${tp}: ${missing.length} acknowledged records before the damage not served (first at offset ${offset}${read.stoppedBy ? `; read stopped: ${read.stoppedBy}` : ''})`,
        );
      }
      const wrong = [...served].filter(([offset, value]) => acked.has(offset) && acked.get(offset) !== value);
      if (wrong.length > 0)
        problems.push(`${tp}: ${wrong.length} offsets serve other values than were acknowledged there`);
      for (let i = 1; i < read.batches.length; i++) {
        const gapFrom = read.batches[i - 1]![1] + 1;
        const gapTo = read.batches[i]![0] - 1;
        if (gapTo >= gapFrom) problems.push(`${tp}: serves a hole, offsets ${gapFrom}..${gapTo}`);
      }
      const aborted = read.records.filter((r) => r.value !== null && written.abortedValues.has(r.value));
      if (aborted.length > 0)
        problems.push(`${tp}: read_committed serves ${aborted.length} records of an aborted transaction`);
    }

    const compact = await readWithOwnConnection(port, COMPACT_TOPIC, 0, 0);
    const latest = new Map(compact.records.map((r) => [r.key, r.value]));
    for (const [key, value] of written.compactLatest)
      if (latest.get(key) !== value) problems.push(`${COMPACT_TOPIC}-0: key ${key} lost its latest value`);

    problems.push(
      ...(await judgeGroupOffsets(
        client,
        written,
        c.target === 'consumer-offsets-segment' ? intactCommits(before, position) : null,
      )),
    );
  } catch (e) {
    problems.push(`the broker started but did not answer: ${(e as Error).message}`);
  } finally {
    client.close();
  }
  return problems;
}

/**
 * The group's committed offsets: the last commit when its records were not damaged; else the last commit wholly
 * before the damage or a later one (`intact` commits survive), or none when no commit was intact.
 */
async function judgeGroupOffsets(client: RawClient, written: Written, intact: number | null): Promise<string[]> {
  const deadline = Date.now() + GROUP_LOAD_TIMEOUT_MS;
  for (;;) {
    await client.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [GROUP] });
    const r = await client.request(apis.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [
        {
          groupId: GROUP,
          memberId: null,
          memberEpoch: -1,
          topics: [{ name: DATA_TOPIC, partitionIndexes: [0, 1, 2] }],
        },
      ],
      requireStable: false,
    });
    const group = r.groups[0]!;
    const partitions = group.topics[0]?.partitions ?? [];
    const loading =
      group.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
      partitions.some((p) => p.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    if (loading) {
      if (Date.now() > deadline) return [`group ${GROUP} still loading after ${GROUP_LOAD_TIMEOUT_MS} ms`];
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (group.errorCode !== ErrorCode.NONE) return [`OffsetFetch for ${GROUP} failed with ${group.errorCode}`];
    const problems: string[] = [];
    for (let partition = 0; partition < DATA_PARTITIONS; partition++) {
      const got = Number(partitions.find((p) => p.partitionIndex === partition)?.committedOffset ?? -1);
      const history = written.commits.map((commit) => commit[partition]!);
      const acceptable =
        intact === null
          ? [history.at(-1)!]
          : [...(intact === 0 ? [-1] : []), ...history.slice(Math.max(0, intact - 1))];
      if (!acceptable.includes(got))
        problems.push(
          `group ${GROUP} ${DATA_TOPIC}-${partition}: committed offset ${got}, expected ${acceptable.join(' or ')}`,
        );
    }
    return problems;
  }
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface MatrixOptions {
  seed: number;
  modes?: readonly StopMode[];
  targets?: readonly Target[];
  damages?: readonly Damage[];
  /** Only these cases (by caseName); all of modes x targets x damages when absent. */
  cases?: readonly string[];
  workDir: string;
  /** Called with each result as it comes. */
  onResult?: (result: CaseResult) => void;
}

/** Builds one template per stop mode and runs the chosen cases against copies of it. */
export async function runDamageMatrix(options: MatrixOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const mode of options.modes ?? STOP_MODES) {
    const cases: CaseId[] = [];
    for (const target of options.targets ?? TARGETS)
      for (const kind of options.damages ?? DAMAGES) {
        const c = { target, damage: kind, mode };
        if (!options.cases || options.cases.includes(caseName(c))) cases.push(c);
      }
    if (cases.length === 0) continue;
    const template = await buildTemplate(join(options.workDir, `template-${mode}`), mode);
    for (const c of cases) {
      // Each case's garbage comes from the seed and its name, so that one case replays alone.
      const result = await runCase(template, c, options.workDir, new Rng(options.seed ^ hash(caseName(c))));
      results.push(result);
      options.onResult?.(result);
    }
  }
  return results;
}
