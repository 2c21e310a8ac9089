import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../src/index.js';
import { samsa } from './cli.js';

const TOPIC = 'dumped';
let dir: string;
/** Offsets the committing consumer group stored for TOPIC's partition 0. */
const COMMITTED_OFFSET = 7;
/** Record timestamps: near the present, so that the segment does not roll by age (segment.ms) midway. */
const T0 = Date.now();

/**
 * A broker writes a partition holding a gzip batch with keys and headers, an uncompressed batch, a committed
 * and an aborted transaction, and a group's committed offset; it is stopped, and its files are dumped.
 */
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'samsa-dump-log-'));
  // An index entry after every batch, so that the index and time index have entries to check.
  const broker = await startBroker({ logDirs: [dir], logDefaults: { indexIntervalBytes: 1 } });
  try {
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      compression: CompressionTypes.GZIP,
      messages: [
        { key: 'k1', value: 'hello', headers: { h1: 'x', h2: 'y' }, timestamp: String(T0 + 0) },
        { key: 'k2', value: 'world', timestamp: String(T0 + 1) },
      ],
    });
    await producer.send({ topic: TOPIC, messages: [{ value: 'plain', timestamp: String(T0 + 2) }] });
    await producer.disconnect();
    const txProducer = kafka.producer({ transactionalId: 'dump-tx', idempotent: true, maxInFlightRequests: 1 });
    await txProducer.connect();
    const committed = await txProducer.transaction();
    await committed.send({ topic: TOPIC, messages: [{ value: 'tx-a', timestamp: String(T0 + 3) }] });
    await committed.commit();
    const aborted = await txProducer.transaction();
    await aborted.send({ topic: TOPIC, messages: [{ value: 'tx-b', timestamp: String(T0 + 4) }] });
    await aborted.abort();
    await txProducer.disconnect();
    await admin.setOffsets({
      groupId: 'dump-group',
      topic: TOPIC,
      partitions: [{ partition: 0, offset: String(COMMITTED_OFFSET) }],
    });
    await admin.disconnect();
  } finally {
    await broker.stop();
  }
});

after(async () => {
  if (!process.env.KEEP_DUMP) await rm(dir, { recursive: true, force: true });
  else console.log(dir);
});

const SEGMENT = '00000000000000000000';
const file = (partition: string, suffix: string) => join(dir, partition, `${SEGMENT}${suffix}`);

/** Kafka 3.x's batch line, field by field. */
const BATCH_LINE =
  /^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) baseSequence: (-?\d+) lastSequence: (-?\d+) producerId: (-?\d+) producerEpoch: (-?\d+) partitionLeaderEpoch: (-?\d+) isTransactional: (true|false) isControl: (true|false) deleteHorizonMs: OptionalLong\.empty position: (\d+) CreateTime: (\d+) size: (\d+) magic: 2 compresscodec: (none|gzip|snappy|lz4|zstd) crc: (\d+) isvalid: (true|false)$/;
/** Kafka 3.x's record line under --print-data-log (the key only when there is one). */
const RECORD_LINE =
  /^\| offset: (\d+) CreateTime: (\d+) keySize: (-?\d+) valueSize: (-?\d+) sequence: (-?\d+) headerKeys: \[([^\]]*)\](?: key: (\S+))? payload: (.*)$/;
const MARKER_LINE =
  /^\| offset: (\d+) CreateTime: (\d+) keySize: 4 valueSize: 6 sequence: (-?\d+) headerKeys: \[\] endTxnMarker: (COMMIT|ABORT) coordinatorEpoch: (\d+)$/;

test('samsa dump-log prints the batches and records of a segment the broker wrote, as Kafka 3.x does', async () => {
  const log = file(`${TOPIC}-0`, '.log');
  const run = await samsa(['dump-log', '--files', log, '--print-data-log']);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines[0], `Dumping ${log}`);
  assert.equal(lines[1], 'Log starting offset: 0');
  const batches = lines.filter((l) => l.startsWith('baseOffset:')).map((l) => BATCH_LINE.exec(l));
  assert.ok(
    batches.every((b) => b !== null),
    lines.join('\n'),
  );
  // The gzip batch, the plain one, the committed record and its marker, the aborted record and its marker.
  assert.deepEqual(
    batches.map((b) => [b![1], b![2], b![3], b![9], b![10], b![14], b![16]]),
    [
      ['0', '1', '2', 'false', 'false', 'gzip', 'true'],
      ['2', '2', '1', 'false', 'false', 'none', 'true'],
      ['3', '3', '1', 'true', 'false', 'none', 'true'],
      ['4', '4', '1', 'true', 'true', 'none', 'true'],
      ['5', '5', '1', 'true', 'false', 'none', 'true'],
      ['6', '6', '1', 'true', 'true', 'none', 'true'],
    ],
  );
  // Positions add up the sizes; the transactional batches share one producer id and sequences 0 and 1.
  let position = 0;
  for (const b of batches) {
    assert.equal(Number(b![11]), position);
    position += Number(b![13]);
  }
  assert.equal(position, (await readFile(log)).length);
  assert.equal(batches[2]![6], batches[4]![6]);
  assert.notEqual(batches[2]![6], '-1');
  assert.deepEqual([batches[2]![4], batches[4]![4]], ['0', '1']);
  assert.equal(batches[0]![12], String(T0 + 1));

  const records = lines
    .filter((l) => l.startsWith('| ') && !l.includes('endTxnMarker'))
    .map((l) => RECORD_LINE.exec(l));
  assert.ok(
    records.every((r) => r !== null),
    lines.join('\n'),
  );
  assert.deepEqual(
    records.map((r) => [r![1], r![2], r![3], r![4], r![6], r![7], r![8]]),
    [
      ['0', String(T0 + 0), '2', '5', 'h1,h2', 'k1', 'hello'],
      ['1', String(T0 + 1), '2', '5', '', 'k2', 'world'],
      ['2', String(T0 + 2), '-1', '5', '', undefined, 'plain'],
      ['3', String(T0 + 3), '-1', '4', '', undefined, 'tx-a'],
      ['5', String(T0 + 4), '-1', '4', '', undefined, 'tx-b'],
    ],
  );
  const markers = lines.filter((l) => l.includes('endTxnMarker')).map((l) => MARKER_LINE.exec(l));
  assert.deepEqual(
    markers.map((m) => [m?.[1], m?.[4]]),
    [
      ['4', 'COMMIT'],
      ['6', 'ABORT'],
    ],
  );
});

test('samsa dump-log checks the offset index against the segment and reports a corrupted entry', async () => {
  const index = file(`${TOPIC}-0`, '.index');
  const clean = await samsa(['dump-log', '--files', index]);
  assert.equal(clean.code, 0, clean.stderr);
  const entries = clean.stdout.trimEnd().split('\n').slice(1);
  assert.ok(entries.length >= 2, clean.stdout);
  for (const e of entries) assert.match(e, /^offset: \d+ position: \d+$/);
  assert.equal(clean.stderr, '');

  const timeIndex = await samsa(['dump-log', '--files', file(`${TOPIC}-0`, '.timeindex'), '--verify-index-only']);
  assert.equal(timeIndex.code, 0, timeIndex.stderr);
  assert.equal(timeIndex.stdout.trimEnd().split('\n').length, 1, timeIndex.stdout);

  // Point the second entry at the first batch (position 0) while it still names its own offset.
  const bytes = await readFile(index);
  const offset = bytes.readInt32BE(8);
  assert.ok(offset >= 2);
  bytes.writeInt32BE(0, 12);
  await writeFile(index, bytes);
  const corrupt = await samsa(['dump-log', '--files', index, '--verify-index-only']);
  assert.equal(corrupt.code, 0, corrupt.stderr);
  assert.equal(corrupt.stdout, `Dumping ${index}\n`);
  assert.equal(corrupt.stderr, `Mismatches in :${index}\n  Index offset: ${offset}, log offset: 1\n`);

  // A time index entry whose timestamp is not the largest timestamp of the batch it names.
  const timeIndexFile = file(`${TOPIC}-0`, '.timeindex');
  const times = await readFile(timeIndexFile);
  const indexedTimestamp = times.readBigInt64BE(0);
  times.writeBigInt64BE(indexedTimestamp - 1000n, 0);
  await writeFile(timeIndexFile, times);
  const timeMismatch = await samsa(['dump-log', '--files', timeIndexFile]);
  assert.equal(timeMismatch.code, 0, timeMismatch.stderr);
  assert.match(timeMismatch.stdout, new RegExp(`^timestamp: ${indexedTimestamp - 1000n} offset: \\d+$`, 'm'));
  assert.ok(
    timeMismatch.stderr.startsWith(
      `Found timestamp mismatch in :${timeIndexFile}\n  Index timestamp: ${indexedTimestamp - 1000n}, log timestamp: ${indexedTimestamp}\n`,
    ),
    timeMismatch.stderr,
  );

  const sanity = await samsa(['dump-log', '--files', index, '--index-sanity-check']);
  assert.equal(sanity.code, 1);
  assert.match(sanity.stderr, /out of order/);
});

test('samsa dump-log --offsets-decoder shows a committed offset of __consumer_offsets', async () => {
  const { readdir } = await import('node:fs/promises');
  const partitions = (await readdir(dir)).filter((d) => d.startsWith('__consumer_offsets-'));
  const files = partitions.map((p) => file(p, '.log')).join(',');
  const run = await samsa(['dump-log', '--files', files, '--offsets-decoder']);
  assert.equal(run.code, 0, run.stderr);
  const line = run.stdout.split('\n').find((l) => l.includes('key: {"type":"1","data":{"group":"dump-group"'));
  assert.ok(line, run.stdout);
  assert.match(
    line,
    new RegExp(
      `^\\| offset: \\d+ CreateTime: \\d+ keySize: \\d+ valueSize: \\d+ sequence: -1 headerKeys: \\[\\] key: \\{"type":"1","data":\\{"group":"dump-group","topic":"${TOPIC}","partition":0\\}\\} payload: \\{"version":"3","data":\\{"offset":${COMMITTED_OFFSET},"leaderEpoch":-?\\d+,"metadata":"[^"]*","commitTimestamp":\\d+\\}\\}$`,
    ),
  );
});

test('samsa dump-log --transaction-log-decoder and producer snapshots', async () => {
  const { readdir } = await import('node:fs/promises');
  const partitions = (await readdir(dir)).filter((d) => d.startsWith('__transaction_state-'));
  const run = await samsa([
    'dump-log',
    '--files',
    partitions.map((p) => file(p, '.log')).join(','),
    '--transaction-log-decoder',
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /key: transaction_metadata::transactionalId=dump-tx payload: producerId:\d+,producerEpoch:\d+,state=CompleteAbort,partitions=\[\],txnLastUpdateTimestamp=\d+,txnTimeoutMs=\d+\n/,
  );
  assert.match(run.stdout, new RegExp(`state=Ongoing,partitions=\\[${TOPIC}-0\\]`));

  const snapshots = (await readdir(join(dir, `${TOPIC}-0`))).filter((f) => f.endsWith('.snapshot'));
  // The broker writes a producer snapshot when it stops.
  assert.ok(snapshots.length > 0);
  const snap = await samsa(['dump-log', '--files', join(dir, `${TOPIC}-0`, snapshots.at(-1)!)]);
  assert.equal(snap.code, 0, snap.stderr);
  assert.match(
    snap.stdout,
    /^producerId: \d+ producerEpoch: \d+ coordinatorEpoch: -?\d+ currentTxnFirstOffset: OptionalLong\.empty lastTimestamp: \d+ firstSequence: 1 lastSequence: 1 lastOffset: 5 offsetDelta: 0 timestamp: \d+$/m,
  );
});
