import assert from 'node:assert/strict';
import { open, readdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { StorageLogger } from '../../src/storage/log-recovery.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import type { AbortedTxn } from '../../src/storage/transaction-index.js';
import { makeBatch, testLogConfig, withProducer, withTempDir } from './helpers.js';

const T0 = 1_700_000_000_000;
const TXN_PRODUCER = 9n;
/** A second transactional producer whose transaction stays open across the first one's abort. */
const OPEN_PRODUCER = 7n;

function openLog(dir: string, logger?: StorageLogger): Promise<PartitionLog> {
  return PartitionLog.open({
    dir: join(dir, 'txn-0'),
    topic: 'txn',
    partition: 0,
    config: testLogConfig(),
    cleanShutdown: true,
    now: () => T0,
    ...(logger ? { logger } : {}),
  });
}

/**
 * Three segments: the first holds a committed and an aborted transaction, the second the start of a
 * transaction aborted in the third (while another producer's transaction is open, so that the entry's last
 * stable offset is below its marker), and the third more plain records.
 */
async function writeLog(dir: string): Promise<{ aborted: AbortedTxn[]; end: number }> {
  const log = await openLog(dir);
  let seq = 0;
  const txnBatch = (producerId: bigint) => {
    const firstSeq = producerId === TXN_PRODUCER ? seq : 0;
    if (producerId === TXN_PRODUCER) seq += 2;
    return withProducer(makeBatch(2, T0), producerId, 0, firstSeq, true);
  };
  const marker = (aborted: boolean) =>
    log.appendMarker({ producerId: TXN_PRODUCER, producerEpoch: 0, coordinatorEpoch: 0, aborted }, { sync: false });
  await log.append(txnBatch(TXN_PRODUCER), { sync: false, recordCount: 2 }); // 0-1
  await marker(false); // 2
  await log.append(txnBatch(TXN_PRODUCER), { sync: false, recordCount: 2 }); // 3-4
  await marker(true); // 5
  await log.roll();
  await log.append(makeBatch(3, T0), { sync: false, recordCount: 3 }); // 6-8
  await log.append(txnBatch(TXN_PRODUCER), { sync: false, recordCount: 2 }); // 9-10
  await log.append(txnBatch(OPEN_PRODUCER), { sync: false, recordCount: 2 }); // 11-12
  await log.roll();
  await marker(true); // 13
  await log.append(makeBatch(3, T0), { sync: false, recordCount: 3 }); // 14-16
  const end = log.logEndOffset;
  const aborted = log.abortedTransactions(0, end);
  await log.close();
  return { aborted, end };
}

async function txnIndexFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'txn-0'))).filter((n) => n.endsWith('.txnindex')).sort();
}

const DAMAGES: Record<string, (path: string) => Promise<void>> = {
  deleted: (path) => unlink(path),
  emptied: (path) => truncate(path, 0),
  'cut mid-entry': async (path) => truncate(path, 17),
  'bad version': async (path) => {
    const bytes = await readFile(path);
    bytes.writeInt16BE(7, 0);
    await writeFile(path, bytes);
  },
  'entry outside the segment': async (path) => {
    const bytes = await readFile(path);
    bytes.writeBigInt64BE(1_000_000n, 18);
    await writeFile(path, bytes);
  },
  'garbage appended': async (path) => {
    const file = await open(path, 'a');
    await file.write(Buffer.alloc(34, 0xa5));
    await file.close();
  },
};

test('the aborted transactions survive their .txnindex deleted, emptied or damaged', async (t) => {
  for (const [damage, apply] of Object.entries(DAMAGES))
    for (const which of [0, 1])
      await t.test(`${damage}, index file ${which}`, () =>
        withTempDir(async (dir) => {
          const { aborted, end } = await writeLog(dir);
          assert.equal(aborted.length, 2);
          assert.deepEqual(
            aborted.map((a) => [a.firstOffset, a.lastOffset, a.lastStableOffset]),
            [
              [3, 5, 6],
              [9, 13, 11],
            ],
          );
          const files = await txnIndexFiles(dir);
          assert.equal(files.length, 2);
          const originals = await Promise.all(files.map((f) => readFile(join(dir, 'txn-0', f))));
          const damaged = join(dir, 'txn-0', files[which]!);
          await apply(damaged);

          const warnings: string[] = [];
          const logger: StorageLogger = {
            info() {},
            warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields)}`),
            error() {},
          };
          const log = await openLog(dir, logger);
          try {
            assert.deepEqual(log.abortedTransactions(0, end), aborted, 'read_committed learns of both aborts');
            const read = await log.read(0, 1 << 20, false, true);
            assert.deepEqual(
              read?.abortedTransactions?.map((a) => a.lastOffset),
              [5],
              'a Fetch under read_committed gets the aborts below the last stable offset',
            );
          } finally {
            await log.close();
          }
          assert.deepEqual(await txnIndexFiles(dir), files);
          for (const [i, f] of files.entries())
            assert.deepEqual(await readFile(join(dir, 'txn-0', f)), originals[i], `${f} rebuilt as it was`);
          assert.ok(
            warnings.some((w) => w.includes(files[which]!)),
            `the rebuild is logged naming the file: ${warnings.join('\n')}`,
          );
        }),
      );
});

test('an intact index is neither rewritten nor reported', () =>
  withTempDir(async (dir) => {
    const { aborted, end } = await writeLog(dir);
    const warnings: string[] = [];
    const logger: StorageLogger = { info() {}, warn: (m) => void warnings.push(m), error() {} };
    const log = await openLog(dir, logger);
    assert.deepEqual(log.abortedTransactions(0, end), aborted);
    await log.close();
    assert.deepEqual(warnings, []);
  }));
