import { constants, writevSync } from 'node:fs';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readInt64AsNumber } from '../protocol/primitives/int64.js';
import {
  ATTRIBUTES_OFFSET,
  RECORD_BATCH_OVERHEAD as BATCH_HEADER_BYTES,
  BASE_OFFSET_OFFSET as BATCH_OFFSET_OFFSET,
  batchSize,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
} from '../protocol/records/batch-header.js';
import { crc32c } from '../protocol/records/crc32c.js';
import { CorruptIndexError, OffsetIndex } from './offset-index.js';
import { closeAll, inactiveSegmentLogs, openAll, SegmentLogFile } from './open-files.js';
import type { SparseIndex } from './sparse-index.js';
import { TimeIndex } from './time-index.js';

/** Bytes read at a time when scanning a segment (recovery, offset search). */
const SCAN_CHUNK_BYTES = 1 << 20;
/** Bytes read at first when looking for an offset: enough for an index interval and a typical batch. */
const SEARCH_WINDOW_BYTES = 64 * 1024;

/** Index entries hold offsets relative to the segment's base offset as int32. */
const MAX_RELATIVE_OFFSET = 0x7fffffff;

/** Reads at least this large take their buffer from the pool. */
const POOLED_READ_MIN_BYTES = 256 * 1024;
/** Pooled buffers come in multiples of this size, so that reads of nearby sizes share them. */
const POOLED_READ_STEP_BYTES = 1 << 20;
/**
 * Memory the pool keeps for reuse by default (samsa.log.read.buffer.pool.bytes); buffers released past it are
 * left to the garbage collector.
 */
export const DEFAULT_READ_BUFFER_POOL_BYTES = 64 * 1024 * 1024;

/**
 * Buffers for large segment reads, reused once the bytes they hold have been written to a socket. A consumer
 * catching up reads megabytes per fetch; allocating each read afresh makes V8 collect garbage for the sake of
 * external memory pressure every few reads (measured: half the broker's time in a cold read), where a small
 * set of reused buffers costs nothing. The connection releases a response's chunks once written; a buffer
 * never released (a read that is not sent) is simply collected.
 */
class ReadBufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly ours = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  maxFreeBytes = DEFAULT_READ_BUFFER_POOL_BYTES;

  acquire(length: number): Buffer {
    if (length < POOLED_READ_MIN_BYTES) return Buffer.allocUnsafe(length);
    const size = Math.ceil(length / POOLED_READ_STEP_BYTES) * POOLED_READ_STEP_BYTES;
    let ab = this.free.get(size)?.pop();
    if (ab) this.freeBytes -= size;
    else ab = new ArrayBuffer(size);
    this.ours.add(ab);
    return Buffer.from(ab, 0, length);
  }

  /** Keeps at most `bytes` for reuse from now on, letting go of what it holds past that. */
  setMaxFreeBytes(bytes: number): void {
    this.maxFreeBytes = bytes;
    for (const [size, list] of this.free) {
      while (this.freeBytes > bytes && list.length > 0) {
        list.pop();
        this.freeBytes -= size;
      }
    }
  }

  /** The memory behind `buf` is no longer used by anyone (its bytes were written out). */
  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.ours.has(ab)) return;
    // Released twice (two slices of one read in one response) it must not be handed out twice.
    this.ours.delete(ab);
    if (this.freeBytes + ab.byteLength > this.maxFreeBytes) return;
    let list = this.free.get(ab.byteLength);
    if (!list) {
      list = [];
      this.free.set(ab.byteLength, list);
    }
    list.push(ab);
    this.freeBytes += ab.byteLength;
  }
}

const readBuffers = new ReadBufferPool();

/**
 * Sizes the segment read buffer pool (samsa.log.read.buffer.pool.bytes). The pool is one per process, as the
 * memory it saves is: brokers sharing a process (tests, embedding) share it, and the last one started sets it.
 */
export function setReadBufferPoolBytes(bytes: number): void {
  readBuffers.setMaxFreeBytes(bytes);
}

/**
 * Hands the memory of written response chunks back for reuse by segment reads. Chunks that are not segment
 * reads are ignored. Only for bytes that nothing will look at again.
 */
export function releaseWrittenChunks(chunks: readonly Buffer[]): void {
  for (const c of chunks) readBuffers.release(c);
}

/** A segment's two index files as read from disk, or null when either is corrupt (the segment is then recovered). */
async function readIndexes(
  baseOffset: number,
  index: FileHandle,
  timeIndexFile: FileHandle,
): Promise<{ offsetIndex: OffsetIndex; timeIndex: TimeIndex } | null> {
  try {
    return {
      offsetIndex: OffsetIndex.fromBuffer(baseOffset, await index.readFile()),
      timeIndex: TimeIndex.fromBuffer(baseOffset, await timeIndexFile.readFile()),
    };
  } catch (e) {
    if (!(e instanceof CorruptIndexError)) throw e;
    return null;
  }
}

/** Kafka's file names: the base offset as 20 zero-padded digits. */
export function segmentFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

const SEGMENT_SUFFIXES = ['.log', '.index', '.timeindex'] as const;
/**
 * Index entries an append round keeps in memory before appending them to their file: the in-memory index is what
 * reads use, and after an unclean shutdown the active segment's indexes are rebuilt from its log, so the files
 * need the entries only by a roll or a close (which write them all). One index write per request cost two
 * trips to libuv's thread pool beside the log's writev for producers of small requests (a 16 KiB request adds
 * about four entries at the default index.interval.bytes).
 */
const INDEX_WRITE_BATCH_BYTES = 4096;
/**
 * The largest append round written synchronously, when no fsync follows it (see writeLog). Measured with Kafka's
 * Java client 0.9 (acks=1, 16 KiB requests, ~7,700 per million records of 100 B), alternated in one run: broker
 * CPU 1.33-1.62 -> 1.14-1.27 s per million records. 64 KiB is a few microseconds of copying.
 */
const INLINE_WRITE_MAX_BYTES = 64 * 1024;

/**
 * How an append round's bytes reach the log file: `small-inline` writes a round of at most INLINE_WRITE_MAX_BYTES
 * on the event loop and a larger one through the thread pool (rounds no fsync follows); `thread-pool` always
 * through the pool (an fdatasync follows); `durable` through the pool with O_DSYNC, so that the write returns
 * once the bytes are on disk (`writeLog` says when that may stand for an fdatasync).
 */
export type LogWrite = 'small-inline' | 'thread-pool' | 'durable';

/** A segment's three files, opened together: on failure none stays open. */
async function openSegmentFiles(
  dir: string,
  baseOffset: number,
  logFlags: string,
  indexFlags: string,
): Promise<{ log: SegmentLogFile; index: FileHandle; timeIndexFile: FileHandle }> {
  const logPath = join(dir, segmentFileName(baseOffset, '.log'));
  const [log, index, timeIndexFile] = await openAll([
    [logPath, logFlags],
    [join(dir, segmentFileName(baseOffset, '.index')), indexFlags],
    [join(dir, segmentFileName(baseOffset, '.timeindex')), indexFlags],
  ]);
  return { log: new SegmentLogFile(logPath, log!), index: index!, timeIndexFile: timeIndexFile! };
}

/** Summary of one batch in a segment: where it is and what it covers. */
export interface BatchPosition {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

/** Why recovery cut a segment short: the first check the batch failed. */
export type CorruptionReason =
  | 'torn tail'
  | 'bad batch size'
  | 'bad magic'
  | 'bad CRC'
  | 'offsets not increasing'
  | 'offset beyond the segment'
  | 'offsets missing before the next segment';

/**
 * A read met a batch whose header cannot be right (size, magic or offsets): the log holds a damaged batch that
 * recovery did not see (segments below the recovery point are not checked batch by batch). Reads return the
 * batches before it; a read that would start at or after it gets this error.
 */
export class CorruptBatchError extends Error {
  override readonly name = 'CorruptBatchError';
  constructor(
    /** The segment's `.log` file. */
    readonly file: string,
    readonly segmentBaseOffset: number,
    /** Byte position of the damaged batch in the file. */
    readonly position: number,
    /** The offset the read asked for. */
    readonly offset: number,
    readonly reason: CorruptionReason,
  ) {
    super(`corrupt batch in ${file} at position ${position} (${reason}), reading offset ${offset}`);
  }
}

/** What the recovery of one segment did. */
export interface SegmentRecovery {
  /** Why the segment was read whole: an unclean stop, a corrupt index, an interrupted swap... */
  cause: string;
  bytesScanned: number;
  /** Bytes cut from the end, and why; 0 and null when every batch checked out. */
  truncatedBytes: number;
  reason: CorruptionReason | null;
}

export interface SegmentRecoveryOptions {
  /** Why recovery runs (for the log). */
  cause?: string;
  /** The first offset the segment may hold: the end of the segment before it. Lower offsets are corrupt. */
  minOffset?: number;
  /** Runs before bytes are truncated, told the offset the segment will end at. */
  beforeTruncate?: (cutOffset: number) => Promise<void>;
  /**
   * The base offset of the segment after this one. Loading without recovery checks that the last batch ends
   * right before it, and recovers the segment otherwise (a cut or damaged file below the recovery point).
   */
  nextSegmentBaseOffset?: number;
  /** Offsets may be missing between segments: a compacted log, whose cleaner removes whole batches. */
  offsetGapsAllowed?: boolean;
  /** Told the bytes checked, chunk by chunk (progress of a long recovery). */
  onScanned?: (bytes: number) => void;
}

export interface SegmentConfig {
  /** log.index.interval.bytes: log bytes between two index entries. */
  indexIntervalBytes: number;
}

/**
 * One segment of a partition's log: the `.log` file of record batches and its `.index` and `.timeindex`.
 *
 * Appends are split in two steps so that they can be group-committed: `append` assigns the file position and
 * updates the indexes synchronously, `writePending` writes everything appended so far with one writev, and
 * `sync` makes it durable. Reads see only bytes already written to the file.
 */
export class LogSegment {
  private pending: Buffer[] = [];
  private bytesSinceLastIndexEntry = 0;
  /** Timestamp that time-based rolling counts from: the first batch's max timestamp, else creation time. */
  private rollingBaseTimestamp: number;
  private hasTimestampedBatch = false;
  /** What the last recovery of this segment found, if it was recovered since it was opened. */
  recovery: SegmentRecovery | null = null;
  /** The active log file opened a second time with O_DSYNC, for `durable` writes; opened on the first one. */
  private durableHandle: FileHandle | null = null;
  private openingDurable: Promise<FileHandle> | null = null;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    /** Held open while the segment is active; once inactive, opened for reads and closed when idle. */
    private readonly logFile: SegmentLogFile,
    /** Open while the segment is active; an inactive segment's index entries are all in memory. */
    private indexHandle: FileHandle | null,
    private timeIndexHandle: FileHandle | null,
    readonly offsetIndex: OffsetIndex,
    readonly timeIndex: TimeIndex,
    /** Bytes appended, including those not yet written. */
    public size: number,
    /** Bytes written to the file. */
    public writtenSize: number,
    /** Offset after the last batch in the segment. */
    public nextOffset: number,
    /** Largest timestamp of any batch, and the offset of the batch that holds it. */
    public maxTimestamp: number,
    public offsetOfMaxTimestamp: number,
    createdMs: number,
    private readonly config: SegmentConfig,
  ) {
    this.rollingBaseTimestamp = createdMs;
  }

  /** The `.log` handle: only while the segment is active, or inside a read that pinned it. */
  private get log(): FileHandle {
    return this.logFile.handle;
  }

  private get index(): FileHandle {
    if (!this.indexHandle) {
      throw new Error(`segment ${this.baseOffset} in ${this.dir} is inactive: its index is closed`);
    }
    return this.indexHandle;
  }

  private get timeIndexFile(): FileHandle {
    if (!this.timeIndexHandle) {
      throw new Error(`segment ${this.baseOffset} in ${this.dir} is inactive: its time index is closed`);
    }
    return this.timeIndexHandle;
  }

  static async create(dir: string, baseOffset: number, config: SegmentConfig, nowMs: number): Promise<LogSegment> {
    const { log, index, timeIndexFile: timeIndex } = await openSegmentFiles(dir, baseOffset, 'w+', 'w+');
    return new LogSegment(
      dir,
      baseOffset,
      log,
      index,
      timeIndex,
      new OffsetIndex(baseOffset),
      new TimeIndex(baseOffset),
      0,
      0,
      baseOffset,
      -1,
      baseOffset,
      nowMs,
      config,
    );
  }

  /**
   * Opens an existing segment. With `recover`, every batch is read and checked (size, magic, CRC, offsets
   * growing), a torn or corrupt tail is truncated, and the indexes are rebuilt. Without it, the indexes on
   * disk are trusted and only the part after the last index entry is walked, to find the end of the log; the
   * segment is recovered when that part is not whole batches (or the index points past the log). What recovery
   * did is left in `recovery`.
   */
  static async load(
    dir: string,
    baseOffset: number,
    config: SegmentConfig,
    recover: boolean,
    options: SegmentRecoveryOptions = {},
  ): Promise<LogSegment> {
    const files = await openSegmentFiles(dir, baseOffset, 'r+', 'a+');
    try {
      return await LogSegment.loadOpened(dir, baseOffset, config, recover, options, files);
    } catch (e) {
      // A segment that cannot be loaded keeps none of its files open.
      await Promise.allSettled([files.log.close(), closeAll([files.index, files.timeIndexFile])]);
      throw e;
    }
  }

  private static async loadOpened(
    dir: string,
    baseOffset: number,
    config: SegmentConfig,
    recover: boolean,
    options: SegmentRecoveryOptions,
    { log, index, timeIndexFile }: { log: SegmentLogFile; index: FileHandle; timeIndexFile: FileHandle },
  ): Promise<LogSegment> {
    const { size, mtimeMs } = await log.handle.stat();
    // Recovery rebuilds the indexes, so the files are read only when they are to be trusted.
    const trusted = recover ? null : await readIndexes(baseOffset, index, timeIndexFile);
    const offsetIndex = trusted?.offsetIndex ?? new OffsetIndex(baseOffset);
    const timeIndex = trusted?.timeIndex ?? new TimeIndex(baseOffset);
    const segment = new LogSegment(
      dir,
      baseOffset,
      log,
      index,
      timeIndexFile,
      offsetIndex,
      timeIndex,
      size,
      size,
      baseOffset,
      -1,
      baseOffset,
      mtimeMs,
      config,
    );
    if (trusted === null) {
      await segment.recover({ ...options, cause: recover ? options.cause : 'corrupt index file' });
      return segment;
    }
    const [lastIndexedOffset, position] = offsetIndex.lookup(Number.MAX_SAFE_INTEGER);
    // An index entry names a batch: one at or past the end of the file was written for bytes that never were.
    if (offsetIndex.entries > 0 && position >= size) {
      await segment.recover({ ...options, cause: 'index points past the end of the log' });
      return segment;
    }
    // As in Kafka, a clean stop means the files are as written: batches are not checked (a full check would read
    // every byte at each start); only their sizes are walked, to find the end.
    const tail = await segment.scan(position, false, (b) => segment.noteBatch(b), size);
    const indexedBatchFound = offsetIndex.entries === 0 || segment.nextOffset > lastIndexedOffset;
    if (position + tail.validBytes !== size || !indexedBatchFound) {
      await segment.recover({ ...options, cause: 'partial batch after the last index entry' });
      return segment;
    }
    // A segment below the active one must end where the next one starts: a file cut at a batch boundary after its
    // last index entry shows only here, for no more reading than the walk above.
    const next = options.nextSegmentBaseOffset;
    if (
      next !== undefined &&
      segment.nextOffset !== next &&
      !(options.offsetGapsAllowed === true && segment.nextOffset < next)
    ) {
      await segment.recover({ ...options, cause: 'last batch does not end where the next segment starts' });
      return segment;
    }
    // The max timestamp of batches before the last index entry is known from the time index.
    if (timeIndex.lastTimestamp > segment.maxTimestamp) {
      const [ts, offset] = timeIndex.lookup(Number.MAX_SAFE_INTEGER);
      segment.maxTimestamp = ts;
      segment.offsetOfMaxTimestamp = offset;
    }
    return segment;
  }

  /**
   * Rebuilds the indexes by reading and checking every batch; truncates the file after the last valid batch.
   * `beforeTruncate` runs first when bytes are to be cut (the log moves aside the segments after this one when the
   * cut leaves a hole, so that a crash in between leaves this segment still corrupt, and the next start does the
   * same again).
   */
  async recover(options: SegmentRecoveryOptions = {}): Promise<SegmentRecovery> {
    this.offsetIndex.truncateTo(this.baseOffset);
    this.timeIndex.truncateTo(this.baseOffset);
    this.bytesSinceLastIndexEntry = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    const sizeBefore = this.writtenSize;
    const { validBytes, invalid } = await this.scan(
      0,
      true,
      (b) => {
        this.noteBatch(b);
        this.indexBatch(b.position, b.size, b.baseOffset);
      },
      this.writtenSize,
      SCAN_CHUNK_BYTES,
      { minOffset: Math.max(options.minOffset ?? this.baseOffset, this.baseOffset), onScanned: options.onScanned },
    );
    if (validBytes < sizeBefore) {
      await options.beforeTruncate?.(this.nextOffset);
      await this.log.truncate(validBytes);
    }
    this.size = validBytes;
    this.writtenSize = validBytes;
    await this.offsetIndex.rewrite(this.index);
    await this.timeIndex.rewrite(this.timeIndexFile);
    this.recovery = {
      cause: options.cause ?? 'recovery',
      bytesScanned: sizeBefore,
      truncatedBytes: sizeBefore - validBytes,
      reason: validBytes < sizeBefore ? (invalid ?? 'torn tail') : null,
    };
    return this.recovery;
  }

  /**
   * Adds batches at the end of the segment. `records` holds whole v2 batches whose offsets are already
   * assigned; nothing is written until `writePending`.
   */
  append(
    records: Buffer,
    baseOffset: number,
    lastOffset: number,
    maxTimestamp: number,
    offsetOfMaxTimestamp: number,
  ): void {
    if (baseOffset < this.nextOffset) {
      throw new Error(`append at offset ${baseOffset} below the segment's next offset ${this.nextOffset}`);
    }
    if (this.size === 0 && maxTimestamp >= 0) {
      this.rollingBaseTimestamp = maxTimestamp;
      this.hasTimestampedBatch = true;
    }
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    }
    this.indexBatch(this.size, records.length, baseOffset);
    this.pending.push(records);
    this.size += records.length;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * Writes everything appended so far to the log; with `indexes: 'due'` (an append round), the index files only
   * once INDEX_WRITE_BATCH_BYTES of entries are waiting. Callers must not run two at once on one segment.
   */
  async writePending(indexes: 'due' | 'all' = 'all', how: LogWrite = 'thread-pool'): Promise<void> {
    // The three files are written side by side (each write is a trip to libuv's thread pool; one after the
    // other they added up in every acknowledgement). Each file still has one write at a time, as the index files
    // are appended at their current position.
    const due = (index: SparseIndex) => indexes === 'all' || index.pendingBytes >= INDEX_WRITE_BATCH_BYTES;
    const indexBytes = due(this.offsetIndex) ? this.offsetIndex.takePendingBytes() : null;
    const timeBytes = due(this.timeIndex) ? this.timeIndex.takePendingBytes() : null;
    await Promise.all([
      this.writeLog(how),
      indexBytes && this.index.write(indexBytes, 0, indexBytes.length, null),
      timeBytes && this.timeIndexFile.write(timeBytes, 0, timeBytes.length, null),
    ]);
  }

  /**
   * Forgets the appended bytes not yet written, and their index entries: after a failed write the log is
   * offline, and nothing it accepted after the failure may reach the files (a later close would write it).
   */
  discardPending(): void {
    this.pending = [];
    this.offsetIndex.takePendingBytes();
    this.timeIndex.takePendingBytes();
  }

  private async writeLog(how: LogWrite): Promise<void> {
    if (this.pending.length === 0) return;
    const buffers = this.pending;
    this.pending = [];
    let written = 0;
    let expected = 0;
    for (const b of buffers) expected += b.length;
    // A small round that is not synced is copied into the page cache here, on the event loop, as Kafka's request
    // handler threads write: the trip through libuv's thread pool (queueing, waking a worker, resolving a
    // promise) cost more than the copy itself for producers of 16 KiB requests. Large rounds still go to the
    // thread pool, so that a bulk producer's megabytes do not hold up the event loop, and so do rounds an fsync
    // follows: written inline, acks=all producers at half their peak rate waited 100 times as long (p50 2.9 ->
    // 262 ms), the rounds no longer growing while a write was out.
    const inline = how === 'small-inline' && expected <= INLINE_WRITE_MAX_BYTES;
    // O_DSYNC makes these bytes and the file size durable when the write returns: one trip through the thread
    // pool instead of a write and then an fdatasync. It covers only the bytes it writes, so the caller asks for
    // it only when every byte written before is on disk already.
    const file = how === 'durable' ? await this.durableLog() : this.log;
    while (written < expected) {
      // writev may write less than asked; continue from where it stopped.
      const rest = written === 0 ? buffers : sliceBuffers(buffers, written);
      const position = this.writtenSize + written;
      written += inline ? writevSync(file.fd, rest, position) : (await file.writev(rest, position)).bytesWritten;
    }
    this.writtenSize += written;
  }

  /** The active log file opened with O_DSYNC, opened on first use and closed with the segment's other files. */
  private durableLog(): Promise<FileHandle> | FileHandle {
    if (this.durableHandle) return this.durableHandle;
    this.openingDurable ??= open(this.logFile.path, constants.O_WRONLY | constants.O_DSYNC).then(
      (handle) => {
        this.openingDurable = null;
        this.durableHandle = handle;
        return handle;
      },
      (e: unknown) => {
        this.openingDurable = null;
        throw e;
      },
    );
    return this.openingDurable;
  }

  /** Closes the O_DSYNC handle of `durable` writes, if one was opened. */
  private async closeDurableLog(): Promise<void> {
    const handle = this.durableHandle ?? (this.openingDurable ? await this.openingDurable.catch(() => null) : null);
    this.durableHandle = null;
    await handle?.close();
  }

  /** Makes written log bytes durable (fdatasync). Indexes are rebuilt by recovery, so they are not synced. */
  async sync(): Promise<void> {
    await this.log.datasync();
  }

  /**
   * An fdatasync that appends do not wait for (PartitionLog's WRITEBACK_BYTES): the file is pinned open
   * meanwhile, so that closing the segment (a roll that makes it inactive, retention, the broker's shutdown)
   * waits for it. A segment already closed has nothing left to write back.
   */
  async writeBack(): Promise<void> {
    if (this.logFile.isClosed) return;
    const opening = this.logFile.pin();
    try {
      if (opening) await opening;
    } catch {
      return; // closed meanwhile (pin unpins on a failed open)
    }
    try {
      await this.logFile.handle.datasync();
    } finally {
      this.logFile.unpin();
    }
  }

  /**
   * How long this segment has been open, compared with segment.ms to roll. As in Kafka, measured by record
   * time (the incoming batch's timestamp minus the first batch's) when the segment has a timestamped batch,
   * else by wall-clock time since the segment was created.
   */
  msSinceRollingBase(nowMs: number, incomingMaxTimestamp: number): number {
    if (this.hasTimestampedBatch) return incomingMaxTimestamp - this.rollingBaseTimestamp;
    return Math.max(nowMs - this.rollingBaseTimestamp, 0);
  }

  /**
   * Reads whole batches starting with the batch that holds `offset`, up to `maxBytes` (but at least one
   * whole batch when `minOneBatch`), none starting at or past `endOffset` (the high watermark: bytes written
   * to the file may not be acknowledged yet). Null when no such batch is in the written part of the segment.
   */
  async read(
    offset: number,
    maxBytes: number,
    minOneBatch: boolean,
    endOffset = Number.POSITIVE_INFINITY,
  ): Promise<Buffer | null> {
    // One read from the index's floor entry covers the batches to skip (at most about an index interval)
    // and the answer; the batch search then runs in memory. Only when the skip or a batch larger than the
    // answer's room does not fit is the range read again, from the batch found.
    const [, floor] = this.offsetIndex.lookup(offset);
    const room = Math.max(maxBytes, 0);
    const window = await this.readAt(floor, Math.min(this.writtenSize - floor, room + SEARCH_WINDOW_BYTES));
    // The window goes back to its pool once, whatever the path: after an await another read may have taken the
    // same memory from the pool, and a second release would hand it out again while that read still holds it.
    let windowHeld = true;
    const releaseWindow = () => {
      if (windowHeld) readBuffers.release(window);
      windowHeld = false;
    };
    let start: BatchPosition | null = null;
    let at = 0;
    let previousLastOffset = this.baseOffset - 1;
    while (at + BATCH_HEADER_BYTES <= window.length) {
      // A damaged batch at or before the one asked for: nothing of this read can be returned.
      const invalid = this.headerProblem(window, at, floor + at, previousLastOffset);
      if (invalid) {
        releaseWindow();
        throw new CorruptBatchError(this.logFile.path, this.baseOffset, floor + at, offset, invalid);
      }
      const size = batchSize(window, at);
      const baseOffset = readInt64AsNumber(window, at + BATCH_OFFSET_OFFSET);
      const lastOffset = baseOffset + window.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      if (lastOffset >= offset) {
        start = { position: floor + at, size, baseOffset, lastOffset, maxTimestamp: -1 };
        break;
      }
      previousLastOffset = lastOffset;
      at += size;
    }
    if (!start) {
      // The batches to skip run past the window (or the segment holds nothing at or after `offset`).
      releaseWindow();
      if (at + BATCH_HEADER_BYTES <= this.writtenSize - floor) start = await this.findBatch(offset);
      if (!start) return null;
      at = -1;
    }
    const limit = Math.min(this.writtenSize - start.position, Math.max(room, minOneBatch ? start.size : 0));
    if (start.baseOffset >= endOffset || limit < start.size) {
      releaseWindow();
      return null;
    }
    let data: Buffer;
    if (at >= 0 && at + limit <= window.length) data = window.subarray(at, at + limit);
    else {
      releaseWindow();
      data = await this.readAt(start.position, limit);
    }
    // Keep whole batches only, and only those below the end offset; a damaged batch ends the answer before it
    // (the read that starts there gets the error).
    let end = 0;
    let lastOffset = start.baseOffset - 1;
    while (end + BATCH_HEADER_BYTES <= data.length) {
      const size = batchSize(data, end);
      if (end > 0 && this.headerProblem(data, end, start.position + end, lastOffset)) break;
      if (end + size > data.length || readInt64AsNumber(data, end + BATCH_OFFSET_OFFSET) >= endOffset) break;
      lastOffset =
        readInt64AsNumber(data, end + BATCH_OFFSET_OFFSET) + data.readInt32BE(end + LAST_OFFSET_DELTA_OFFSET);
      end += size;
    }
    return data.subarray(0, end);
  }

  /**
   * Why the batch header at `at` in `buf` (read from file position `position`) cannot be right, or null: the
   * checks Kafka's readers make on every batch (size, magic), and offsets that grow within the segment. All of
   * them read the header only. The CRC is not checked here: that would mean a pass over every byte served on
   * the hot path, where consumers check it themselves (check.crcs) and recovery checks it after a crash.
   */
  private headerProblem(
    buf: Buffer,
    at: number,
    position: number,
    previousLastOffset: number,
  ): CorruptionReason | null {
    const size = batchSize(buf, at);
    if (size < BATCH_HEADER_BYTES || position + size > this.writtenSize) return 'bad batch size';
    if (buf[at + MAGIC_OFFSET] !== CURRENT_MAGIC) return 'bad magic';
    const baseOffset = readInt64AsNumber(buf, at + BATCH_OFFSET_OFFSET);
    const lastOffset = baseOffset + buf.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    if (baseOffset <= previousLastOffset || lastOffset < baseOffset) return 'offsets not increasing';
    if (lastOffset >= this.nextOffset) return 'offset beyond the segment';
    return null;
  }

  /**
   * The first batch whose last offset is >= `offset`, searched from the offset index's floor entry. Throws
   * CorruptBatchError when a damaged batch comes first.
   */
  async findBatch(offset: number): Promise<BatchPosition | null> {
    const [, startPosition] = this.offsetIndex.lookup(offset);
    let found: BatchPosition | null = null;
    const { validBytes, invalid } = await this.scan(
      startPosition,
      false,
      (b) => {
        if (b.lastOffset >= offset) {
          found = b;
          return false;
        }
        return true;
      },
      this.writtenSize,
      SEARCH_WINDOW_BYTES,
    );
    if (!found && invalid) {
      throw new CorruptBatchError(this.logFile.path, this.baseOffset, startPosition + validBytes, offset, invalid);
    }
    return found;
  }

  /**
   * The first batch whose max timestamp is >= `timestamp` and that holds offsets at or after `startingOffset`
   * (ListOffsets by time), or null.
   */
  async findBatchByTimestamp(timestamp: number, startingOffset = this.baseOffset): Promise<BatchPosition | null> {
    if (timestamp > this.maxTimestamp) return null;
    const [, fromOffset] = this.timeIndex.lookup(timestamp);
    const [, startPosition] = this.offsetIndex.lookup(Math.max(fromOffset, startingOffset));
    let found: BatchPosition | null = null;
    await this.scan(startPosition, false, (b) => {
      if (b.maxTimestamp >= timestamp && b.lastOffset >= startingOffset) {
        found = b;
        return false;
      }
      return true;
    });
    return found;
  }

  /**
   * The segment no longer takes appends (the log rolled past it): its index files are closed, their entries
   * staying in memory, and its `.log` is from now on opened for reads on demand and closed when idle.
   */
  async markInactive(): Promise<void> {
    await this.writePending();
    const indexes = [this.indexHandle, this.timeIndexHandle];
    this.indexHandle = null;
    this.timeIndexHandle = null;
    this.logFile.makeEvictable(inactiveSegmentLogs);
    await Promise.all([closeAll(indexes), this.closeDurableLog()]);
  }

  async close(): Promise<void> {
    try {
      await this.writePending();
    } finally {
      await this.closeFiles();
    }
  }

  /** Closes every file of the segment (a read in flight finishes first), even when closing one fails. */
  private async closeFiles(): Promise<void> {
    const indexes = [this.indexHandle, this.timeIndexHandle];
    this.indexHandle = null;
    this.timeIndexHandle = null;
    const [log, rest, durable] = await Promise.allSettled([
      this.logFile.close(),
      closeAll(indexes),
      this.closeDurableLog(),
    ]);
    if (log.status === 'rejected') throw log.reason;
    if (rest.status === 'rejected') throw rest.reason;
    if (durable.status === 'rejected') throw durable.reason;
  }

  /** Closes the files and deletes them; renamed first with Kafka's `.deleted` suffix so a crash leaves no half state. */
  async delete(): Promise<void> {
    await this.closeFiles();
    await this.renameToDeleted();
    await this.removeDeletedFiles();
  }

  /**
   * Renames the files with the `.deleted` suffix but keeps them open: reads in flight (and those that still
   * hold this segment) go on from the open handles while a cleaned segment takes the base names.
   */
  async renameToDeleted(): Promise<void> {
    // Pinned open meanwhile, so that no read opens the `.log` by its old name, which a cleaned segment takes next.
    let pinned = false;
    if (!this.logFile.isClosed) {
      try {
        await this.logFile.pin();
        pinned = true;
      } catch {
        // Already gone (renamed or removed): the renames below tolerate that too.
      }
    }
    try {
      for (const suffix of SEGMENT_SUFFIXES) {
        const path = join(this.dir, segmentFileName(this.baseOffset, suffix));
        try {
          await rename(path, `${path}.deleted`);
          if (suffix === '.log') this.logFile.path = `${path}.deleted`;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    } finally {
      if (pinned) this.logFile.unpin();
    }
  }

  /** Closes a segment renamed by `renameToDeleted` and removes its files (Kafka's file.delete.delay.ms later). */
  async closeAndRemoveDeleted(): Promise<void> {
    await this.closeFiles();
    await this.removeDeletedFiles();
  }

  private async removeDeletedFiles(): Promise<void> {
    for (const suffix of SEGMENT_SUFFIXES) {
      await rm(`${join(this.dir, segmentFileName(this.baseOffset, suffix))}.deleted`, { force: true });
    }
  }

  /**
   * Adds index entries once more than log.index.interval.bytes were appended since the last ones. As in Kafka,
   * the time index entry holds the segment's largest timestamp so far and the offset where it was reached.
   */
  private indexBatch(position: number, size: number, baseOffset: number): void {
    if (this.bytesSinceLastIndexEntry > this.config.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += size;
  }

  /** Tracks the end and the largest timestamp while batches are read back (Kafka takes the batch's last offset). */
  private noteBatch(b: BatchPosition): void {
    if (b.position === 0 && b.maxTimestamp >= 0) {
      this.rollingBaseTimestamp = b.maxTimestamp;
      this.hasTimestampedBatch = true;
    }
    this.nextOffset = b.lastOffset + 1;
    if (b.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = b.maxTimestamp;
      this.offsetOfMaxTimestamp = b.lastOffset;
    }
  }

  private async readAt(position: number, length: number): Promise<Buffer> {
    // Pinned for the read: an inactive segment's file is opened again if it was closed, and not closed meanwhile.
    const opening = this.logFile.pin();
    if (opening) await opening;
    const buf = readBuffers.acquire(length);
    let got = 0;
    try {
      while (got < length) {
        const { bytesRead } = await this.log.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } finally {
      this.logFile.unpin();
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  /**
   * Walks the batches from `position`, calling `visit` for each valid one until it returns false. Checks sizes,
   * magic, and that offsets grow (from `minOffset`) and stay within the segment; with `verify`, also the CRC.
   * Says which check failed first. Returns the bytes of valid batches seen.
   */
  private async scan(
    position: number,
    verify: boolean,
    visit: (b: BatchPosition) => unknown,
    end = this.writtenSize,
    firstChunkBytes = SCAN_CHUNK_BYTES,
    checks: { minOffset?: number; onScanned?: (bytes: number) => void } = {},
  ): Promise<{ validBytes: number; invalid: CorruptionReason | null }> {
    let at = position;
    let chunkBytes = firstChunkBytes;
    let lastOffset = (checks.minOffset ?? this.baseOffset) - 1;
    const stop = (validEnd: number, invalid: CorruptionReason | null) => ({ validBytes: validEnd - position, invalid });
    while (at + BATCH_HEADER_BYTES <= end) {
      const chunk = await this.readAt(at, Math.min(chunkBytes, end - at));
      // The chunk goes back to the read pool once walked: nothing keeps a slice of it.
      try {
        chunkBytes = SCAN_CHUNK_BYTES;
        let p = 0;
        while (p + BATCH_HEADER_BYTES <= chunk.length) {
          const size = batchSize(chunk, p);
          if (size < BATCH_HEADER_BYTES) return stop(at + p, 'bad batch size');
          if (at + p + size > end) return stop(at + p, 'torn tail');
          if (p + size > chunk.length) {
            if (p === 0) chunkBytes = size; // a batch larger than the chunk: read it whole next time
            break;
          }
          const baseOffset = readInt64AsNumber(chunk, p + BATCH_OFFSET_OFFSET);
          const batch: BatchPosition = {
            position: at + p,
            size,
            baseOffset,
            lastOffset: baseOffset + chunk.readInt32BE(p + LAST_OFFSET_DELTA_OFFSET),
            maxTimestamp: readInt64AsNumber(chunk, p + MAX_TIMESTAMP_OFFSET),
          };
          // The header checks are cheap and always made; the CRC (a pass over the whole batch) only with `verify`.
          const invalid =
            chunk[p + MAGIC_OFFSET] !== CURRENT_MAGIC
              ? 'bad magic'
              : verify && crc32c(chunk, p + ATTRIBUTES_OFFSET, p + size) !== chunk.readUInt32BE(p + CRC_OFFSET)
                ? 'bad CRC'
                : baseOffset <= lastOffset || batch.lastOffset < baseOffset
                  ? 'offsets not increasing'
                  : batch.lastOffset - this.baseOffset > MAX_RELATIVE_OFFSET
                    ? 'offset beyond the segment'
                    : null;
          if (invalid) return stop(at + p, invalid);
          lastOffset = batch.lastOffset;
          if (visit(batch) === false) return stop(at + p + size, null);
          p += size;
        }
        // A short read (the file shrank under us) must not loop forever.
        if (p === 0 && chunk.length < BATCH_HEADER_BYTES) break;
        at += p;
        checks.onScanned?.(p);
      } finally {
        readBuffers.release(chunk);
      }
    }
    // Fewer bytes than a batch header left: the start of a batch whose write did not finish.
    return stop(at, at < end ? 'torn tail' : null);
  }
}

/** The buffers of `buffers` after skipping `skip` bytes. */
function sliceBuffers(buffers: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let left = skip;
  for (const b of buffers) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}

/** Base offsets of the segments in a partition directory, sorted. */
export async function listSegmentBaseOffsets(dir: string, names: string[]): Promise<number[]> {
  const offsets: number[] = [];
  for (const name of names) {
    const m = /^(\d{20})\.log$/.exec(name);
    if (m) {
      const s = await stat(join(dir, name));
      if (s.isFile()) offsets.push(Number(m[1]));
    }
  }
  return offsets.sort((a, b) => a - b);
}
