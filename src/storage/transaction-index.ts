import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readInt64AsNumber } from '../protocol/primitives/int64.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  batchSize,
  CONTROL_FLAG_MASK,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_OVERHEAD,
  TRANSACTIONAL_FLAG_MASK,
} from '../protocol/records/batch-header.js';
import { ControlType, readTransactionMarker } from '../protocol/records/control-record.js';
import { RecordBatch } from '../protocol/records/record-batch.js';
import type { StorageLogger } from './log-recovery.js';

/** A transaction that was aborted in this partition: read_committed consumers drop its records. */
export interface AbortedTxn {
  producerId: bigint;
  /** First offset of its data here. */
  firstOffset: number;
  /** Offset of its ABORT marker. */
  lastOffset: number;
  /** The last stable offset just after the marker was written. */
  lastStableOffset: number;
}

/** Kafka's .txnindex entry: version int16, producer id, first offset, last offset, last stable offset. */
const ENTRY_BYTES = 2 + 8 + 8 + 8 + 8;
const ENTRY_VERSION = 0;
/** Bytes read at a time by the scan of a segment's batch headers (see scanSegment). */
const SCAN_CHUNK_BYTES = 64 * 1024;
/** After a batch this large the scan reads only a window for the next header. */
const SCAN_HEADER_ONLY_BATCH_BYTES = 8 * 1024;
/** Enough for a header, and for a whole control batch (about 80 bytes) after it. */
const SCAN_HEADER_WINDOW_BYTES = 512;
/** Synchronous reads between two turns of the event loop. */
const SCAN_READS_PER_TURN = 256;
/** A control batch holds one small record: anything larger is not one (the scan stops there). */
const MAX_CONTROL_BATCH_BYTES = 4096;

export function transactionIndexFileName(segmentBaseOffset: number): string {
  return `${String(segmentBaseOffset).padStart(20, '0')}.txnindex`;
}

/** What the producer state tells of a producer: whether it ever wrote transactionally here. */
export interface ProducerTransactionState {
  coordinatorEpoch: number;
  currentTxnFirstOffset: number;
}

/**
 * The aborted transactions of one partition (Kafka's TransactionIndex), kept in memory for Fetch under
 * read_committed and in one `.txnindex` file per segment, beside the segment that holds each ABORT marker.
 * Entries are ordered by marker offset; the list stays short because only aborts are recorded.
 */
export class TransactionIndex {
  private entries: AbortedTxn[] = [];
  /** Whether load() found any index file (even an empty or damaged one). */
  private filesFound = false;
  /** The index files load() found damaged, by segment base offset, with what was wrong. */
  private damaged = new Map<number, string>();

  constructor(private readonly dir: string) {}

  /**
   * Reads the index files of the segments. Entries at or past `logEndOffset` (markers a torn tail lost) are
   * dropped and their files rewritten; the log replay after the producer snapshot adds any missing ones. A
   * damaged file (a length that is not a whole number of entries, an unknown version, an entry outside its
   * segment's offsets or out of order) keeps its valid entries, is rewritten with them so that appends stay
   * aligned, and is remembered for reconcileWithLog to rebuild from the segment.
   */
  async load(segmentBaseOffsets: number[], logEndOffset: number): Promise<void> {
    this.entries = [];
    this.damaged.clear();
    this.filesFound = (await readdir(this.dir)).some((name) => name.endsWith('.txnindex'));
    for (const [i, base] of segmentBaseOffsets.entries()) {
      const nextBase = segmentBaseOffsets[i + 1] ?? Number.MAX_SAFE_INTEGER;
      let bytes: Buffer;
      try {
        bytes = await readFile(join(this.dir, transactionIndexFileName(base)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const kept: AbortedTxn[] = [];
      let dropped = false;
      let problem: string | null =
        bytes.length % ENTRY_BYTES === 0 ? null : `length ${bytes.length} is not a multiple of ${ENTRY_BYTES}`;
      if (bytes.length === 0) problem = 'empty';
      for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
        const entry = decodeEntry(bytes, at);
        const invalid =
          entry === null
            ? `entry ${at / ENTRY_BYTES} has an unknown version`
            : entry.lastOffset < base || entry.lastOffset >= nextBase
              ? `entry ${at / ENTRY_BYTES} lies outside the segment's offsets`
              : entry.firstOffset < 0 || entry.firstOffset > entry.lastOffset || entry.producerId < 0n
                ? `entry ${at / ENTRY_BYTES} is inconsistent`
                : kept.length > 0 && entry.lastOffset <= kept.at(-1)!.lastOffset
                  ? `entry ${at / ENTRY_BYTES} is out of order`
                  : null;
        if (invalid) problem ??= invalid;
        if (entry && !invalid && entry.lastOffset < logEndOffset) kept.push(entry);
        else dropped = true;
      }
      if (problem) this.damaged.set(base, problem);
      if (dropped || problem) await this.writeSegmentFile(base, kept);
      this.entries.push(...kept);
    }
    this.entries.sort((a, b) => a.lastOffset - b.lastOffset);
  }

  /**
   * Checks the index against the log itself and rebuilds what is missing or wrong. The index is the only
   * record of which transactions were aborted, and an abort-free segment legitimately has no index file (as in
   * Kafka, the file is created by the first abort): so a deleted or emptied file cannot be told from a segment
   * without aborts by looking at the files. The signal used instead: a partition that holds, or held,
   * transactions (an index file exists, even an empty or damaged one, or the producer state knows a
   * transactional producer) has its segments' batch headers scanned for ABORT markers; each marker found
   * without its entry gets one (first offset and last stable offset computed as the append computed them),
   * and an entry without its marker is dropped. Entries that match a marker are kept as found, so that the
   * first offsets of transactions whose data the cleaner removed stay right. Partitions that never saw a
   * transactional producer (most) are not scanned. The scan reads only batch headers, 64 KiB at a time
   * (docs/ARCHITECTURE.md gives its cost). Every rebuilt file is logged at WARN.
   */
  async reconcileWithLog(params: {
    segmentBaseOffsets: number[];
    producers: Iterable<ProducerTransactionState>;
    logger: StorageLogger;
    topic: string;
    partition: number;
  }): Promise<void> {
    let transactional = this.filesFound;
    for (const p of params.producers)
      if (p.coordinatorEpoch >= 0 || p.currentTxnFirstOffset >= 0) {
        transactional = true;
        break;
      }
    if (!transactional) return;
    const bases = params.segmentBaseOffsets;
    const segmentOf = (offset: number): number => {
      let i = bases.length - 1;
      while (i > 0 && bases[i]! > offset) i--;
      return bases[i]!;
    };
    const found = new Map<number, AbortedTxn[]>();
    for (const e of this.entries) {
      const base = segmentOf(e.lastOffset);
      const list = found.get(base) ?? [];
      list.push(e);
      found.set(base, list);
    }
    /** producer id -> first offset of its transaction still open at this point of the scan. */
    const open = new Map<bigint, number>();
    const rebuilt: AbortedTxn[] = [];
    for (const base of bases) {
      const markers: ScannedAbort[] = [];
      const scannedTo = await scanSegment(join(this.dir, segmentFileName(base)), open, markers);
      const inFile = found.get(base) ?? [];
      const byLastOffset = new Map(inFile.map((e) => [e.lastOffset, e]));
      const kept: AbortedTxn[] = [];
      for (const m of markers) {
        const e = byLastOffset.get(m.lastOffset);
        if (e && e.producerId === m.producerId) kept.push(e);
        else if (m.entry) kept.push(m.entry);
      }
      // Entries beyond what the scan could read (a damaged segment, which recovery deals with) stay as found.
      for (const e of inFile) if (e.lastOffset >= scannedTo) kept.push(e);
      kept.sort((a, b) => a.lastOffset - b.lastOffset);
      rebuilt.push(...kept);
      const problem = this.damaged.get(base);
      if (problem === undefined && sameEntries(kept, inFile)) continue;
      await this.writeSegmentFile(base, kept);
      params.logger.warn('transaction index rebuilt from its segment: it was missing, damaged or incomplete', {
        topic: params.topic,
        partition: params.partition,
        file: transactionIndexFileName(base),
        segment: base,
        problem: problem ?? `${inFile.length} entries found, ${kept.length} in the segment`,
        entries: kept.length,
      });
    }
    rebuilt.sort((a, b) => a.lastOffset - b.lastOffset);
    this.entries = rebuilt;
    this.damaged.clear();
  }

  /** Writes a segment's index file whole; a segment without aborts keeps no file, as after its appends. */
  private async writeSegmentFile(base: number, entries: AbortedTxn[]): Promise<void> {
    const path = join(this.dir, transactionIndexFileName(base));
    if (entries.length === 0) await rm(path, { force: true });
    else await writeFile(path, Buffer.concat(entries.map(encodeEntry)));
  }

  /** Records an abort whose marker is in the segment based at `segmentBaseOffset` (once: replays repeat it). */
  async add(entry: AbortedTxn, segmentBaseOffset: number): Promise<void> {
    if (this.entries.some((e) => e.lastOffset === entry.lastOffset)) return;
    let at = this.entries.length;
    while (at > 0 && this.entries[at - 1]!.lastOffset > entry.lastOffset) at--;
    this.entries.splice(at, 0, entry);
    await appendFile(join(this.dir, transactionIndexFileName(segmentBaseOffset)), encodeEntry(entry));
  }

  /**
   * The aborted transactions a read of [fetchOffset, upperBoundOffset) must report: those whose marker is at or
   * after the fetch offset and whose data starts before the end of what was read.
   */
  collect(fetchOffset: number, upperBoundOffset: number): AbortedTxn[] {
    return this.entries.filter((e) => e.lastOffset >= fetchOffset && e.firstOffset < upperBoundOffset);
  }

  /** Drops the files of deleted segments and the entries wholly below the new log start. */
  async deleteSegments(baseOffsets: number[], logStartOffset: number): Promise<void> {
    for (const base of baseOffsets) await rm(join(this.dir, transactionIndexFileName(base)), { force: true });
    this.entries = this.entries.filter((e) => e.lastOffset >= logStartOffset);
  }
}

function encodeEntry(e: AbortedTxn): Buffer {
  const b = Buffer.alloc(ENTRY_BYTES);
  b.writeInt16BE(ENTRY_VERSION, 0);
  b.writeBigInt64BE(e.producerId, 2);
  b.writeBigInt64BE(BigInt(e.firstOffset), 10);
  b.writeBigInt64BE(BigInt(e.lastOffset), 18);
  b.writeBigInt64BE(BigInt(e.lastStableOffset), 26);
  return b;
}

function decodeEntry(b: Buffer, at: number): AbortedTxn | null {
  if (b.readInt16BE(at) !== ENTRY_VERSION) return null;
  return {
    producerId: b.readBigInt64BE(at + 2),
    firstOffset: Number(b.readBigInt64BE(at + 10)),
    lastOffset: Number(b.readBigInt64BE(at + 18)),
    lastStableOffset: Number(b.readBigInt64BE(at + 26)),
  };
}

function sameEntries(a: AbortedTxn[], b: AbortedTxn[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (e, i) =>
        e.producerId === b[i]!.producerId &&
        e.firstOffset === b[i]!.firstOffset &&
        e.lastOffset === b[i]!.lastOffset &&
        e.lastStableOffset === b[i]!.lastStableOffset,
    )
  );
}

/** An ABORT marker found by the scan, with the index entry it calls for (null: no data of it was seen). */
interface ScannedAbort {
  producerId: bigint;
  lastOffset: number;
  entry: AbortedTxn | null;
}

function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`;
}

/**
 * Reads the batch headers of a segment in order, tracking in `open` the first offset of each producer's open
 * transaction and adding each ABORT marker to `aborts`. Stops at the end or at the first batch that cannot be
 * one (recovery deals with those). Returns the offset after the last batch read.
 *
 * Reads are synchronous (an asynchronous read costs a thread-pool round trip, tens of microseconds, which
 * dominated the scan) and give the event loop a turn every SCAN_READS_PER_TURN reads. Small batches are read
 * SCAN_CHUNK_BYTES at a time; after a batch of SCAN_HEADER_ONLY_BATCH_BYTES or more only the next header's
 * window is read, so that a log of large batches costs one small read per batch, not its bytes.
 */
async function scanSegment(path: string, open: Map<bigint, number>, aborts: ScannedAbort[]): Promise<number> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let scannedTo = 0;
  try {
    const fileBytes = fstatSync(fd).size;
    const chunk = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    let position = 0;
    let readBytes = SCAN_CHUNK_BYTES;
    for (let reads = 1; ; reads++) {
      if (reads % SCAN_READS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      const bytesRead = readSync(fd, chunk, 0, readBytes, position);
      if (bytesRead < RECORD_BATCH_OVERHEAD) return scannedTo;
      let at = 0;
      let lastSize = 0;
      while (at + RECORD_BATCH_OVERHEAD <= bytesRead) {
        const size = batchSize(chunk, at);
        if (size < RECORD_BATCH_OVERHEAD || chunk[at + MAGIC_OFFSET] !== CURRENT_MAGIC) return scannedTo;
        if (position + at + size > fileBytes) return scannedTo;
        const baseOffset = readInt64AsNumber(chunk, at + BASE_OFFSET_OFFSET);
        const lastOffset = baseOffset + chunk.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
        if (baseOffset < scannedTo || lastOffset < baseOffset) return scannedTo;
        const attributes = chunk.readInt16BE(at + ATTRIBUTES_OFFSET);
        const hasProducer = chunk.readInt32BE(at + PRODUCER_ID_OFFSET) >= 0;
        if (hasProducer && (attributes & CONTROL_FLAG_MASK) !== 0) {
          if (size > MAX_CONTROL_BATCH_BYTES) return scannedTo;
          let batch = chunk.subarray(at, at + size);
          if (at + size > bytesRead) {
            batch = Buffer.alloc(size);
            readSync(fd, batch, 0, size, position + at);
          }
          const producerId = chunk.readBigInt64BE(at + PRODUCER_ID_OFFSET);
          let type: ControlType;
          try {
            type = readTransactionMarker(new RecordBatch(batch)).type;
          } catch {
            return scannedTo;
          }
          const firstOffset = open.get(producerId);
          open.delete(producerId);
          if (type === ControlType.Abort) {
            let lastStableOffset = lastOffset + 1;
            for (const first of open.values()) lastStableOffset = Math.min(lastStableOffset, first);
            aborts.push({
              producerId,
              lastOffset,
              entry: firstOffset === undefined ? null : { producerId, firstOffset, lastOffset, lastStableOffset },
            });
          }
        } else if (hasProducer && (attributes & TRANSACTIONAL_FLAG_MASK) !== 0) {
          const producerId = chunk.readBigInt64BE(at + PRODUCER_ID_OFFSET);
          if (!open.has(producerId)) open.set(producerId, baseOffset);
        }
        scannedTo = lastOffset + 1;
        lastSize = size;
        at += size;
      }
      position += at;
      readBytes = lastSize >= SCAN_HEADER_ONLY_BATCH_BYTES ? SCAN_HEADER_WINDOW_BYTES : SCAN_CHUNK_BYTES;
    }
  } finally {
    closeSync(fd);
  }
}
