import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CLEANER_OFFSET_CHECKPOINT_FILE,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  LogManager,
  PARTITION_METADATA_FILE,
  RECOVERY_POINT_CHECKPOINT_FILE,
  REPLICATION_OFFSET_CHECKPOINT_FILE,
} from '../../src/storage/log-manager.js';
import { makeBatch, testLogConfig, withTempDir } from './helpers.js';

const TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';

function manager(dir: string, warnings: string[] = [], compact = false): LogManager {
  return new LogManager({
    logDirs: [dir],
    configFor: () => ({ ...testLogConfig(), compact }),
    logger: { info() {}, error() {}, warn: (message, fields) => warnings.push(`${message} ${fields?.path}`) },
  });
}

test('damaged checkpoint files: start-up warns naming each file and rebuilds from the logs', () =>
  withTempDir(async (dir) => {
    const first = manager(dir, [], true);
    await first.startup();
    const log = await first.createLog('events', 0, TOPIC_ID);
    for (let i = 0; i < 10; i++) await log.append(makeBatch(3, 5000 + i), { sync: false, recordCount: 3 });
    log.advanceLogStartOffset(6);
    log.firstDirtyOffset = 30;
    await first.shutdown();
    // Flip a byte inside the first batch: only recovery (a CRC check of every segment) notices it.
    const segment = join(dir, 'events-0', '00000000000000000000.log');
    const bytes = await readFile(segment);
    bytes[70] = bytes[70]! ^ 0xff;
    await writeFile(segment, bytes);
    await writeFile(join(dir, RECOVERY_POINT_CHECKPOINT_FILE), '0\n1\nevents 0 not-a-number\n');
    await writeFile(join(dir, LOG_START_OFFSET_CHECKPOINT_FILE), '');
    await writeFile(join(dir, CLEANER_OFFSET_CHECKPOINT_FILE), '\u0000\u0000\u0000');
    await writeFile(join(dir, REPLICATION_OFFSET_CHECKPOINT_FILE), '7\n');

    const warnings: string[] = [];
    const again = manager(dir, warnings, true);
    await again.startup();
    const reopened = again.getLog('events', 0)!;
    // Every segment was recovered: the damaged first batch and everything after it are gone.
    assert.equal(reopened.logEndOffset, 0);
    assert.equal(reopened.logStartOffset, 0);
    assert.equal(reopened.firstDirtyOffset, 0);
    for (const file of [
      RECOVERY_POINT_CHECKPOINT_FILE,
      LOG_START_OFFSET_CHECKPOINT_FILE,
      CLEANER_OFFSET_CHECKPOINT_FILE,
    ]) {
      assert.ok(
        warnings.some((w) => w.endsWith(join(dir, file))),
        `a warning names ${file}: ${warnings.join('; ')}`,
      );
    }
    await again.shutdown();
  }));

test('a damaged log start offset checkpoint alone: the log keeps its records and starts at its first segment', () =>
  withTempDir(async (dir) => {
    const first = manager(dir);
    await first.startup();
    const log = await first.createLog('events', 0, TOPIC_ID);
    for (let i = 0; i < 4; i++) await log.append(makeBatch(2, 100 + i), { sync: false, recordCount: 2 });
    log.advanceLogStartOffset(4);
    await first.shutdown();
    await writeFile(join(dir, LOG_START_OFFSET_CHECKPOINT_FILE), '0\n5\nevents 0 4\n');

    const again = manager(dir);
    await again.startup();
    const reopened = again.getLog('events', 0)!;
    assert.equal(reopened.logStartOffset, 0);
    assert.equal(reopened.logEndOffset, 8);
    await again.shutdown();
  }));

test('partition.metadata: the topic id is read at start-up; missing or garbled reads as unknown, and can be rewritten', () =>
  withTempDir(async (dir) => {
    const first = manager(dir);
    await first.startup();
    await first.createLog('a', 0, TOPIC_ID);
    await first.createLog('b', 0, TOPIC_ID);
    await first.shutdown();
    await rm(join(dir, 'a-0', PARTITION_METADATA_FILE));
    await writeFile(join(dir, 'b-0', PARTITION_METADATA_FILE), 'version: 0\ntopic_id: \u0000\u0000\n');

    const again = manager(dir);
    await again.startup();
    assert.equal(again.topicIdOf('a', 0), undefined);
    assert.equal(again.topicIdOf('b', 0), undefined);
    await again.rewritePartitionMetadata('a', 0, TOPIC_ID);
    assert.equal(again.topicIdOf('a', 0), TOPIC_ID);
    assert.match(await readFile(join(dir, 'a-0', PARTITION_METADATA_FILE), 'utf8'), new RegExp(TOPIC_ID));

    // A stray log is renamed Kafka's way, kept, and reported at the next start rather than loaded.
    const stray = (await again.strayLog('b', 0))!;
    assert.match(stray, /b-0\.[0-9a-f]{32}-stray$/);
    assert.equal(again.getLog('b', 0), undefined);
    await again.shutdown();
    const warnings: string[] = [];
    const third = manager(dir, warnings);
    await third.startup();
    assert.equal(third.getLog('b', 0), undefined);
    assert.ok((await readdir(stray)).some((f) => f.endsWith('.log')));
    assert.ok(warnings.some((w) => w.endsWith(stray)));
    await third.shutdown();
  }));

test('the high watermark checkpoint is read at start-up: a log replicated again starts from it, not from its end', () =>
  withTempDir(async (dir) => {
    const first = manager(dir);
    await first.startup();
    const log = await first.createLog('events', 0, TOPIC_ID);
    log.setReplicated(true);
    for (let i = 0; i < 3; i++) await log.append(makeBatch(2, 5000 + i), { sync: false, recordCount: 2 });
    // The other replicas had the first two batches only.
    log.updateHighWatermark(4);
    await first.shutdown();

    const again = manager(dir);
    await again.startup();
    const reopened = again.getLog('events', 0)!;
    assert.equal(reopened.logEndOffset, 6);
    reopened.setReplicated(true);
    assert.equal(reopened.highWatermark, 4);
    assert.equal(await reopened.read(4, 1 << 20, true), null);
    // Back to a single replica, nothing else holds it back.
    reopened.setReplicated(false);
    assert.equal(reopened.highWatermark, 6);
    await again.shutdown();
  }));
