import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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

export function transactionIndexFileName(segmentBaseOffset: number): string {
  return `${String(segmentBaseOffset).padStart(20, '0')}.txnindex`;
}

/**
 * The aborted transactions of one partition (Kafka's TransactionIndex), kept in memory for Fetch under
 * read_committed and in one `.txnindex` file per segment, beside the segment that holds each ABORT marker.
 * Entries are ordered by marker offset; the list stays short because only aborts are recorded.
 */
export class TransactionIndex {
  private entries: AbortedTxn[] = [];

  constructor(private readonly dir: string) {}

  /**
   * Reads the index files of the segments. Entries at or past `logEndOffset` (markers a torn tail lost) are
   * dropped and their files rewritten; the log replay after the producer snapshot adds any missing ones.
   */
  async load(segmentBaseOffsets: number[], logEndOffset: number): Promise<void> {
    this.entries = [];
    for (const base of segmentBaseOffsets) {
      let bytes: Buffer;
      try {
        bytes = await readFile(join(this.dir, transactionIndexFileName(base)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const kept: AbortedTxn[] = [];
      let dropped = false;
      for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
        const entry = decodeEntry(bytes, at);
        if (entry && entry.lastOffset < logEndOffset) kept.push(entry);
        else dropped = true;
      }
      if (dropped || bytes.length % ENTRY_BYTES !== 0) {
        await writeFile(join(this.dir, transactionIndexFileName(base)), Buffer.concat(kept.map(encodeEntry)));
      }
      this.entries.push(...kept);
    }
    this.entries.sort((a, b) => a.lastOffset - b.lastOffset);
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
