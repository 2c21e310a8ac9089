import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_READ_BUFFER_POOL_BYTES,
  releaseWrittenChunks,
  setReadBufferPoolBytes,
} from '../../src/storage/log-segment.js';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { makeBatch, testLogConfig, withTempDir } from './helpers.js';

const config = testLogConfig();

test('a large read reuses the memory of one released after its bytes were written, never of one still held', () =>
  withTempDir(async (dir) => {
    const log = await PartitionLog.open({
      dir: join(dir, 'events-0'),
      topic: 'events',
      partition: 0,
      config,
      cleanShutdown: true,
    });
    // 64 batches of 16 KiB: each read below is 512 KiB, large enough to come from the pool.
    for (let i = 0; i < 64; i++) await log.append(makeBatch(16, 1000, 1000), { sync: false, recordCount: 16 });
    const maxBytes = 512 * 1024;
    const first = (await log.read(0, maxBytes, true))!.records;
    const copyOfFirst = Buffer.from(first);
    const second = (await log.read(0, maxBytes, true))!.records;
    assert.notEqual(second.buffer, first.buffer, 'a buffer not released is not handed out again');
    assert.deepEqual(first, copyOfFirst, 'and its bytes stay as read');

    releaseWrittenChunks([first]);
    releaseWrittenChunks([first]); // released twice: still handed out only once
    const third = (await log.read(0, maxBytes, true))!.records;
    const fourth = (await log.read(0, maxBytes, true))!.records;
    assert.equal(third.buffer, first.buffer, 'a released buffer is reused');
    assert.notEqual(fourth.buffer, first.buffer);
    assert.deepEqual(third, copyOfFirst);
    assert.deepEqual(fourth, copyOfFirst);

    // Buffers that are not segment reads are left alone: one of the pool's own size (1 MiB), which the next read
    // would take if the pool accepted it.
    const other = Buffer.alloc(1 << 20, 1);
    releaseWrittenChunks([other]);
    const fifth = (await log.read(0, maxBytes, true))!.records;
    assert.notEqual(fifth.buffer, other.buffer);
    assert.ok(other.every((b) => b === 1));
    await log.close();
  }));

test('samsa.log.read.buffer.pool.bytes bounds what the pool keeps: at 0 a released buffer is not reused', () =>
  withTempDir(async (dir) => {
    const log = await PartitionLog.open({
      dir: join(dir, 'events-0'),
      topic: 'events',
      partition: 0,
      config,
      cleanShutdown: true,
    });
    for (let i = 0; i < 64; i++) await log.append(makeBatch(16, 1000, 1000), { sync: false, recordCount: 16 });
    const maxBytes = 512 * 1024;
    setReadBufferPoolBytes(0);
    try {
      const first = (await log.read(0, maxBytes, true))!.records;
      releaseWrittenChunks([first]);
      const second = (await log.read(0, maxBytes, true))!.records;
      assert.notEqual(second.buffer, first.buffer, 'nothing is kept for reuse');
    } finally {
      setReadBufferPoolBytes(DEFAULT_READ_BUFFER_POOL_BYTES);
      await log.close();
    }
  }));
