import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LogSegment } from '../../src/storage/log-segment.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { makeBatch, testLogConfig, withTempDir } from './helpers.js';

/** Holds the active segment's next fsync until `release` is called. */
function holdNextSync(log: PartitionLog): { started: () => boolean; release: () => void } {
  const active = (log as unknown as { segments: LogSegment[] }).segments.at(-1)!;
  const realSync = active.sync.bind(active);
  let release: (() => void) | null = null;
  active.sync = () =>
    new Promise<void>((resolve) => {
      release = resolve;
    }).then(() => {
      active.sync = realSync;
      return realSync();
    });
  return { started: () => release !== null, release: () => release!() };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

test('the high watermark trails the log end offset until a synced append is on disk; reads stop at it', () =>
  withTempDir(async (dir) => {
    const log = await PartitionLog.open({
      dir: join(dir, 'events-0'),
      topic: 'events',
      partition: 0,
      config: testLogConfig(),
      cleanShutdown: true,
    });
    await log.append(makeBatch(2, 1000), { sync: false, recordCount: 2 });
    assert.deepEqual([log.logEndOffset, log.highWatermark], [2, 2], 'equal with one replica once written');

    const held = holdNextSync(log);
    let woken = 0;
    log.onAppend(() => woken++);
    const appended = log.append(makeBatch(3, 2000), { sync: true, recordCount: 3 });
    await until(held.started);
    // Written to the file, not yet on disk: in the log, not committed.
    assert.equal(log.logEndOffset, 5);
    assert.equal(log.highWatermark, 2);
    assert.equal(log.lastStableOffset, 2, 'the last stable offset is never past the high watermark');
    assert.equal(await log.read(2, 1 << 20, true), null, 'consumers do not see records past the high watermark');
    assert.equal(woken, 0, 'long-polling fetches are not woken before the high watermark moves');
    held.release();
    const result = await appended;
    assert.equal(result.lastOffset, 4);
    assert.ok(log.highWatermark > result.lastOffset, 'acks=all is answered once the high watermark passes it');
    assert.equal(woken, 1);
    assert.ok(await log.read(2, 1 << 20, true));
    await log.close();
  }));
