import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '../protocol/errors.js';
import { readInt64AsNumber } from '../protocol/primitives/int64.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  TRANSACTIONAL_FLAG_MASK,
} from '../protocol/records/batch-header.js';
import { crc32c } from '../protocol/records/crc32c.js';

/** Kafka keeps the sequence ranges of a producer's last five batches: the client's max in-flight requests. */
export const BATCHES_RETAINED_PER_PRODUCER = 5;
/** Version of Kafka's producer snapshot file format. */
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_SUFFIX = '.snapshot';
/** version int16, crc uint32, then the entry array (int32 count). */
const SNAPSHOT_ENTRIES_OFFSET = 6;
/** producer id, epoch, last sequence, last offset, offset delta, timestamp, coordinator epoch, txn first offset. */
const SNAPSHOT_ENTRY_BYTES = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;
const INT32_MAX = 0x7fffffff;

/** What the producer fields of one batch say, read from its header. */
export interface ProducerBatch {
  producerId: bigint;
  producerEpoch: number;
  firstSeq: number;
  lastSeq: number;
  /** Offset delta of the batch's last record (its record count - 1). */
  offsetDelta: number;
  maxTimestamp: number;
  /** Part of a transaction: invisible to read_committed consumers until its COMMIT marker. */
  isTransactional: boolean;
}

/** A transaction ended by a marker at `lastOffset` (Kafka's CompletedTxn). */
export interface CompletedTxn {
  producerId: bigint;
  /** First offset of the transaction's data in this partition; -1 when it wrote none here. */
  firstOffset: number;
  lastOffset: number;
  aborted: boolean;
}

/** Where a producer's batch went: enough to answer a retry of it with its original offsets. */
export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  lastOffset: number;
  offsetDelta: number;
  timestamp: number;
}

/** What a partition knows of one producer (Kafka's ProducerStateEntry). */
export interface ProducerStateEntry {
  producerId: bigint;
  producerEpoch: number;
  /** Oldest first, at most BATCHES_RETAINED_PER_PRODUCER. */
  batches: BatchMetadata[];
  lastTimestamp: number;
  /** Epoch of the transaction coordinator that wrote the last marker (-1: none). */
  coordinatorEpoch: number;
  /** First offset of the producer's open transaction, or -1. */
  currentTxnFirstOffset: number;
}

/** A batch refused for its producer fields; the partition's other batches and producers are unaffected. */
export class ProducerStateError extends Error {
  override readonly name = 'ProducerStateError';
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The result of checking a batch against the state: append it, or answer with where it already is. */
export type SequenceCheck = { duplicate: null } | { duplicate: BatchMetadata };

/** Reads the producer fields of the batch at `at`; null for a batch without a producer id. */
export function producerBatchAt(buf: Buffer, at: number): ProducerBatch | null {
  // A negative id (-1 from producers without one) shows in the sign of the high half: no BigInt for them.
  if (buf.readInt32BE(at + PRODUCER_ID_OFFSET) < 0) return null;
  const producerId = buf.readBigInt64BE(at + PRODUCER_ID_OFFSET);
  const firstSeq = buf.readInt32BE(at + BASE_SEQUENCE_OFFSET);
  const offsetDelta = buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
  return {
    isTransactional: (buf.readInt16BE(at + ATTRIBUTES_OFFSET) & TRANSACTIONAL_FLAG_MASK) !== 0,
    producerId,
    producerEpoch: buf.readInt16BE(at + PRODUCER_EPOCH_OFFSET),
    firstSeq,
    lastSeq: incrementSequence(firstSeq, offsetDelta),
    offsetDelta,
    maxTimestamp: readInt64AsNumber(buf, at + MAX_TIMESTAMP_OFFSET),
  };
}

/** Sequences wrap from INT32_MAX to 0, as in Kafka. */
function incrementSequence(seq: number, by: number): number {
  return seq > INT32_MAX - by ? by - (INT32_MAX - seq) - 1 : seq + by;
}

function decrementSequence(seq: number, by: number): number {
  return seq < by ? INT32_MAX - (by - seq) + 1 : seq - by;
}

/** A write (batch or marker) from an epoch older than the partition has seen is fenced. */
function rejectOlderEpoch(entry: ProducerStateEntry | undefined, producerId: bigint, epoch: number): void {
  if (entry && epoch < entry.producerEpoch) {
    throw new ProducerStateError(
      ErrorCode.INVALID_PRODUCER_EPOCH,
      `Epoch ${epoch} of producer ${producerId} is older than the current epoch ${entry.producerEpoch}`,
    );
  }
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

/**
 * The idempotent producers of one partition (Kafka's ProducerStateManager): per producer id its epoch and
 * the sequence ranges and offsets of its last batches, so that a retried batch is answered with its original
 * offsets instead of being written twice, a gap in sequences is refused, and a fenced (older) epoch is refused.
 *
 * The state is rebuilt at start-up from the latest snapshot file (`<offset>.snapshot`, Kafka's format, written
 * at each segment roll and at close) plus the batches after it in the log.
 */
export class ProducerStateManager {
  private readonly producers = new Map<bigint, ProducerStateEntry>();
  /** Producers with a transaction open in this partition (their entries' currentTxnFirstOffset >= 0). */
  private readonly openTxns = new Set<ProducerStateEntry>();
  /** Offsets of the snapshot files in the directory, ascending. */
  private snapshots: number[] = [];
  /** The log offset up to which the state reflects the log. */
  private mapEndOffset = 0;

  constructor(private readonly dir: string) {}

  get producerCount(): number {
    return this.producers.size;
  }

  get endOffset(): number {
    return this.mapEndOffset;
  }

  /**
   * Whether a snapshot at close is worth writing: with no producers and no snapshot on disk, the next start
   * begins empty anyway, so a broker with many partitions and no idempotent producers writes no files.
   */
  get needsSnapshot(): boolean {
    return this.producers.size > 0 || this.snapshots.length > 0;
  }

  entry(producerId: bigint): ProducerStateEntry | undefined {
    return this.producers.get(producerId);
  }

  activeProducers(): IterableIterator<ProducerStateEntry> {
    return this.producers.values();
  }

  /**
   * Checks a client's batch before it is given offsets, as Kafka does: an older epoch is fenced; a batch the
   * state already holds (same epoch, same sequence range) is a duplicate; otherwise its first sequence must
   * follow the producer's last one, except for a new epoch (which starts at 0) or a producer this partition
   * does not know (its batches may have been removed by retention), which may start anywhere.
   * Throws ProducerStateError.
   */
  /** The check of a coordinator's write for a producer: its epoch must not be older than the partition's. */
  checkEpoch(batch: ProducerBatch): SequenceCheck {
    rejectOlderEpoch(this.producers.get(batch.producerId), batch.producerId, batch.producerEpoch);
    return { duplicate: null };
  }

  check(batch: ProducerBatch): SequenceCheck {
    const entry = this.producers.get(batch.producerId);
    if (!entry) return { duplicate: null };
    rejectOlderEpoch(entry, batch.producerId, batch.producerEpoch);
    if (entry.currentTxnFirstOffset >= 0 && !batch.isTransactional) {
      throw new ProducerStateError(
        ErrorCode.INVALID_TXN_STATE,
        `Producer ${batch.producerId} wrote a non-transactional batch while its transaction is open`,
      );
    }
    if (batch.producerEpoch !== entry.producerEpoch) {
      if (batch.firstSeq !== 0 && entry.producerEpoch !== -1) {
        throw new ProducerStateError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `Producer ${batch.producerId} starts epoch ${batch.producerEpoch} at sequence ${batch.firstSeq}, not 0`,
        );
      }
      return { duplicate: null };
    }
    for (const b of entry.batches) {
      if (b.firstSeq === batch.firstSeq && b.lastSeq === batch.lastSeq) return { duplicate: b };
    }
    const lastSeq = entry.batches.at(-1)?.lastSeq ?? -1;
    if (!inSequence(lastSeq, batch.firstSeq)) {
      throw new ProducerStateError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `Out of order sequence number for producer ${batch.producerId}: ${batch.firstSeq} (incoming), ${lastSeq} (last)`,
      );
    }
    return { duplicate: null };
  }

  private entryFor(producerId: bigint, producerEpoch: number): ProducerStateEntry {
    let entry = this.producers.get(producerId);
    if (!entry) {
      entry = {
        producerId,
        producerEpoch,
        batches: [],
        lastTimestamp: -1,
        coordinatorEpoch: -1,
        currentTxnFirstOffset: -1,
      };
      this.producers.set(producerId, entry);
    }
    if (producerEpoch !== entry.producerEpoch) {
      entry.producerEpoch = producerEpoch;
      entry.batches = [];
    }
    return entry;
  }

  /**
   * Records a batch written at `lastOffset` (also used when replaying the log, where nothing is checked).
   * The first transactional batch of a producer opens its transaction in this partition at its first offset.
   */
  update(batch: ProducerBatch, lastOffset: number): void {
    const entry = this.entryFor(batch.producerId, batch.producerEpoch);
    if (batch.isTransactional && entry.currentTxnFirstOffset < 0) {
      entry.currentTxnFirstOffset = lastOffset - batch.offsetDelta;
      this.openTxns.add(entry);
    }
    entry.batches.push({
      firstSeq: batch.firstSeq,
      lastSeq: batch.lastSeq,
      lastOffset,
      offsetDelta: batch.offsetDelta,
      timestamp: batch.maxTimestamp,
    });
    if (entry.batches.length > BATCHES_RETAINED_PER_PRODUCER) entry.batches.shift();
    entry.lastTimestamp = batch.maxTimestamp;
    this.mapEndOffset = lastOffset + 1;
  }

  /**
   * Checks a COMMIT/ABORT marker from a transaction coordinator before it is written: an older producer epoch
   * or an older coordinator epoch than the partition has seen is refused, as in Kafka.
   */
  checkMarker(producerId: bigint, producerEpoch: number, coordinatorEpoch: number): void {
    const entry = this.producers.get(producerId);
    if (!entry) return;
    rejectOlderEpoch(entry, producerId, producerEpoch);
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      throw new ProducerStateError(
        ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        `Marker from coordinator epoch ${coordinatorEpoch}, older than ${entry.coordinatorEpoch}`,
      );
    }
  }

  /** Ends the producer's transaction in this partition with the marker written at `markerOffset`. */
  completeTxn(
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
    aborted: boolean,
    markerOffset: number,
    timestamp: number,
  ): CompletedTxn {
    const entry = this.entryFor(producerId, producerEpoch);
    const completed = { producerId, firstOffset: entry.currentTxnFirstOffset, lastOffset: markerOffset, aborted };
    entry.currentTxnFirstOffset = -1;
    entry.coordinatorEpoch = coordinatorEpoch;
    entry.lastTimestamp = timestamp;
    this.openTxns.delete(entry);
    this.mapEndOffset = markerOffset + 1;
    return completed;
  }

  /** The first offset of the oldest transaction still open here, or null: the last stable offset's bound. */
  firstUnstableOffset(): number | null {
    let first: number | null = null;
    for (const e of this.openTxns)
      if (first === null || e.currentTxnFirstOffset < first) first = e.currentTxnFirstOffset;
    return first;
  }

  /** Open transactions here (DescribeProducers, the coordinator's hanging-transaction checks). */
  openTransactions(): ProducerStateEntry[] {
    return [...this.openTxns];
  }

  /** The state now reflects the log up to `offset` (batches without producer ids were appended too). */
  advanceTo(offset: number): void {
    if (offset > this.mapEndOffset) this.mapEndOffset = offset;
  }

  /** Forgets producers idle for `expirationMs` (producer.id.expiration.ms) with no open transaction. */
  removeExpired(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.producers) {
      if (!this.openTxns.has(entry) && nowMs - entry.lastTimestamp >= expirationMs) {
        this.producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Loads the newest valid snapshot at or below `logEndOffset` (snapshots past it describe bytes a torn tail
   * lost, and are deleted). Returns the offset the log must be replayed from, or null when there is no
   * snapshot. Producers already expired are not loaded.
   */
  async load(logEndOffset: number, nowMs: number, expirationMs: number): Promise<number | null> {
    this.producers.clear();
    this.openTxns.clear();
    // A reload after a truncation starts over: the state reflects nothing until a snapshot or a replay says so.
    this.mapEndOffset = 0;
    this.snapshots = await listSnapshotOffsets(this.dir);
    for (const offset of this.snapshots.filter((o) => o > logEndOffset)) await this.deleteSnapshot(offset);
    while (this.snapshots.length > 0) {
      const offset = this.snapshots.at(-1)!;
      const entries = decodeSnapshot(await readFile(join(this.dir, snapshotFileName(offset))));
      if (entries) {
        for (const e of entries) {
          if (e.currentTxnFirstOffset >= 0 || nowMs - e.lastTimestamp < expirationMs) {
            this.producers.set(e.producerId, e);
            if (e.currentTxnFirstOffset >= 0) this.openTxns.add(e);
          }
        }
        this.mapEndOffset = offset;
        return offset;
      }
      // A corrupt snapshot is dropped and an older one (or the whole log) used instead, as in Kafka.
      await this.deleteSnapshot(offset);
    }
    return null;
  }

  /** Writes a snapshot at the current end offset (fsynced, then renamed into place), unless one exists there. */
  async takeSnapshot(): Promise<void> {
    const offset = this.mapEndOffset;
    if (this.snapshots.at(-1) === offset) return;
    const path = join(this.dir, snapshotFileName(offset));
    const tmp = `${path}.tmp`;
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(encodeSnapshot(this.producers.values()));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    this.snapshots = this.snapshots.filter((o) => o < offset);
    this.snapshots.push(offset);
  }

  /** Deletes the snapshots below `offset` (their segments were deleted), keeping the newest one in any case. */
  async deleteSnapshotsBefore(offset: number): Promise<void> {
    const newest = this.snapshots.at(-1);
    for (const o of this.snapshots.filter((s) => s < offset && s !== newest)) await this.deleteSnapshot(o);
  }

  /** Forgets everything and deletes every snapshot (the partition's log is deleted). */
  async clear(): Promise<void> {
    this.producers.clear();
    this.openTxns.clear();
    this.mapEndOffset = 0;
    for (const o of [...this.snapshots]) await this.deleteSnapshot(o);
  }

  private async deleteSnapshot(offset: number): Promise<void> {
    await rm(join(this.dir, snapshotFileName(offset)), { force: true });
    this.snapshots = this.snapshots.filter((o) => o !== offset);
  }
}

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${SNAPSHOT_SUFFIX}`;
}

async function listSnapshotOffsets(dir: string): Promise<number[]> {
  const offsets: number[] = [];
  for (const name of await readdir(dir)) {
    const m = /^(\d{20})\.snapshot$/.exec(name);
    if (m) offsets.push(Number(m[1]));
  }
  return offsets.sort((a, b) => a - b);
}

/**
 * Kafka's snapshot file: version, CRC32C of the rest, then one entry per producer holding its last batch only
 * (so after a restart a retry of an older in-flight batch is refused as out of order, as in Kafka).
 */
export function encodeSnapshot(entries: Iterable<ProducerStateEntry>): Buffer {
  const list = [...entries];
  const buf = Buffer.alloc(SNAPSHOT_ENTRIES_OFFSET + 4 + list.length * SNAPSHOT_ENTRY_BYTES);
  buf.writeInt16BE(SNAPSHOT_VERSION, 0);
  buf.writeInt32BE(list.length, SNAPSHOT_ENTRIES_OFFSET);
  let at = SNAPSHOT_ENTRIES_OFFSET + 4;
  for (const e of list) {
    const last = e.batches.at(-1);
    buf.writeBigInt64BE(e.producerId, at);
    buf.writeInt16BE(e.producerEpoch, at + 8);
    buf.writeInt32BE(last?.lastSeq ?? -1, at + 10);
    buf.writeBigInt64BE(BigInt(last?.lastOffset ?? -1), at + 14);
    buf.writeInt32BE(last?.offsetDelta ?? 0, at + 22);
    buf.writeBigInt64BE(BigInt(e.lastTimestamp), at + 26);
    buf.writeInt32BE(e.coordinatorEpoch, at + 34);
    buf.writeBigInt64BE(BigInt(e.currentTxnFirstOffset), at + 38);
    at += SNAPSHOT_ENTRY_BYTES;
  }
  buf.writeUInt32BE(crc32c(buf, SNAPSHOT_ENTRIES_OFFSET, buf.length), 2);
  return buf;
}

/** The entries of a snapshot file, or null when it is not a valid one. */
export function decodeSnapshot(buf: Buffer): ProducerStateEntry[] | null {
  if (buf.length < SNAPSHOT_ENTRIES_OFFSET + 4 || buf.readInt16BE(0) !== SNAPSHOT_VERSION) return null;
  if (crc32c(buf, SNAPSHOT_ENTRIES_OFFSET, buf.length) !== buf.readUInt32BE(2)) return null;
  const count = buf.readInt32BE(SNAPSHOT_ENTRIES_OFFSET);
  if (count < 0 || buf.length !== SNAPSHOT_ENTRIES_OFFSET + 4 + count * SNAPSHOT_ENTRY_BYTES) return null;
  const entries: ProducerStateEntry[] = [];
  for (let i = 0, at = SNAPSHOT_ENTRIES_OFFSET + 4; i < count; i++, at += SNAPSHOT_ENTRY_BYTES) {
    const lastSeq = buf.readInt32BE(at + 10);
    const lastOffset = Number(buf.readBigInt64BE(at + 14));
    const offsetDelta = buf.readInt32BE(at + 22);
    const timestamp = Number(buf.readBigInt64BE(at + 26));
    entries.push({
      producerId: buf.readBigInt64BE(at),
      producerEpoch: buf.readInt16BE(at + 8),
      batches:
        lastOffset >= 0
          ? [{ firstSeq: decrementSequence(lastSeq, offsetDelta), lastSeq, lastOffset, offsetDelta, timestamp }]
          : [],
      lastTimestamp: timestamp,
      coordinatorEpoch: buf.readInt32BE(at + 34),
      currentTxnFirstOffset: Number(buf.readBigInt64BE(at + 38)),
    });
  }
  return entries;
}
