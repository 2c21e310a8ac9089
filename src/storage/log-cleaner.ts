import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DecodeError } from '../protocol/primitives/decode-error.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  LOG_OVERHEAD,
  RECORD_BATCH_OVERHEAD,
  RECORDS_COUNT_OFFSET,
} from '../protocol/records/batch-header.js';
import type { Record } from '../protocol/records/record.js';
import { RecordBatch, readBatches } from '../protocol/records/record-batch.js';
import { rebuildRecordBatch } from '../protocol/records/record-batch-builder.js';
import { CorruptBatchError, type LogSegment, segmentFileName } from './log-segment.js';
import { CLEANED_FILE_SUFFIX, type PartitionLog } from './partition-log.js';
import type { AbortedTxn } from './transaction-index.js';

/** Kafka's defaults for the cleaner's topic configs. */
export const DEFAULT_DELETE_RETENTION_MS = 86_400_000;
export const DEFAULT_MIN_CLEANABLE_DIRTY_RATIO = 0.5;
/** log.cleaner.backoff.ms: the pause between two passes over the logs. */
export const DEFAULT_LOG_CLEANER_BACKOFF_MS = 15_000;
/** Bytes of a segment read at a time; the event loop gets a turn between two reads. */
const CLEAN_READ_BYTES = 128 * 1024;
/** Retained bytes gathered before they are written to the cleaned file. */
const CLEAN_WRITE_BYTES = 1024 * 1024;

export interface CleanResult {
  /** Segments rewritten (a segment with nothing to remove is left as it is). */
  segmentsCleaned: number;
  /** Records removed: superseded keys, expired tombstones, aborted transactional data. */
  recordsRemoved: number;
  /** The cleaned part of the log ends here (the log's first dirty offset). */
  endOffset: number;
}

/** What the cleaner decided for one batch: kept as it is, dropped, or rewritten with fewer records. */
type BatchOutcome = { kind: 'keep' } | { kind: 'drop' } | { kind: 'rewrite'; batch: Buffer };

/**
 * Kafka's log cleaner for one partition of a compacted topic (cleanup.policy includes `compact`).
 *
 * The cleanable part of the log is the run of inactive segments, oldest first, that lie below the last stable
 * offset (an open transaction may still abort) and whose records are older than min.compaction.lag.ms. It is
 * cleaned when its uncleaned ("dirty") bytes are at least min.cleanable.dirty.ratio of it, or when a kept
 * tombstone's delete horizon has passed. A first pass maps each key to its last offset in that part; a second
 * rewrites each segment keeping, per key, only the record at that offset. Offsets never change: a batch keeps
 * its base offset and last offset delta, and the records removed leave gaps. Records without a key are kept.
 */
class PartitionCleaner {
  private removed = 0;
  private minHorizon = Number.POSITIVE_INFINITY;

  constructor(
    private readonly log: PartitionLog,
    private readonly nowMs: number,
    /** Checked between reads: a broker stopping ends the pass early (nothing half-swapped is left). */
    private readonly shouldStop: () => boolean = () => false,
  ) {}

  /** Cleans the log if it needs it; null when it does not (or is not compacted). */
  async run(): Promise<CleanResult | null> {
    const { log, nowMs } = this;
    if (!log.config.compact || log.isClosed) return null;
    const segments = cleanableSegments(log, nowMs);
    if (segments.length === 0) return null;
    const endOffset = segments[segments.length - 1]!.nextOffset;
    const firstDirty = Math.max(log.firstDirtyOffset, log.logStartOffset);
    let total = 0;
    let dirty = 0;
    for (const s of segments) {
      total += s.size;
      if (s.nextOffset > firstDirty) dirty += s.size;
    }
    const ratio = log.config.minCleanableDirtyRatio ?? DEFAULT_MIN_CLEANABLE_DIRTY_RATIO;
    const horizonDue = log.earliestDeleteHorizonMs <= nowMs;
    if (total === 0 || (dirty / total < ratio && !horizonDue)) return null;

    const aborted = log.abortedTransactions(segments[0]!.baseOffset, endOffset);
    const lastOffsets = await this.buildOffsetMap(segments, aborted);
    if (lastOffsets === null) return null;
    let cleaned = 0;
    for (const segment of segments) {
      const outcome = await this.cleanSegment(segment, lastOffsets, aborted);
      if (outcome === 'stopped') return null;
      if (outcome === 'cleaned') cleaned++;
    }
    // The next segment boundary, so that a later pass counts only segments written since as dirty.
    log.firstDirtyOffset = Math.max(log.firstDirtyOffset, endOffset);
    log.earliestDeleteHorizonMs = this.minHorizon;
    return { segmentsCleaned: cleaned, recordsRemoved: this.removed, endOffset };
  }

  /** Each key's last offset in the segments (aborted transactional records and control batches do not count). */
  private async buildOffsetMap(segments: LogSegment[], aborted: AbortedTxn[]): Promise<Map<string, number> | null> {
    const lastOffsets = new Map<string, number>();
    for (const segment of segments) {
      const done = await forEachBatch(
        this.log,
        segment,
        (batch) => {
          if (batch.isControl || isAborted(batch, aborted)) return;
          for (const r of batch.records()) if (r.key) lastOffsets.set(keyOf(r.key), Number(r.offset));
        },
        this.shouldStop,
      );
      if (!done) return null;
    }
    return lastOffsets;
  }

  /**
   * Writes the retained batches of a segment to `<base>.log.cleaned` and swaps it in. A segment from which
   * nothing is removed (and no tombstone gets its horizon) is left alone.
   */
  private async cleanSegment(
    segment: LogSegment,
    lastOffsets: Map<string, number>,
    aborted: AbortedTxn[],
  ): Promise<'cleaned' | 'unchanged' | 'stopped'> {
    const cleanedPath = join(this.log.dir, `${segmentFileName(segment.baseOffset, '.log')}${CLEANED_FILE_SUFFIX}`);
    const file = await open(cleanedPath, 'w');
    let changed = false;
    let position = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      const buffers = pending;
      pending = [];
      pendingBytes = 0;
      for (const b of buffers) {
        await file.write(b, 0, b.length, position);
        position += b.length;
      }
    };
    let done: boolean;
    try {
      done = await forEachBatch(
        this.log,
        segment,
        (batch) => {
          const outcome = this.cleanBatch(batch, lastOffsets, aborted);
          if (outcome.kind !== 'keep') changed = true;
          if (outcome.kind === 'drop') return;
          // Segment reads may share their buffer with later reads: keep a copy.
          const kept = outcome.kind === 'keep' ? Buffer.from(batch.buf) : outcome.batch;
          pending.push(kept);
          pendingBytes += kept.length;
        },
        this.shouldStop,
        async () => {
          if (pendingBytes >= CLEAN_WRITE_BYTES) await flush();
        },
      );
      if (done && changed) {
        await flush();
        await file.datasync();
      }
    } finally {
      await file.close();
    }
    if (!done || !changed) {
      await rm(cleanedPath, { force: true });
      return done ? 'unchanged' : 'stopped';
    }
    return (await this.log.swapCleanedSegment(segment, cleanedPath)) ? 'cleaned' : 'unchanged';
  }

  private cleanBatch(batch: RecordBatch, lastOffsets: Map<string, number>, aborted: AbortedTxn[]): BatchOutcome {
    // Simplification: transaction markers are always kept (Kafka removes them once their data is gone).
    if (batch.isControl) return { kind: 'keep' };
    const records = [...batch.records()];
    const horizon = batch.hasDeleteHorizon ? Number(batch.baseTimestamp) : null;
    const tombstonesExpire = horizon !== null && horizon <= this.nowMs;
    let kept: Record[];
    if (isAborted(batch, aborted)) kept = [];
    else {
      kept = records.filter((r) => {
        if (r.key === null) return true;
        if (lastOffsets.get(keyOf(r.key)) !== Number(r.offset)) return false;
        return !(r.value === null && tombstonesExpire);
      });
    }
    this.removed += records.length - kept.length;
    const hasTombstone = kept.some((r) => r.key !== null && r.value === null);
    if (kept.length === records.length && (!hasTombstone || horizon !== null)) {
      if (hasTombstone) this.minHorizon = Math.min(this.minHorizon, horizon!);
      return { kind: 'keep' };
    }
    if (kept.length === 0) {
      // Kafka keeps the last batch of each producer (empty) so that its state, and the detection of a retry
      // of that batch, survive a rebuild from the log.
      return isLastBatchOfProducer(this.log, batch) ? { kind: 'rewrite', batch: emptyBatch(batch) } : { kind: 'drop' };
    }
    // Tombstones kept for the first time get their delete horizon: they go delete.retention.ms from now.
    let deleteHorizonMs: bigint | undefined;
    if (hasTombstone) {
      const at = horizon ?? this.nowMs + (this.log.config.deleteRetentionMs ?? DEFAULT_DELETE_RETENTION_MS);
      this.minHorizon = Math.min(this.minHorizon, at);
      deleteHorizonMs = BigInt(at);
    }
    const rebuilt = rebuildRecordBatch(batch, kept, deleteHorizonMs !== undefined ? { deleteHorizonMs } : {});
    return { kind: 'rewrite', batch: rebuilt };
  }
}

/**
 * The inactive segments the cleaner may clean, oldest first: below the last stable offset and older than
 * min.compaction.lag.ms (by their largest timestamp). The active segment is never cleaned.
 */
function cleanableSegments(log: PartitionLog, nowMs: number): LogSegment[] {
  const lag = log.config.minCompactionLagMs ?? 0;
  const stable = log.lastStableOffset;
  const out: LogSegment[] = [];
  for (const s of log.inactiveSegments()) {
    if (s.nextOffset > stable) break;
    if (lag > 0 && s.maxTimestamp > nowMs - lag) break;
    out.push(s);
  }
  return out;
}

/** Cleans one log if it needs it (see PartitionCleaner). */
export function cleanLog(log: PartitionLog, nowMs: number, shouldStop?: () => boolean): Promise<CleanResult | null> {
  return new PartitionCleaner(log, nowMs, shouldStop).run();
}

export interface LogCleanerOptions {
  now?: () => number;
  /**
   * Errors of one log's pass; the other logs are still cleaned. An UncleanablePartitionError is told once: the
   * log is not cleaned again.
   */
  onError?: (log: PartitionLog, error: unknown) => void;
}

/**
 * A compacted log holds a batch the cleaner cannot read (a bad header, CRC or record): as Kafka marks such a
 * partition uncleanable, it is skipped from then on (until the broker restarts) instead of failing every pass.
 * Its records stay as they are; reads serve what comes before the damage.
 */
export class UncleanablePartitionError extends Error {
  override readonly name = 'UncleanablePartitionError';
  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The offset where the cleaner met the damage (the batch's base offset, or the offset it read from). */
    readonly offset: number,
    cause: unknown,
  ) {
    super(
      `${topic}-${partition} marked uncleanable: corrupt batch at offset ${offset} (${(cause as Error).message}); it is no longer cleaned`,
      { cause },
    );
  }
}

/**
 * The broker's cleaner (Kafka's LogCleaner with one thread): a pass over the compacted logs, one partition at a
 * time, run every log.cleaner.backoff.ms by the broker. `stop` ends a pass at its next read.
 */
export class LogCleaner {
  private stopped = false;
  private readonly now: () => number;
  /** Logs found to hold a corrupt batch: not cleaned again (Kafka's uncleanable partitions). */
  private readonly uncleanable = new WeakSet<PartitionLog>();

  constructor(
    private readonly logs: () => Iterable<PartitionLog>,
    private readonly options: LogCleanerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Cleans every compacted log that needs it; returns the number of logs cleaned (passes completed). */
  async cleanAll(): Promise<number> {
    let cleaned = 0;
    for (const log of [...this.logs()]) {
      if (this.stopped) break;
      if (this.uncleanable.has(log)) continue;
      try {
        const result = await cleanLog(log, this.now(), () => this.stopped || log.isClosed);
        if (result) cleaned++;
      } catch (e) {
        if (e instanceof UncleanablePartitionError) this.uncleanable.add(log);
        this.options.onError?.(log, e);
      }
    }
    return cleaned;
  }

  /** Whether a corrupt batch made the cleaner give up on `log`. */
  isUncleanable(log: PartitionLog): boolean {
    return this.uncleanable.has(log);
  }

  stop(): void {
    this.stopped = true;
  }
}

/**
 * Calls `visit` for each batch of a segment, reading it a chunk at a time; after each chunk `afterChunk` runs
 * and the event loop gets a turn. Returns false when `shouldStop` ended the walk early. Every batch's CRC is
 * checked (the cleaner reads every record anyway): a damaged batch, or one whose records do not decode, throws
 * UncleanablePartitionError before anything of the segment is rewritten.
 */
async function forEachBatch(
  log: PartitionLog,
  segment: LogSegment,
  visit: (batch: RecordBatch) => void,
  shouldStop: () => boolean,
  afterChunk?: () => Promise<void>,
): Promise<boolean> {
  let offset = segment.baseOffset;
  for (;;) {
    if (shouldStop()) return false;
    let chunk: Buffer | null;
    try {
      chunk = await segment.read(offset, CLEAN_READ_BYTES, true);
    } catch (e) {
      if (e instanceof CorruptBatchError) throw new UncleanablePartitionError(log.topic, log.partition, offset, e);
      throw e;
    }
    if (!chunk || chunk.length === 0) break;
    // Segment reads hold whole batches only.
    let last = -1;
    for (const batch of readBatches(chunk).batches) {
      const baseOffset = Number(batch.baseOffset);
      if (!batch.verifyCrc()) {
        throw new UncleanablePartitionError(log.topic, log.partition, baseOffset, new Error('bad CRC'));
      }
      try {
        visit(batch);
      } catch (e) {
        if (e instanceof DecodeError) throw new UncleanablePartitionError(log.topic, log.partition, baseOffset, e);
        throw e;
      }
      last = Number(batch.lastOffset);
    }
    await afterChunk?.();
    if (last < offset) break;
    offset = last + 1;
    await yieldToEventLoop();
  }
  return true;
}

/** Map keys: the key bytes as a string, one character per byte. */
function keyOf(key: Buffer): string {
  return key.toString('latin1');
}

/** Whether a transactional batch belongs to a transaction that was aborted (from the transaction index). */
function isAborted(batch: RecordBatch, aborted: AbortedTxn[]): boolean {
  if (!batch.isTransactional || batch.isControl) return false;
  const pid = batch.producerId;
  const offset = Number(batch.baseOffset);
  return aborted.some((t) => t.producerId === pid && t.firstOffset <= offset && offset < t.lastOffset);
}

/** Whether `batch` is the last batch the partition remembers for its producer. */
function isLastBatchOfProducer(log: PartitionLog, batch: RecordBatch): boolean {
  if (batch.producerId < 0n) return false;
  const entry = log.producerState.entry(batch.producerId);
  const last = entry?.batches[entry.batches.length - 1];
  return last !== undefined && last.lastOffset === Number(batch.lastOffset);
}

/**
 * The header of `batch` with no records, as Kafka writes an emptied batch it must keep: offsets, producer
 * fields, timestamps and flags stay; the codec bits go with the records.
 */
function emptyBatch(batch: RecordBatch): Buffer {
  const out = Buffer.from(batch.buf.subarray(0, RECORD_BATCH_OVERHEAD));
  out.writeInt32BE(RECORD_BATCH_OVERHEAD - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  out.writeInt16BE(batch.attributes & ~COMPRESSION_CODEC_MASK, ATTRIBUTES_OFFSET);
  out.writeInt32BE(0, RECORDS_COUNT_OFFSET);
  new RecordBatch(out).updateCrc();
  return out;
}
