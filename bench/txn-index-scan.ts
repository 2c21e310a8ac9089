/**
 * What the start-up check of the transaction index costs (TransactionIndex.reconcileWithLog): a partition that
 * saw transactions has its segments' batch headers scanned at every start. Writes segments of transactional
 * batches of 1 KiB and of 16 KiB, `--mib` MiB in all (default 1024, in 256 MiB segments), and times the scan with
 * the page cache warm (best of three) and cold (the files' pages dropped with `dd iflag=nocache`).
 * `npx tsx bench/txn-index-scan.ts [--mib N]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentStorageLogger } from '../src/storage/log-recovery.js';
import { TransactionIndex } from '../src/storage/transaction-index.js';
import { makeBatch, withProducer } from '../test/storage/helpers.js';

const MIB = 1024 * 1024;
const SEGMENT_BYTES = 256 * MIB;
const RECORD_BYTES = 100;
const BATCHES_PER_WRITE = 1024;

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

/** Segments of `totalBytes` of one transactional producer's batches; returns their base offsets and batches. */
async function writeSegments(dir: string, totalBytes: number, batchBytes: number) {
  const count = Math.max(1, Math.floor((batchBytes - 61) / RECORD_BYTES));
  const template = withProducer(makeBatch(count, 0, RECORD_BYTES), 9n, 0, 0, true);
  const bases: number[] = [];
  let offset = 0;
  let batches = 0;
  for (let written = 0; written < totalBytes; written += SEGMENT_BYTES) {
    bases.push(offset);
    const file = await open(join(dir, `${String(offset).padStart(20, '0')}.log`), 'w');
    const buf = Buffer.alloc(template.length * BATCHES_PER_WRITE);
    for (let bytes = 0; bytes < Math.min(SEGMENT_BYTES, totalBytes - written); bytes += buf.length) {
      for (let i = 0; i < BATCHES_PER_WRITE; i++) {
        template.copy(buf, i * template.length);
        buf.writeBigInt64BE(BigInt(offset), i * template.length);
        offset += count;
      }
      batches += BATCHES_PER_WRITE;
      await file.write(buf);
    }
    await file.close();
  }
  return { bases, batches };
}

async function timeScan(dir: string, bases: number[]): Promise<number> {
  const index = new TransactionIndex(dir);
  await index.load(bases, Number.MAX_SAFE_INTEGER);
  const started = process.hrtime.bigint();
  await index.reconcileWithLog({
    segmentBaseOffsets: bases,
    producers: [{ coordinatorEpoch: 0, currentTxnFirstOffset: -1 }],
    logger: silentStorageLogger,
    topic: 'bench',
    partition: 0,
  });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const totalBytes = arg('mib', 1024) * MIB;
const root = await mkdtemp(join(tmpdir(), 'samsa-bench-txnindex-'));
try {
  console.log('| batch | log | batches | scan, warm | scan, cold |');
  console.log('|---|---|---|---|---|');
  for (const batchBytes of [1024, 16 * 1024]) {
    const dir = join(root, `bench-${batchBytes}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    const { bases, batches } = await writeSegments(dir, totalBytes, batchBytes);
    const warm = Math.min(await timeScan(dir, bases), await timeScan(dir, bases), await timeScan(dir, bases));
    for (const name of await readdir(dir))
      execFileSync('dd', [`if=${join(dir, name)}`, 'iflag=nocache', 'count=0', 'status=none']);
    const cold = await timeScan(dir, bases);
    console.log(
      `| ${batchBytes / 1024} KiB | ${totalBytes / MIB} MiB | ${batches} | ${warm.toFixed(0)} ms | ${cold.toFixed(0)} ms |`,
    );
    await rm(dir, { recursive: true, force: true });
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
