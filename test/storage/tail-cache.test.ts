import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { type LogConfig, PartitionLog } from '../../src/storage/partition-log.js';
import { TailCache, TailCacheBudget } from '../../src/storage/tail-cache.js';
import { batchOffsets, makeBatch, testLogConfig, withTempDir } from './helpers.js';

const config = testLogConfig({ segmentBytes: 4096, indexIntervalBytes: 256 });

/** A batch whose header carries its assigned base offset, as the log writes it. */
function placed(count: number, baseOffset: number, valueBytes = 10): Buffer {
  const b = makeBatch(count, 1000, valueBytes);
  b.writeBigInt64BE(BigInt(baseOffset), 0);
  return b;
}

test('a tail read returns whole batches from the one holding the offset, within max bytes', () => {
  const tail = new TailCache(new TailCacheBudget(1 << 20));
  const batches = [placed(3, 10), placed(2, 13), placed(4, 15)];
  tail.add(Buffer.concat(batches));
  assert.equal(tail.read(9, 1 << 20, true, 100), null, 'before the tail: the file serves it');
  assert.equal(tail.read(19, 1 << 20, true, 100), null, 'past the tail');
  assert.deepEqual(batchOffsets(tail.read(11, 1 << 20, true, 100)!), [10, 13, 15]);
  assert.deepEqual(batchOffsets(tail.read(14, 1 << 20, true, 100)!), [13, 15]);
  assert.deepEqual(batchOffsets(tail.read(13, batches[1]!.length, true, 100)!), [13]);
  assert.deepEqual(batchOffsets(tail.read(13, 1, true, 100)!), [13], 'at least one batch');
  assert.equal(tail.read(13, 1, false, 100)!.length, 0, 'nothing when one batch does not fit');
  assert.deepEqual(batchOffsets(tail.read(10, 1 << 20, true, 15)!), [10, 13], 'never at or past the end offset');
});

test('the shared budget evicts the oldest batches of the whole broker first', () => {
  const one = placed(1, 0, 100);
  const budget = new TailCacheBudget(one.length * 3);
  const a = new TailCache(budget);
  const b = new TailCache(budget);
  a.add(placed(1, 0, 100));
  b.add(placed(1, 0, 100));
  a.add(placed(1, 1, 100));
  b.add(placed(1, 1, 100)); // evicts a's offset 0
  assert.equal(a.read(0, 1 << 20, true, 10), null);
  assert.deepEqual(batchOffsets(a.read(1, 1 << 20, true, 10)!), [1]);
  assert.deepEqual(batchOffsets(b.read(0, 1 << 20, true, 10)!), [0, 1]);
  assert.ok(budget.usedBytes <= budget.maxBytes);
  // A cleared cache does not lose batches added after the clear when its old charges are evicted.
  a.clear();
  a.add(placed(1, 5, 100));
  b.add(placed(1, 2, 100));
  assert.deepEqual(batchOffsets(a.read(5, 1 << 20, true, 10)!), [5]);
});

test('reads served from the tail are the bytes the file holds, whatever the appends and the budget', () =>
  fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 300 })), {
        minLength: 1,
        maxLength: 30,
      }),
      fc.integer({ min: 0, max: 4000 }),
      fc.integer({ min: 1, max: 3000 }),
      async (appends, budgetBytes, maxBytes) =>
        withTempDir(async (dir) => {
          const open = (tailCache?: TailCacheBudget) =>
            PartitionLog.open({
              dir: join(dir, tailCache ? 'cached-0' : 'plain-0'),
              topic: tailCache ? 'cached' : 'plain',
              partition: 0,
              config,
              cleanShutdown: true,
              ...(tailCache ? { tailCache } : {}),
            });
          const cached = await open(new TailCacheBudget(budgetBytes));
          const plain = await open();
          for (const [count, size] of appends) {
            const batch = makeBatch(count, 1000, size);
            await cached.append(Buffer.from(batch), { sync: false, recordCount: count });
            await plain.append(Buffer.from(batch), { sync: false, recordCount: count });
          }
          for (let offset = 0; offset < plain.logEndOffset; offset++) {
            const fromTail = await cached.read(offset, maxBytes, true);
            const fromFile = await plain.read(offset, maxBytes, true);
            assert.ok(fromTail && fromFile);
            // Reads from memory may cross segment boundaries where the file stops at one: compare the common part.
            const common = Math.min(fromTail.records.length, fromFile.records.length);
            assert.ok(common > 0);
            assert.deepEqual(fromTail.records.subarray(0, common), fromFile.records.subarray(0, common));
            assert.ok(fromTail.records.length <= Math.max(maxBytes, fromFile.records.length));
          }
          await cached.close();
          await plain.close();
        }),
    ),
    { numRuns: 100 },
  ));

test('an append too large for the budget empties the tail, so that it never holds a gap', () => {
  const small = placed(1, 0, 1);
  const tail = new TailCache(new TailCacheBudget(small.length * 2));
  tail.add(small);
  tail.add(placed(2, 1, 200));
  tail.add(placed(1, 3, 1));
  assert.equal(tail.read(1, 1 << 20, true, 10), null, 'offsets 1-2 are not in memory: read the file');
  assert.equal(tail.read(0, 1 << 20, true, 10), null);
  assert.deepEqual(batchOffsets(tail.read(3, 1 << 20, true, 10)!), [3]);
});
