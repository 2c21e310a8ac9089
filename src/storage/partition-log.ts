import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  RECORD_BATCH_OVERHEAD as BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAX_TIMESTAMP_OFFSET,
} from '../protocol/records/batch-header.js';
import { LogSegment, listSegmentBaseOffsets } from './log-segment.js';
import { TailCache, type TailCacheBudget } from './tail-cache.js';

/** The topic configs the log itself acts on (resolved from topic overrides and broker defaults). */
export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  /** -1: keep forever. */
  retentionMs: number;
  /** -1: no size limit. */
  retentionBytes: number;
  indexIntervalBytes: number;
  /** fsync after this many messages (flush.messages); Infinity: never for that reason. */
  flushMessages: number;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Largest timestamp among the appended batches. */
  maxTimestamp: number;
  /** The log start offset after the append, reported back to producers. */
  logStartOffset: number;
}

export interface AppendOptions {
  /** Wait for the data to be on disk (fdatasync) before resolving: acks=all under the durable policy. */
  sync: boolean;
  /** Number of records in `records`, to drive flush.messages. */
  recordCount: number;
}

interface QueuedAppend {
  records: Buffer;
  options: AppendOptions;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

export interface LogReadResult {
  /** Whole batches, starting with the batch that holds the requested offset. */
  records: Buffer;
  highWatermark: number;
  logStartOffset: number;
}

/**
 * The commit log of one partition (Kafka's UnifiedLog): a directory of segments, the last one active.
 *
 * Appends are group-committed: they queue while a write is in flight, then the next round assigns their
 * offsets in queue order, writes all of them with one writev, and, if any asked for it (or flush.messages is
 * reached), makes them durable with one fdatasync. Only written data is readable; with a single replica the
 * high watermark is the end of the written log.
 */
export class PartitionLog {
  private segments: LogSegment[] = [];
  private queue: QueuedAppend[] = [];
  /** The append loop while it runs. */
  private appending: Promise<void> | null = null;
  private closed = false;
  /** Set when a write failed: the log then refuses appends (Kafka takes the log dir offline). */
  private failure: unknown = null;
  /** Offset the next appended batch gets. */
  private nextOffset = 0;
  /** Offset after the last batch written to the file: the high watermark with one replica. */
  private writtenEndOffset = 0;
  private unflushedMessages = 0;
  private appendListeners = new Set<() => void>();
  /** Recent batches in memory for consumers at the end of the log; null when the broker keeps none. */
  private tail: TailCache | null = null;

  private constructor(
    readonly dir: string,
    readonly topic: string,
    readonly partition: number,
    public config: LogConfig,
    public logStartOffset: number,
    /** Offset below which the log is known to be on disk. */
    public recoveryPoint: number,
    private readonly now: () => number,
  ) {}

  /**
   * Opens (or creates) the log in `dir`. Segments from the one holding `recoveryPoint` on are recovered
   * (checked batch by batch, torn tails truncated) unless the broker shut down cleanly.
   */
  static async open(params: {
    dir: string;
    topic: string;
    partition: number;
    config: LogConfig;
    logStartOffset?: number;
    recoveryPoint?: number;
    cleanShutdown: boolean;
    now?: () => number;
    /** Shared memory budget for the in-memory tails of all logs (none when absent). */
    tailCache?: TailCacheBudget;
  }): Promise<PartitionLog> {
    const now = params.now ?? Date.now;
    await mkdir(params.dir, { recursive: true });
    const log = new PartitionLog(
      params.dir,
      params.topic,
      params.partition,
      params.config,
      params.logStartOffset ?? 0,
      params.recoveryPoint ?? 0,
      now,
    );
    const names = await readdir(params.dir);
    // Leftovers of an interrupted segment deletion.
    for (const name of names) if (name.endsWith('.deleted')) await rm(join(params.dir, name), { force: true });
    const baseOffsets = await listSegmentBaseOffsets(params.dir, names);
    const segmentConfig = { indexIntervalBytes: params.config.indexIntervalBytes };
    for (let i = 0; i < baseOffsets.length; i++) {
      const baseOffset = baseOffsets[i]!;
      const nextBase = baseOffsets[i + 1] ?? Number.MAX_SAFE_INTEGER;
      const recover = !params.cleanShutdown && nextBase > log.recoveryPoint;
      log.segments.push(await LogSegment.load(params.dir, baseOffset, segmentConfig, recover));
    }
    // A segment emptied by a torn tail is fine; an empty directory gets its first segment.
    if (log.segments.length === 0) {
      log.segments.push(await LogSegment.create(params.dir, log.logStartOffset, segmentConfig, now()));
    }
    log.nextOffset = log.activeSegment.nextOffset;
    log.writtenEndOffset = log.nextOffset;
    log.logStartOffset = Math.max(log.logStartOffset, log.segments[0]!.baseOffset);
    if (log.logStartOffset > log.nextOffset) log.logStartOffset = log.nextOffset;
    log.recoveryPoint = log.nextOffset;
    if (params.tailCache) log.tail = new TailCache(params.tailCache);
    return log;
  }

  private get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  get logEndOffset(): number {
    return this.writtenEndOffset;
  }

  get highWatermark(): number {
    return this.writtenEndOffset;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes of all segments. */
  get sizeInBytes(): number {
    let size = 0;
    for (const s of this.segments) size += s.size;
    return size;
  }

  /** Called (synchronously) after every write that moved the high watermark; wakes long-polling fetches. */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /**
   * Appends `records`: whole v2 batches, already validated, whose base offsets are overwritten here.
   * The buffer is patched in place and kept until written; the caller must not reuse it.
   */
  append(records: Buffer, options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error(`log ${this.topic}-${this.partition} is closed`));
    if (this.failure) return Promise.reject(new LogOfflineError(this.topic, this.partition, this.failure));
    return new Promise((resolve, reject) => {
      this.queue.push({ records, options, resolve, reject });
      this.startAppending();
    });
  }

  private startAppending(): void {
    if (this.appending) return;
    this.appending = this.runAppends().finally(() => {
      this.appending = null;
      // Appends that arrived after the loop's last look at the queue, but before this point.
      if (this.queue.length > 0) this.startAppending();
    });
  }

  private async runAppends(): Promise<void> {
    while (this.queue.length > 0) {
      const round = this.queue;
      this.queue = [];
      const results: AppendResult[] = [];
      let sync = false;
      let failed: unknown = null;
      try {
        for (const item of round) {
          results.push(await this.assignAndAppend(item.records));
          this.unflushedMessages += item.options.recordCount;
          if (item.options.sync) sync = true;
        }
        const segment = this.activeSegment;
        await segment.writePending();
        if (sync || this.unflushedMessages >= this.config.flushMessages) {
          await segment.sync();
          this.recoveryPoint = this.nextOffset;
          this.unflushedMessages = 0;
        }
        this.writtenEndOffset = this.nextOffset;
        if (this.tail) for (const item of round) this.tail.add(item.records);
      } catch (e) {
        // Offsets were assigned to data that may not be on disk: stop taking writes rather than guess.
        failed = new LogOfflineError(this.topic, this.partition, e);
        this.failure = e;
        for (const item of this.queue) item.reject(failed);
        this.queue = [];
      }
      for (let i = 0; i < round.length; i++) {
        if (failed) round[i]!.reject(failed);
        else round[i]!.resolve({ ...results[i]!, logStartOffset: this.logStartOffset });
      }
      if (!failed) for (const listener of this.appendListeners) listener();
    }
  }

  /** Patches base offsets into each batch, rolls the segment if needed, and appends (not yet written). */
  private async assignAndAppend(records: Buffer): Promise<AppendResult> {
    const baseOffset = this.nextOffset;
    let offset = baseOffset;
    let maxTimestamp = -1;
    let offsetOfMaxTimestamp = baseOffset;
    for (let at = 0; at < records.length; ) {
      const size = LOG_OVERHEAD + records.readInt32BE(at + BATCH_LENGTH_OFFSET);
      if (size < BATCH_HEADER_BYTES || at + size > records.length) throw new Error('append of a partial batch');
      records.writeBigInt64BE(BigInt(offset), at);
      const lastOffset = offset + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      const ts = Number(records.readBigInt64BE(at + MAX_TIMESTAMP_OFFSET));
      if (ts > maxTimestamp) {
        maxTimestamp = ts;
        offsetOfMaxTimestamp = lastOffset;
      }
      offset = lastOffset + 1;
      at += size;
    }
    await this.maybeRoll(records.length, maxTimestamp, offset - 1);
    this.activeSegment.append(records, baseOffset, offset - 1, maxTimestamp, offsetOfMaxTimestamp);
    this.nextOffset = offset;
    return { baseOffset, lastOffset: offset - 1, maxTimestamp, logStartOffset: this.logStartOffset };
  }

  /** Starts a new segment when the active one would pass segment.bytes or is older than segment.ms. */
  private async maybeRoll(
    incomingBytes: number,
    incomingMaxTimestamp: number,
    incomingLastOffset: number,
  ): Promise<void> {
    const active = this.activeSegment;
    if (active.size === 0) return;
    const full = active.size + incomingBytes > this.config.segmentBytes;
    const old = active.msSinceRollingBase(this.now(), incomingMaxTimestamp) > this.config.segmentMs;
    // Index entries hold offsets relative to the segment's base as int32.
    const offsetOverflow = incomingLastOffset - active.baseOffset > 0x7fffffff;
    if (full || old || offsetOverflow) await this.roll();
  }

  /** Closes the active segment to appends and opens a new one at the next offset. */
  async roll(): Promise<void> {
    const active = this.activeSegment;
    // The old segment's bytes belong to the current round, which may need to be durable.
    await active.writePending();
    await active.sync();
    this.segments.push(
      await LogSegment.create(
        this.dir,
        this.nextOffset,
        { indexIntervalBytes: this.config.indexIntervalBytes },
        this.now(),
      ),
    );
  }

  /**
   * Reads whole batches from `offset`, up to `maxBytes` (at least one batch if `minOneBatch`), never at or past
   * the high watermark (bytes already in the file may await their fsync and acknowledgement). Returns null when
   * there is nothing at or after `offset`.
   * Throws OffsetOutOfRangeError for an offset outside [logStartOffset, logEndOffset].
   */
  async read(offset: number, maxBytes: number, minOneBatch: boolean): Promise<LogReadResult | null> {
    const highWatermark = this.highWatermark;
    if (offset < this.logStartOffset || offset > highWatermark) {
      throw new OffsetOutOfRangeError(offset, this.logStartOffset, highWatermark);
    }
    if (offset === highWatermark) return null;
    const cached = this.tail?.read(offset, maxBytes, minOneBatch, highWatermark);
    if (cached)
      return cached.length > 0 ? { records: cached, highWatermark, logStartOffset: this.logStartOffset } : null;
    for (let i = this.segmentIndexFor(offset); i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const result = await segment.read(offset, maxBytes, minOneBatch, highWatermark);
      if (result) return { records: result, highWatermark, logStartOffset: this.logStartOffset };
    }
    return null;
  }

  /** Index in `segments` of the segment that would hold `offset`. */
  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * ListOffsets by timestamp: the first offset whose batch has a timestamp >= `timestamp`, or null when no
   * batch does. (Within a batch, Kafka returns the first record at or after the timestamp; the caller can
   * refine by reading that batch's records.)
   */
  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestamp) continue;
      const batch = await segment.findBatchByTimestamp(timestamp);
      if (batch) return { offset: Math.max(batch.baseOffset, this.logStartOffset), timestamp: batch.maxTimestamp };
    }
    return null;
  }

  /** The largest timestamp in the log and the offset that holds it (ListOffsets MAX_TIMESTAMP). */
  maxTimestampAndOffset(): { timestamp: number; offset: number } {
    let best = { timestamp: -1, offset: -1 };
    for (const s of this.segments) {
      if (s.maxTimestamp > best.timestamp) best = { timestamp: s.maxTimestamp, offset: s.offsetOfMaxTimestamp };
    }
    return best;
  }

  /** Moves the log start offset forward (DeleteRecords); whole segments below it go at the next retention pass. */
  advanceLogStartOffset(offset: number): void {
    if (offset > this.highWatermark) throw new OffsetOutOfRangeError(offset, this.logStartOffset, this.highWatermark);
    if (offset > this.logStartOffset) this.logStartOffset = offset;
  }

  /**
   * Deletes segments by retention.ms, retention.bytes and the log start offset. The active segment is never
   * deleted. Returns the number of segments deleted.
   */
  async deleteOldSegments(): Promise<number> {
    const nowMs = this.now();
    let total = this.sizeInBytes;
    let deleted = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const next = this.segments[1]!;
      const expired =
        this.config.retentionMs >= 0 &&
        oldest.maxTimestamp >= 0 &&
        nowMs - oldest.maxTimestamp > this.config.retentionMs;
      const oversize = this.config.retentionBytes >= 0 && total - oldest.size >= this.config.retentionBytes;
      const belowStart = next.baseOffset <= this.logStartOffset;
      if (!expired && !oversize && !belowStart) break;
      this.segments.shift();
      total -= oldest.size;
      this.logStartOffset = Math.max(this.logStartOffset, next.baseOffset);
      await oldest.delete();
      deleted++;
    }
    return deleted;
  }

  /** Waits for queued appends to be written. */
  async drain(): Promise<void> {
    while (this.appending) await this.appending;
  }

  /** Writes and syncs everything, then closes the files. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    this.tail?.clear();
    await this.activeSegment.sync();
    this.recoveryPoint = this.nextOffset;
    for (const s of this.segments) await s.close();
  }

  /** Makes everything written durable (log.flush.interval.ms and shutdown). */
  async flush(): Promise<void> {
    const target = this.nextOffset;
    await this.drain();
    await this.activeSegment.sync();
    this.recoveryPoint = Math.max(this.recoveryPoint, target);
    this.unflushedMessages = 0;
  }

  /** Closes and deletes the whole directory (DeleteTopics). */
  async delete(): Promise<void> {
    this.closed = true;
    await this.drain();
    this.tail?.clear();
    for (const s of this.segments) await s.delete();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export class LogOfflineError extends Error {
  override readonly name = 'LogOfflineError';
  constructor(topic: string, partition: number, cause: unknown) {
    super(`log ${topic}-${partition} is offline after a write failure: ${String(cause)}`, { cause });
  }
}

export class OffsetOutOfRangeError extends Error {
  override readonly name = 'OffsetOutOfRangeError';
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(`offset ${offset} is outside the log's range [${logStartOffset}, ${logEndOffset}]`);
  }
}
