import assert from 'node:assert/strict';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogManager } from '../../src/storage/log-manager.js';
import type { StorageLogFields, StorageLogger } from '../../src/storage/log-recovery.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { batchOffsets, makeBatch, testLogConfig, withTempDir } from './helpers.js';

interface Line {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: StorageLogFields;
}

/** A logger that keeps what it is told. */
function capture(): StorageLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const add =
    (level: Line['level']) =>
    (message: string, fields: StorageLogFields = {}) =>
      lines.push({ level, message, fields });
  return { lines, info: add('info'), warn: add('warn'), error: add('error') };
}

const BATCH_RECORDS = 5;
const BATCH_BYTES = makeBatch(BATCH_RECORDS, 0, 200).length;

function openLog(
  dir: string,
  options: { config?: Partial<LogConfig>; clean: boolean; logger?: StorageLogger; logStartOffset?: number },
) {
  return PartitionLog.open({
    dir: join(dir, 'events-0'),
    topic: 'events',
    partition: 0,
    config: testLogConfig({ segmentBytes: BATCH_BYTES * 4, indexIntervalBytes: BATCH_BYTES, ...options.config }),
    cleanShutdown: options.clean,
    logStartOffset: options.logStartOffset,
    logger: options.logger,
  });
}

/** A log of `batches` batches of 5 records, 4 batches per segment, closed cleanly. */
async function writeLog(dir: string, batches: number): Promise<void> {
  const log = await openLog(dir, { clean: true });
  for (let i = 0; i < batches; i++) {
    await log.append(makeBatch(BATCH_RECORDS, 1000 + i, 200), { sync: false, recordCount: BATCH_RECORDS });
  }
  await log.close();
}

/** Overwrites bytes of a segment's log file at `position`. */
async function damage(dir: string, segmentBase: number, position: number, bytes: Buffer): Promise<void> {
  const file = await open(join(dir, 'events-0', `${String(segmentBase).padStart(20, '0')}.log`), 'r+');
  await file.write(bytes, 0, bytes.length, position);
  await file.close();
}

/** Every offset readable from the log start to the end, batch by batch. */
async function readOffsets(log: PartitionLog): Promise<number[]> {
  const offsets: number[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
    const read = await log.read(offset, 1 << 20, true);
    if (!read) break;
    for (const base of batchOffsets(read.records)) {
      for (let o = base; o < base + BATCH_RECORDS; o++) offsets.push(o);
      offset = base + BATCH_RECORDS;
    }
  }
  return offsets;
}

test('recovery of several damaged segments keeps a consistent prefix: the segments after the first cut are moved aside', () =>
  withTempDir(async (dir) => {
    // Segments at 0, 20, 40, 60, 80: 4 batches of 5 records each.
    await writeLog(dir, 20);
    const laterFiles = new Map<string, Buffer>();
    for (const base of [40, 60, 80])
      for (const suffix of ['.log', '.index', '.timeindex']) {
        const name = `${String(base).padStart(20, '0')}${suffix}`;
        laterFiles.set(name, await readFile(join(dir, 'events-0', name)));
      }
    // A flipped byte inside the second batch of segment 20 (offsets 25-29), and another in segment 60.
    await damage(dir, 20, BATCH_BYTES + 100, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    await damage(dir, 60, 100, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    laterFiles.set('00000000000000000060.log', await readFile(join(dir, 'events-0', '00000000000000000060.log')));
    const logger = capture();
    const log = await openLog(dir, { clean: false, logger });

    assert.equal(log.logEndOffset, 25, 'the log ends before the first corrupt batch');
    const offsets = await readOffsets(log);
    assert.deepEqual(
      offsets,
      Array.from({ length: 25 }, (_, i) => i),
      'offsets are continuous from 0 to the cut: no hole',
    );
    const segments = (await readdir(join(dir, 'events-0'))).filter((f) => f.endsWith('.log')).sort();
    assert.deepEqual(segments, ['00000000000000000000.log', '00000000000000000020.log']);
    assert.equal(log.recoveryTruncation?.offset, 25);
    assert.equal(log.recoveryTruncation?.reason, 'bad CRC');

    // Nothing is deleted: the later segments are in a sibling directory, byte for byte.
    const aside = (await readdir(dir)).filter((n) => n.endsWith('-truncated'));
    assert.equal(aside.length, 1);
    assert.match(aside[0]!, /^events-0\.[0-9a-f]{32}-truncated$/);
    for (const [name, bytes] of laterFiles) {
      assert.deepEqual(await readFile(join(dir, aside[0]!, name)), bytes, `${name} moved as it was`);
    }

    const truncation = logger.lines.find((l) => l.message.startsWith('log truncated by recovery'));
    assert.equal(truncation?.level, 'error');
    assert.equal(truncation?.fields.offset, 25);
    assert.equal(truncation?.fields.segment, 20);
    assert.equal(truncation?.fields.reason, 'bad CRC');
    assert.equal(truncation?.fields.bytesDropped, BATCH_BYTES * 3);
    assert.equal(truncation?.fields.missingFrom, 25);
    assert.equal(truncation?.fields.missingTo, 39);
    assert.equal(truncation?.fields.segmentsMoved, 3);
    assert.equal(truncation?.fields.bytesMoved, BATCH_BYTES * 12);
    assert.equal(truncation?.fields.movedTo, join(dir, aside[0]!));
    const recovered = logger.lines.find((l) => l.message === 'log recovered');
    assert.equal(recovered?.level, 'info');
    assert.equal(recovered?.fields.bytesScanned, BATCH_BYTES * 8, 'segments 0 and 20 were read whole');
    assert.equal(recovered?.fields.logEndOffset, 25);

    // New appends continue right after the cut.
    const r = await log.append(makeBatch(1, 5000), { sync: true, recordCount: 1 });
    assert.equal(r.baseOffset, 25);
    await log.close();
  }));

test('recovery names why it cut: a torn tail, a bad size, offsets that do not increase', () =>
  withTempDir(async (dir) => {
    const cases: Array<[string, (d: string) => Promise<void>, string]> = [
      ['torn tail', (d) => damage(d, 0, BATCH_BYTES + 8, Buffer.from([0x7f, 0xff, 0xff, 0x00])), 'torn tail'],
      ['bad size', (d) => damage(d, 0, BATCH_BYTES + 8, Buffer.from([0, 0, 0, 1])), 'bad batch size'],
      // The third batch claims the second batch's base offset.
      [
        'offsets',
        (d) => {
          const b = Buffer.alloc(8);
          b.writeBigInt64BE(5n);
          return damage(d, 0, BATCH_BYTES * 2, b);
        },
        'offsets not increasing',
      ],
    ];
    for (const [name, hurt, reason] of cases) {
      const caseDir = join(dir, name.replace(' ', '-'));
      await writeLog(caseDir, 4);
      await hurt(caseDir);
      const logger = capture();
      const log = await openLog(caseDir, { clean: false, logger });
      const warn = logger.lines.find((l) => l.message.startsWith('log truncated by recovery'));
      assert.equal(warn?.fields.reason, reason, name);
      assert.equal(log.logEndOffset, name === 'offsets' ? 10 : 5, name);
      await log.close();
    }
  }));

test('after a clean stop, an index entry past the end of the log file is not trusted', () =>
  withTempDir(async (dir) => {
    await writeLog(dir, 3);
    const file = join(dir, 'events-0', '00000000000000000000.log');
    // The last batch's bytes never reached the file, but its index entry did (a failed write).
    const { size } = await stat(file);
    const handle = await open(file, 'r+');
    await handle.truncate(size - BATCH_BYTES);
    await handle.close();
    const logger = capture();
    const log = await openLog(dir, { clean: true, logger });
    assert.equal(log.logEndOffset, 10);
    assert.deepEqual(
      await readOffsets(log),
      Array.from({ length: 10 }, (_, i) => i),
    );
    assert.equal(logger.lines.find((l) => l.message === 'log recovered')?.level, 'info');
    await log.close();
  }));

test('a log start offset beyond the log end falls back to the first segment instead of hiding the records', () =>
  withTempDir(async (dir) => {
    await writeLog(dir, 6);
    const quiet = capture();
    await (await openLog(dir, { clean: true, logger: quiet, logStartOffset: 10 })).close();
    assert.deepEqual(quiet.lines, [], 'a clean start with a valid log start offset says nothing');
    const logger = capture();
    const log = await openLog(dir, { clean: true, logger, logStartOffset: 1_000_000 });
    assert.equal(log.logStartOffset, 0);
    assert.equal(log.logEndOffset, 30);
    assert.deepEqual(
      await readOffsets(log),
      Array.from({ length: 30 }, (_, i) => i),
    );
    const warn = logger.lines.find((l) => l.message.startsWith('log start offset beyond the log end'));
    assert.equal(warn?.level, 'warn');
    assert.equal(warn?.fields.logStartOffset, 1_000_000);
    assert.equal(warn?.fields.logEndOffset, 30);
    await log.close();
  }));

test('a long recovery reports its progress: partitions done of the total and bytes scanned', () =>
  withTempDir(async (dir) => {
    const config = testLogConfig({ segmentBytes: BATCH_BYTES * 4, indexIntervalBytes: BATCH_BYTES });
    const first = new LogManager({ logDirs: [dir], configFor: () => config });
    await first.startup();
    for (let p = 0; p < 3; p++) {
      const log = await first.createLog('events', p, 'AAAAAAAAAAAAAAAAAAAAAA');
      for (let i = 0; i < 8; i++) await log.append(makeBatch(5, 1000 + i, 200), { sync: true, recordCount: 5 });
    }
    // No shutdown: the next start recovers every partition. Its clock moves a second each time it is read, so
    // that the recovery "takes" long enough to report.
    let nowMs = 0;
    const logger = capture();
    const second = new LogManager({
      logDirs: [dir],
      configFor: () => config,
      logger,
      now: () => {
        nowMs += 1000;
        return nowMs;
      },
    });
    await second.startup();
    const progress = logger.lines.filter((l) => l.message === 'log recovery in progress');
    assert.ok(progress.length > 0, 'progress was reported');
    for (const line of progress) assert.equal(line.fields.partitions, 3);
    const last = progress.at(-1)!.fields;
    assert.ok(Number(last.partitionsDone) <= 3 && Number(last.bytesScanned) > 0);
    const recovered = logger.lines.filter((l) => l.message === 'log recovered');
    assert.deepEqual(recovered.map((l) => l.fields.partition).sort(), [0, 1, 2]);
    const done = logger.lines.find((l) => l.message === 'log recovery done');
    assert.equal(done?.fields.recovered, 3);
    assert.equal(done?.fields.bytesScanned, BATCH_BYTES * 8 * 3);
    assert.equal(logger.lines.filter((l) => l.level !== 'info').length, 0, 'nothing was lost');
    await second.shutdown();
    await first.shutdown().catch(() => {});
  }));

test('a segment whose first batch goes back below the end of the segment before it is cut there', () =>
  withTempDir(async (dir) => {
    // Segments at 0, 20 and 40; the first batch of segment 20 claims offset 15, inside segment 0's range.
    await writeLog(dir, 12);
    const base = Buffer.alloc(8);
    base.writeBigInt64BE(15n);
    await damage(dir, 20, 0, base);
    const logger = capture();
    const log = await openLog(dir, { clean: false, logger });
    assert.equal(log.logEndOffset, 20);
    assert.deepEqual(
      await readOffsets(log),
      Array.from({ length: 20 }, (_, i) => i),
    );
    const warn = logger.lines.find((l) => l.message.startsWith('log truncated by recovery'));
    assert.equal(warn?.fields.reason, 'offsets not increasing');
    assert.equal(warn?.fields.segment, 20);
    await log.close();
  }));
