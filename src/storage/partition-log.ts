import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCode } from '../protocol/errors.js';
import { DecodeError } from '../protocol/primitives/index.js';
import { readInt64AsNumber, writeInt64FromNumber } from '../protocol/primitives/int64.js';
import {
  ATTRIBUTES_OFFSET,
  RECORD_BATCH_OVERHEAD as BATCH_HEADER_BYTES,
  batchSize,
  CONTROL_FLAG_MASK,
  LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  TRANSACTIONAL_FLAG_MASK,
} from '../protocol/records/batch-header.js';
import { CompressionError, type CompressionType } from '../protocol/records/compression/index.js';
import { buildTransactionMarkerBatch, ControlType, readTransactionMarker } from '../protocol/records/control-record.js';
import { RecordBatch } from '../protocol/records/record-batch.js';
import { type EpochEndOffset, LeaderEpochCache } from './leader-epoch-cache.js';
import { type RecoveryProgress, type StorageLogger, silentStorageLogger } from './log-recovery.js';
import {
  CorruptBatchError,
  type CorruptionReason,
  LogSegment,
  listSegmentBaseOffsets,
  segmentFileName,
} from './log-segment.js';
import { type ValidationOptions, validateProducedBatches } from './log-validator.js';
import { ProducerStateError, ProducerStateManager, producerBatchAt } from './producer-state.js';
import { recompressBatches } from './recompress.js';
import { TailCache, type TailCacheBudget } from './tail-cache.js';
import { searchSegmentForTimestamp, type TimestampAndOffset } from './timestamp-search.js';
import { type AbortedTxn, TransactionIndex, transactionIndexFileName } from './transaction-index.js';

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
  /** cleanup.policy includes `compact`: the log cleaner keeps the last record of each key. */
  compact?: boolean;
  /** delete.retention.ms: how long the cleaner keeps a tombstone after it first cleaned it. */
  deleteRetentionMs?: number;
  /** min.cleanable.dirty.ratio: the share of uncleaned bytes that makes the log worth cleaning. */
  minCleanableDirtyRatio?: number;
  /** min.compaction.lag.ms: records newer than this are not cleaned. */
  minCompactionLagMs?: number;
  /** file.delete.delay.ms: how long the files a cleaned segment replaced stay open for reads in flight. */
  fileDeleteDelayMs?: number;
}

/** Kafka's file.delete.delay.ms default. */
export const DEFAULT_FILE_DELETE_DELAY_MS = 60_000;
/** Suffixes of Kafka's segment swap: the cleaner writes `.cleaned`, renames it `.swap`, then to `.log`. */
export const CLEANED_FILE_SUFFIX = '.cleaned';
const SWAP_FILE_SUFFIX = '.swap';

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Largest timestamp among the appended batches. */
  maxTimestamp: number;
  /** The log start offset after the append, reported back to producers. */
  logStartOffset: number;
  /** The time LogAppendTime batches were stamped with, else -1. */
  logAppendTimeMs?: number;
  /** The batch was a producer's retry of one already in the log: nothing was written, these are its offsets. */
  duplicate?: boolean;
  /** Records in the appended batches (as the append was asked: a duplicate's too). */
  recordCount?: number;
}

/**
 * Who appends (Kafka's AppendOrigin), which decides what the log checks first: a client's batches are
 * validated (and re-compressed to the topic's codec); a coordinator's are built by the broker and only their
 * producer epoch is checked; replication's (a follower copying its leader's batches, `appendAsFollower`) keep the
 * leader's offsets and epochs and are not checked at all: the leader did that.
 */
export type AppendOrigin = 'client' | 'coordinator' | 'replication';

/** What a client's append is checked against: the topic's validation settings and codec. */
export interface ClientAppendOptions extends ValidationOptions {
  /** The topic's compression.type codec, or null to store batches as sent. */
  codec: CompressionType | null;
}

/** A leader's append (Kafka's appendAsLeader). */
export interface LeaderAppendOptions {
  origin: AppendOrigin;
  /** Wait for the data to be on disk (fdatasync) before resolving: acks=all under the durable policy. */
  sync: boolean;
  /** For a client's append: the topic's checks. */
  validation?: ClientAppendOptions;
  nowMs?: number;
  /**
   * For a client's transactional batch, Kafka's verification (KIP-890): asked, once the batch is known to be whole,
   * whether its producer may write to this partition.
   */
  transactions?: TransactionVerifier;
  /** The produce request's transactional id. */
  transactionalId?: string | null;
  /**
   * After a wait for a verification: whether this broker still leads the partition at the epoch the produce was
   * taken under. Without it a batch verified while the leadership moved would be appended to a follower's log.
   */
  stillLeader?: () => boolean;
}

/** A transactional write's check: NONE, or the produce error and its message. */
export interface TransactionWriteCheck {
  errorCode: number;
  message: string | null;
}

/** Whether a transactional producer may write to a partition (the transaction coordinator answers). */
export interface TransactionVerifier {
  /**
   * At once when the coordinator is this broker, or a promise when another broker must be asked; `openHere`: the
   * producer's transaction at this epoch is already open in the partition.
   */
  checkTransactionalWrite(
    transactionalId: string | null,
    producerId: bigint,
    producerEpoch: number,
    topic: string,
    partition: number,
    openHere: boolean,
  ): TransactionWriteCheck | Promise<TransactionWriteCheck>;
}

/** A batch verified while the leadership moved: the producer looks up the leader again. */
function notLeader(): Promise<never> {
  return Promise.reject(new AppendValidationError(ErrorCode.NOT_LEADER_OR_FOLLOWER, null));
}

/** A client's batches refused before they reached the log, with the error code the producer gets. */
export class AppendValidationError extends Error {
  override readonly name = 'AppendValidationError';
  constructor(
    readonly errorCode: number,
    /** The error message for the producer, if any. */
    readonly detail: string | null,
  ) {
    super(detail ?? `append refused with error ${errorCode}`);
  }
}

/** Kafka's producer.id.expiration.ms default: a producer idle this long is forgotten by the partition. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;
/** How much of the log is read at a time when the producer state is rebuilt from it. */
const REPLAY_CHUNK_BYTES = 1024 * 1024;

/**
 * Bytes a partition writes without an fdatasync before it starts writing them back itself: an fdatasync of the
 * active segment on the thread pool that no append waits for. Left to the kernel, a bulk producer's acks=1 data
 * piles up in the page cache until the segment rolls (or the kernel's own write-back starts, at 10% of RAM): the
 * roll's fdatasync then writes a gigabyte at once, and every other partition's fdatasync waits behind it (ext4
 * commits its journal for both). Measured beside a bulk producer of 290 MB/s, acks=all at 5,000 records/s: p99
 * 394-501 ms without, 52-260 ms with this (1 KiB records, docs/PERFORMANCE.md); the bulk producer itself was as
 * fast or faster, the kernel no longer throttling it for dirty pages. Kafka leaves this to the kernel.
 */
export const WRITEBACK_BYTES = 4 * 1024 * 1024;

/**
 * Write-backs in flight in this process at most, whatever the number of partitions: each holds one of libuv's
 * four thread-pool threads for its fdatasync, and appends and reads need the others. A partition past
 * WRITEBACK_BYTES while the limit is reached starts its write-back at a later round.
 */
const MAX_WRITEBACKS_IN_FLIGHT = 2;
let writeBacksInFlight = 0;

export interface AppendOptions {
  /** Wait for the data to be on disk (fdatasync) before resolving: acks=all under the durable policy. */
  sync: boolean;
  /** Number of records in `records`, to drive flush.messages. */
  recordCount: number;
  /**
   * A coordinator's own write with a producer id (transactional offset commits): only the producer epoch is
   * checked, as Kafka does for coordinator appends; such batches carry no sequence numbers.
   */
  fromCoordinator?: boolean;
  /** The time a client's LogAppendTime batches were stamped with (-1 for CreateTime), told back to the producer. */
  logAppendTimeMs?: number;
  /** A follower's copy of its leader's batches: offsets and epochs kept (`appendAsFollower`). */
  asFollower?: boolean;
}

/**
 * The steps of a truncation, in the order they reach the disk. A crash after any of them leaves files that load
 * as one consistent log: the log files are cut first (later segments removed newest first, so what remains never
 * has a hole), and everything else is checked against the log end offset when the log is loaded.
 */
export type TruncationStep =
  | 'segments-deleted'
  | 'segment-truncated'
  | 'indexes-rebuilt'
  | 'leader-epochs'
  | 'producer-state';

export interface TruncateOptions {
  /** Called after each step reached the disk (a test stops the truncation there, as a crash would). */
  afterStep?: (step: TruncationStep) => void | Promise<void>;
}

/** A COMMIT or ABORT marker from a transaction coordinator. */
export interface TransactionMarkerAppend {
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  aborted: boolean;
}

interface QueuedAppend {
  records: Buffer;
  options: AppendOptions;
  /** Set when `records` is a coordinator's marker batch rather than a client's data. */
  marker?: TransactionMarkerAppend;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Suffix of a directory holding segments that recovery moved out of a partition because a cut before them would
 * have left a hole: kept, never loaded, never deleted by the broker.
 */
export const TRUNCATED_DIR_SUFFIX = '-truncated';
/** Longest file name most file systems take; renamed directories are capped to it as Kafka caps them. */
const MAX_DIR_NAME_LENGTH = 255;

/**
 * Kafka's name for a partition directory renamed aside: `<topic>-<partition>.<uuid><suffix>`, the topic cut
 * short where the whole name would not fit in a file name.
 */
export function renamedDirName(topic: string, partition: number, suffix: string): string {
  const tail = `-${partition}.${randomUUID().replaceAll('-', '')}${suffix}`;
  return `${topic.slice(0, MAX_DIR_NAME_LENGTH - tail.length)}${tail}`;
}

/** Segments recovery moved aside: where to, and the bytes of their logs. */
interface MovedSegments {
  path: string;
  bytes: number;
}

/** Where recovery cut a log at start-up: what a coordinator loading it must tell the operator. */
export interface RecoveryTruncation {
  /** The first offset dropped: the log end after recovery. */
  offset: number;
  /** Bytes dropped: the rest of the segment cut and the segments after it. */
  bytes: number;
  reason: CorruptionReason;
}

export interface LogReadResult {
  /** Whole batches, starting with the batch that holds the requested offset. */
  records: Buffer;
  highWatermark: number;
  logStartOffset: number;
  /** Under read_committed: the aborted transactions whose records the read may hold. */
  abortedTransactions?: AbortedTxn[];
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
  /** Per producer, a transactional batch waiting for its verification; settles once it is appended or refused. */
  private readonly verifying = new Map<bigint, Promise<void>>();
  /** Per producer, the guard of the verification under way; a marker queued for the producer drops it. */
  private readonly verificationGuards = new Map<bigint, object>();
  /** The append loop while it runs. */
  private appending: Promise<void> | null = null;
  private closed = false;
  /** Set when a write failed: the log then refuses appends (Kafka takes the log dir offline). */
  private failure: unknown = null;
  /** Offset the next appended batch gets. */
  private nextOffset = 0;
  /** Offset after the last batch written to the file: the log end offset. */
  private writtenEndOffset = 0;
  /**
   * Offset below which records are committed: consumers read up to here, and acks=all is answered once it passes
   * the append. Kafka's high watermark is the lowest log end offset of the in-sync replicas; with this broker the
   * only replica, it follows the log end offset once a round is written (and synced when the round asked for it).
   * Never above the log end offset.
   */
  private committedOffset = 0;
  /**
   * Whether the high watermark follows the log end offset by itself (one replica). False for a partition with
   * other replicas: its leader moves it to the in-sync replicas' lowest log end offset, a follower to its
   * leader's (`updateHighWatermark`).
   */
  private highWatermarkFollowsLogEnd = true;
  private unflushedMessages = 0;
  /** Bytes written since the last fdatasync of the active segment (see WRITEBACK_BYTES). */
  private bytesSinceSync = 0;
  /**
   * Whether the active segment may hold written bytes not known to be on disk. While it does not, a round that
   * must be durable is written with O_DSYNC instead of a write and an fdatasync. Set at open and after a
   * truncation, which this log does not track byte for byte.
   */
  private unsyncedWrites = true;
  /** The write-back in flight, if any: at most one per partition. */
  private writingBack: Promise<void> | null = null;
  /** Write-backs started since the log was opened (see WRITEBACK_BYTES). */
  writeBacks = 0;
  private appendListeners = new Set<() => void>();
  /** Recent batches in memory for consumers at the end of the log; null when the broker keeps none. */
  private tail: TailCache | null = null;
  /** The idempotent producers writing to this partition: sequence checks and retried-batch detection. */
  readonly producerState: ProducerStateManager;
  /** Aborted transactions, for read_committed fetches. */
  private readonly abortedTxns: TransactionIndex;
  /** The leader epochs of the log and where each starts (the leader-epoch-checkpoint file). */
  private readonly epochs: LeaderEpochCache;
  /**
   * The partition leader epoch this broker leads under: stamped into every batch it appends. Set by the replica
   * manager from the partition's metadata; at open, the latest epoch in the log (or 0).
   */
  private currentLeaderEpoch = 0;
  /** The epoch list changed in this append round: its file is written before the round is answered. */
  private epochsChanged = false;
  /** A truncation is under way: appends wait in the queue until it is done. */
  private truncating = false;
  /** producer.id.expiration.ms, for the producer state reloaded after a truncation. */
  private producerIdExpirationMs = DEFAULT_PRODUCER_ID_EXPIRATION_MS;
  /**
   * The log cleaner's progress: offsets below it were cleaned (kept in Kafka's cleaner-offset-checkpoint by the
   * log manager).
   */
  firstDirtyOffset = 0;
  /**
   * The earliest delete horizon of the tombstones the cleaner kept: the log is cleaned again once it passes. As
   * in Kafka, in memory only: after a restart such tombstones go at the next pass the dirty ratio starts.
   */
  earliestDeleteHorizonMs = Number.POSITIVE_INFINITY;
  /** Segment swaps and retention change the segment list one at a time. */
  private segmentChanges: Promise<unknown> = Promise.resolve();
  /** Segments a cleaned copy replaced, kept open for reads in flight until file.delete.delay.ms passes. */
  private readonly retiredSegments = new Map<LogSegment, NodeJS.Timeout>();
  /** Set when recovery at start-up truncated this log (a corrupt or torn batch). */
  recoveryTruncation: RecoveryTruncation | null = null;
  /** Damaged batches reads met and logged (segment base offset and position), so that each is logged once. */
  private readonly reportedCorruptBatches = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly topic: string,
    readonly partition: number,
    public config: LogConfig,
    public logStartOffset: number,
    /** Offset below which the log is known to be on disk. */
    public recoveryPoint: number,
    private readonly now: () => number,
    private readonly logger: StorageLogger,
  ) {
    this.producerState = new ProducerStateManager(dir);
    this.abortedTxns = new TransactionIndex(dir);
    this.epochs = new LeaderEpochCache(dir);
  }

  /**
   * Opens (or creates) the log in `dir`. Segments from the one holding `recoveryPoint` on are recovered
   * (checked batch by batch) unless the broker shut down cleanly; the segments below it are checked cheaply (the
   * batches after their last index entry, and that each ends where the next starts), and recovered when that
   * fails. As in Kafka's LogLoader, the first invalid batch ends what is served, so the log stays a consistent
   * prefix of what was written with no hole: its segment is truncated there, and when the next segment does not
   * start right after the cut, every later segment is moved aside (never deleted) into a sibling directory
   * `<topic>-<partition>.<uuid>-truncated`. Every recovery is logged, every loss at WARN, a move aside at ERROR.
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
    /** producer.id.expiration.ms: producers idle longer are not reloaded. */
    producerIdExpirationMs?: number;
    /** Where recovery, truncation and a partition going offline are told (nowhere when absent). */
    logger?: StorageLogger;
    /** The recovery of the whole log dir, counting bytes and partitions for its progress reports. */
    recovery?: RecoveryProgress;
  }): Promise<PartitionLog> {
    const now = params.now ?? Date.now;
    const logger = params.logger ?? silentStorageLogger;
    await mkdir(params.dir, { recursive: true });
    const log = new PartitionLog(
      params.dir,
      params.topic,
      params.partition,
      params.config,
      params.logStartOffset ?? 0,
      params.recoveryPoint ?? 0,
      now,
      logger,
    );
    try {
      await PartitionLog.load(log, params);
    } catch (e) {
      // A log that cannot be opened keeps none of its files open.
      await Promise.allSettled(log.segments.map((s) => s.close()));
      throw e;
    }
    return log;
  }

  private static async load(log: PartitionLog, params: Parameters<typeof PartitionLog.open>[0]): Promise<void> {
    const now = log.now;
    const logger = log.logger;
    const startedMs = Date.now();
    const swapped = await completeInterruptedSwaps(params.dir);
    const names = await readdir(params.dir);
    // Leftovers of an interrupted segment deletion.
    for (const name of names) if (name.endsWith('.deleted')) await rm(join(params.dir, name), { force: true });
    const baseOffsets = await listSegmentBaseOffsets(params.dir, names);
    const segmentConfig = { indexIntervalBytes: params.config.indexIntervalBytes };
    let recoveredSegments = 0;
    let bytesScanned = 0;
    const causes = new Set<string>();
    for (let i = 0; i < baseOffsets.length; i++) {
      const baseOffset = baseOffsets[i]!;
      const later = baseOffsets.slice(i + 1);
      const nextBase = later[0];
      const recover =
        (!params.cleanShutdown && (nextBase ?? Number.MAX_SAFE_INTEGER) > log.recoveryPoint) || swapped.has(baseOffset);
      const previous = log.segments.at(-1);
      // Offsets before `end` are served: whether a log ending there and going on at the next segment has a hole.
      const leavesHole = (end: number) =>
        nextBase !== undefined && end !== nextBase && (end > baseOffset || log.segments.some((s) => s.size > 0));
      let moved: MovedSegments | null = null;
      const segment = await LogSegment.load(params.dir, baseOffset, segmentConfig, recover, {
        cause: swapped.has(baseOffset) ? 'interrupted segment swap' : 'unclean shutdown',
        minOffset: Math.max(baseOffset, previous?.nextOffset ?? baseOffset),
        nextSegmentBaseOffset: nextBase,
        offsetGapsAllowed: params.config.compact === true,
        beforeTruncate: async (cutOffset) => {
          if (leavesHole(cutOffset)) moved = await log.moveSegmentsAside(later, cutOffset);
        },
        onScanned: (bytes) => params.recovery?.scanned(bytes),
      });
      log.segments.push(segment);
      const recovery = segment.recovery;
      if (recovery) {
        recoveredSegments++;
        bytesScanned += recovery.bytesScanned;
        causes.add(recovery.cause);
      }
      // Offsets missing before the next segment with nothing cut: a file cut at a batch boundary. Not in a
      // compacted log, whose cleaner removes whole batches.
      const gap =
        !recovery?.reason && params.config.compact !== true && nextBase !== undefined && segment.nextOffset < nextBase;
      if (gap && leavesHole(segment.nextOffset)) moved = await log.moveSegmentsAside(later, segment.nextOffset);
      const reason = recovery?.reason ?? (moved ? 'offsets missing before the next segment' : null);
      if (!reason) continue;
      const cut: MovedSegments | null = moved;
      log.recoveryTruncation = {
        offset: segment.nextOffset,
        bytes: (recovery?.truncatedBytes ?? 0) + (cut?.bytes ?? 0),
        reason,
      };
      const fields = {
        topic: log.topic,
        partition: log.partition,
        offset: segment.nextOffset,
        segment: baseOffset,
        file: join(params.dir, segmentFileName(baseOffset, '.log')),
        position: segment.size,
        bytesDropped: recovery?.truncatedBytes ?? 0,
        reason,
        cause: recovery?.cause ?? null,
      };
      if (!cut) {
        // The next segment starts right after the cut (or nothing is served before it): no offset is missing
        // between what is kept, so the later segments stay and are served.
        logger.warn('log truncated by recovery: the damaged part of the segment is lost, later segments kept', {
          ...fields,
          nextSegment: nextBase ?? null,
        });
        continue;
      }
      logger.error(
        'log truncated by recovery: later segments moved aside, not served, as offsets between would be missing',
        {
          ...fields,
          missingFrom: segment.nextOffset,
          missingTo: nextBase! - 1,
          segmentsMoved: later.length,
          bytesMoved: cut.bytes,
          movedTo: cut.path,
        },
      );
      break;
    }
    // A segment emptied by a torn tail is fine; an empty directory gets its first segment.
    if (log.segments.length === 0) {
      log.segments.push(await LogSegment.create(params.dir, log.logStartOffset, segmentConfig, now()));
    }
    // Only the active segment keeps its files open; the others' are opened on demand (see open-files.ts).
    for (const segment of log.segments.slice(0, -1)) await segment.markInactive();
    log.nextOffset = log.activeSegment.nextOffset;
    log.writtenEndOffset = log.nextOffset;
    // Kafka reads the high watermark back from replication-offset-checkpoint; a sole replica raises it to its log
    // end offset at once, as nothing else has to catch up.
    log.committedOffset = log.writtenEndOffset;
    const firstBase = log.segments[0]!.baseOffset;
    if (log.logStartOffset > log.nextOffset) {
      // Kafka deletes every segment here (it expects the data from another replica). A single broker has no
      // other copy: a start beyond the end comes from a damaged or foreign checkpoint, or from recovery cutting
      // the log below a start that DeleteRecords moved; either way the records are kept and shown.
      logger.warn('log start offset beyond the log end: starting from the first segment instead', {
        topic: log.topic,
        partition: log.partition,
        logStartOffset: log.logStartOffset,
        logEndOffset: log.nextOffset,
        firstSegment: firstBase,
      });
      log.logStartOffset = firstBase;
    }
    log.logStartOffset = Math.max(log.logStartOffset, firstBase);
    log.recoveryPoint = log.nextOffset;
    const recoveredFrom = log.segments.find((s) => s.recovery)?.baseOffset ?? null;
    await log.loadLeaderEpochs(recoveredFrom);
    log.producerIdExpirationMs = params.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    await log.loadProducerState(params.cleanShutdown, log.producerIdExpirationMs);
    // A missing or damaged transaction index would let read_committed serve aborted records.
    await log.abortedTxns.reconcileWithLog({
      segmentBaseOffsets: log.segments.map((s) => s.baseOffset),
      producers: log.producerState.activeProducers(),
      logger,
      topic: log.topic,
      partition: log.partition,
    });
    if (params.tailCache) log.tail = new TailCache(params.tailCache);
    if (recoveredSegments > 0) {
      logger.info('log recovered', {
        topic: log.topic,
        partition: log.partition,
        segments: recoveredSegments,
        bytesScanned,
        logEndOffset: log.nextOffset,
        ms: Date.now() - startedMs,
        cause: [...causes].join(', '),
      });
    }
    params.recovery?.partitionDone(recoveredSegments > 0);
  }

  /**
   * Moves the segments at `baseOffsets` (those after a cut that would leave a hole), with their indexes,
   * transaction indexes and the producer snapshots past `cutOffset`, into a new sibling directory
   * `<topic>-<partition>.<uuid>-truncated`, which the log manager does not load. Nothing is deleted: an operator
   * can read them (kafka-dump-log) or put them back. Returns where they went and the bytes of their logs.
   */
  private async moveSegmentsAside(baseOffsets: number[], cutOffset: number): Promise<MovedSegments> {
    const aside = join(dirname(this.dir), renamedDirName(this.topic, this.partition, TRUNCATED_DIR_SUFFIX));
    await mkdir(aside);
    let bytes = 0;
    const move = async (name: string) => {
      try {
        await rename(join(this.dir, name), join(aside, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    };
    for (const base of baseOffsets) {
      bytes += (await stat(join(this.dir, segmentFileName(base, '.log')))).size;
      // The log last: a crash in between leaves a segment that the next start moves as well.
      for (const name of [segmentFileName(base, '.index'), segmentFileName(base, '.timeindex')]) await move(name);
      await move(transactionIndexFileName(base));
      await move(segmentFileName(base, '.log'));
    }
    for (const name of await readdir(this.dir)) {
      const m = /^(\d{20})\.snapshot$/.exec(name);
      if (m && Number(m[1]) > cutOffset) await move(name);
    }
    return { path: aside, bytes };
  }

  /**
   * Rebuilds the producer state: the newest snapshot, then the batches written after it. Without any
   * snapshot, a log that was shut down cleanly starts with an empty state (as Kafka does for logs written
   * before snapshots existed, rather than scan them whole); after a crash the whole log is replayed.
   */
  private async loadProducerState(cleanShutdown: boolean, expirationMs: number): Promise<void> {
    const end = this.nextOffset;
    await this.abortedTxns.load(
      this.segments.map((s) => s.baseOffset),
      end,
    );
    let from = await this.producerState.load(end, this.now(), expirationMs);
    if (from === null) {
      if (cleanShutdown) {
        this.producerState.advanceTo(end);
        return;
      }
      from = this.logStartOffset;
    }
    await this.forEachBatch(from, async (records, at, last) => {
      const batch = producerBatchAt(records, at);
      if (!batch) return;
      const control = (records.readInt16BE(at + ATTRIBUTES_OFFSET) & CONTROL_FLAG_MASK) !== 0;
      if (control) {
        const marker = readTransactionMarker(new RecordBatch(records.subarray(at, at + batchSize(records, at))));
        await this.completeTransaction(
          {
            producerId: batch.producerId,
            producerEpoch: batch.producerEpoch,
            coordinatorEpoch: marker.coordinatorEpoch,
            aborted: marker.type === ControlType.Abort,
          },
          last,
          batch.maxTimestamp,
        );
      } else this.producerState.update(batch, last);
    });
    this.producerState.advanceTo(end);
  }

  /**
   * Calls `visit` for each batch of the log from the one holding `from` (at least the log start offset) to the
   * end, in order. Stops before a damaged batch (told at ERROR by the read): what comes before it is the log.
   */
  private async forEachBatch(
    from: number,
    visit: (records: Buffer, at: number, lastOffset: number) => void | Promise<void>,
  ): Promise<void> {
    const end = this.writtenEndOffset;
    for (let offset = Math.max(from, this.logStartOffset); offset < end; ) {
      let chunk: LogReadResult | null;
      try {
        chunk = await this.read(offset, REPLAY_CHUNK_BYTES, true);
      } catch (e) {
        if (e instanceof CorruptBatchError) break;
        throw e;
      }
      if (!chunk) break;
      const records = chunk.records;
      for (let at = 0; at + BATCH_HEADER_BYTES <= records.length; ) {
        const size = batchSize(records, at);
        const base = readInt64AsNumber(records, at);
        const last = base + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
        if (last >= offset) {
          const visited = visit(records, at, last);
          if (visited instanceof Promise) await visited;
          offset = last + 1;
        }
        at += size;
      }
    }
  }

  /**
   * Loads the leader-epoch-checkpoint and checks it against the log, as Kafka's LogLoader does: entries past the
   * log end or before its start are cut, and the epochs of the batches recovery scanned (from `recoveredFrom`)
   * are assigned again. A missing or damaged file is rebuilt from every batch of the log (then once: the
   * rebuilt list is written); it never stops the log from opening.
   */
  private async loadLeaderEpochs(recoveredFrom: number | null): Promise<void> {
    const loaded = await this.epochs.load();
    const before = loaded ? this.epochs.epochEntries() : null;
    const scanFrom = loaded ? recoveredFrom : this.logStartOffset;
    if (scanFrom !== null) {
      this.epochs.truncateFromEnd(scanFrom);
      await this.forEachBatch(scanFrom, (records, at) => {
        this.epochs.assign(records.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET), readInt64AsNumber(records, at));
      });
    }
    this.epochs.truncateFromEnd(this.writtenEndOffset);
    const after = this.epochs.epochEntries();
    // An empty log without a file has nothing to rebuild: its first append writes it (no fsyncs per new partition).
    const repaired =
      before === null
        ? this.writtenEndOffset > this.logStartOffset
        : before.length !== after.length ||
          before.some((e, i) => e.epoch !== after[i]!.epoch || e.startOffset !== after[i]!.startOffset);
    if (repaired) {
      this.logger.info(loaded ? 'leader epoch checkpoint repaired from the log' : 'leader epoch checkpoint rebuilt', {
        topic: this.topic,
        partition: this.partition,
        entries: after.length,
      });
    }
    // A log start offset moved since the file was written (its write is not waited for) is no damage.
    if (this.epochs.truncateFromStart(this.logStartOffset) || repaired) await this.epochs.flush();
    this.currentLeaderEpoch = Math.max(this.epochs.latestEpoch, 0);
  }

  private get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  get logEndOffset(): number {
    return this.writtenEndOffset;
  }

  get highWatermark(): number {
    return this.committedOffset;
  }

  /**
   * Moves the high watermark to `offset` (Kafka's maybeIncrementLeaderHW with the in-sync replicas' log end
   * offsets; here the log's own). It only grows, and never passes the log end offset: either would hand consumers
   * records that are not committed, or take back records they were given.
   */
  private advanceHighWatermark(offset: number): void {
    if (offset < this.committedOffset || offset > this.writtenEndOffset) {
      throw new Error(
        `high watermark of ${this.topic}-${this.partition} cannot move from ${this.committedOffset} to ${offset} (log end offset ${this.writtenEndOffset})`,
      );
    }
    this.committedOffset = offset;
  }

  /**
   * Whether other replicas decide the high watermark (see `highWatermarkFollowsLogEnd`). Turning it off again
   * (back to one replica) lets the high watermark catch up with the log end at once. The first time a log loaded
   * from disk is replicated, its high watermark goes back to the one checkpointed (Kafka's
   * replication-offset-checkpoint): what lies past it was never known to be on the other replicas, and a replica
   * becoming leader must not serve it before they have it.
   */
  setReplicated(replicated: boolean): void {
    this.highWatermarkFollowsLogEnd = !replicated;
    const checkpointed = this.checkpointedHighWatermark;
    this.checkpointedHighWatermark = null;
    if (!replicated) this.updateHighWatermark(this.writtenEndOffset);
    else if (checkpointed !== null && checkpointed < this.committedOffset) {
      this.committedOffset = Math.max(checkpointed, this.logStartOffset);
    }
  }

  /** The high watermark the log's checkpoint held at load, until the log is first replicated (see setReplicated). */
  checkpointedHighWatermark: number | null = null;

  get isReplicated(): boolean {
    return !this.highWatermarkFollowsLogEnd;
  }

  /**
   * Moves the high watermark of a replicated partition forward to `offset` (capped at the log end offset: a
   * follower's leader may be further on); an offset behind it changes nothing. Wakes the waiters of `onAppend`
   * when it moved. Returns whether it moved.
   */
  updateHighWatermark(offset: number): boolean {
    const target = Math.min(offset, this.writtenEndOffset);
    if (target <= this.committedOffset) return false;
    this.advanceHighWatermark(target);
    for (const listener of this.appendListeners) listener();
    return true;
  }

  /** The partition leader epoch appends are stamped with. */
  get leaderEpoch(): number {
    return this.currentLeaderEpoch;
  }

  /**
   * This broker leads the partition under `epoch` (from the partition's metadata): later appends carry it. An
   * epoch never goes back: an older one than the log already holds is a bug in whoever passes it.
   */
  becomeLeader(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch < this.epochs.latestEpoch || epoch < this.currentLeaderEpoch) {
      throw new Error(
        `leader epoch of ${this.topic}-${this.partition} would go back from ${Math.max(this.currentLeaderEpoch, this.epochs.latestEpoch)} to ${epoch}`,
      );
    }
    this.currentLeaderEpoch = epoch;
  }

  /** The leader epochs of the log and their start offsets, oldest first. */
  leaderEpochEntries(): Array<{ epoch: number; startOffset: number }> {
    return this.epochs.epochEntries();
  }

  /** The epoch under which `offset` was written (-1 when the log holds no epoch for it). */
  epochForOffset(offset: number): number {
    return this.epochs.epochForOffset(offset);
  }

  /** OffsetForLeaderEpoch: where `epoch` ended in this log (Kafka's endOffsetForEpoch), from the epoch list. */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /**
   * The last stable offset: read_committed consumers read up to here. Below the first offset of the oldest
   * transaction still open in this partition, else the high watermark.
   */
  get lastStableOffset(): number {
    const firstUnstable = this.producerState.firstUnstableOffset();
    return firstUnstable === null ? this.highWatermark : Math.min(firstUnstable, this.highWatermark);
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

  /**
   * Called (synchronously) after every write that moved the high watermark or, for a replicated partition, the
   * log end offset (what followers wait for); wakes long-polling fetches and waiting acks=all produces.
   */
  onAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /**
   * Appends `records`: whole v2 batches, already validated, whose base offsets are overwritten here.
   * The buffer is patched in place and kept until written; the caller must not reuse it.
   */
  append(records: Buffer, options: AppendOptions): Promise<AppendResult> {
    return this.enqueue({ records, options });
  }

  /**
   * The one way batches enter the log as its leader (Kafka's appendAsLeader): by `origin`, a client's batches are
   * validated (Kafka's LogValidator: sizes, CRC, record counts, timestamps, keys of a compacted topic), checked
   * against their producer's transaction, re-compressed to the topic's codec, then queued; a coordinator's are
   * queued as built. Everything before the queue runs synchronously, so that a client's pipelined requests reach
   * the log in order. Rejects with AppendValidationError for a refused client batch, ProducerStateError for a
   * producer out of sequence or fenced, LogOfflineError after a write failure.
   */
  appendAsLeader(records: Buffer, options: LeaderAppendOptions): Promise<AppendResult> {
    if (options.origin === 'coordinator') {
      return this.enqueue({
        records,
        options: { sync: options.sync, recordCount: countRecords(records), fromCoordinator: true },
      });
    }
    const checks = options.validation;
    if (!checks) throw new Error('a client append needs the topic checks');
    const validation = validateProducedBatches(records, checks, options.nowMs ?? this.now());
    if (validation.errorCode !== ErrorCode.NONE) {
      return Promise.reject(
        new AppendValidationError(validation.errorCode, 'message' in validation ? validation.message : null),
      );
    }
    const { recordCount, logAppendTimeMs } = validation as { recordCount: number; logAppendTimeMs: number };
    if (options.transactions && records.readInt16BE(ATTRIBUTES_OFFSET) & TRANSACTIONAL_FLAG_MASK) {
      const producerId = records.readBigInt64BE(PRODUCER_ID_OFFSET);
      // An earlier batch of the producer waits for its verification: this one goes after it, decided again then,
      // so that pipelined batches reach the log in their order.
      const earlier = this.verifying.get(producerId);
      if (earlier)
        return earlier.then(() => (this.leadsStill(options) ? this.appendAsLeader(records, options) : notLeader()));
      const producerEpoch = records.readInt16BE(PRODUCER_EPOCH_OFFSET);
      const entry = this.producerState.entry(producerId);
      const check = options.transactions.checkTransactionalWrite(
        options.transactionalId ?? null,
        producerId,
        producerEpoch,
        this.topic,
        this.partition,
        entry !== undefined && entry.currentTxnFirstOffset >= 0 && entry.producerEpoch === producerEpoch,
      );
      if (check instanceof Promise)
        return this.appendOnceVerified(check, producerId, records, options, recordCount, logAppendTimeMs);
      if (check.errorCode !== ErrorCode.NONE)
        return Promise.reject(new AppendValidationError(check.errorCode, check.message));
    }
    return this.enqueueClientBatch(records, checks.codec, options.sync, recordCount, logAppendTimeMs);
  }

  /**
   * A transactional batch whose verification another broker answers. Until then the producer's later batches wait
   * behind it (`verifying`). A guard, dropped when a marker for the producer is queued, says that the transaction
   * was not ended meanwhile: a batch verified in a transaction that has ended since would open a transaction
   * nobody ends (Kafka's VerificationGuard).
   */
  private appendOnceVerified(
    verification: Promise<TransactionWriteCheck>,
    producerId: bigint,
    records: Buffer,
    options: LeaderAppendOptions,
    recordCount: number,
    logAppendTimeMs: number,
  ): Promise<AppendResult> {
    const guard = {};
    this.verificationGuards.set(producerId, guard);
    let handedOver!: () => void;
    const settled = new Promise<void>((resolve) => {
      handedOver = resolve;
    });
    this.verifying.set(producerId, settled);
    const release = () => {
      if (this.verifying.get(producerId) === settled) this.verifying.delete(producerId);
      if (this.verificationGuards.get(producerId) === guard) this.verificationGuards.delete(producerId);
      handedOver();
    };
    return verification.then(
      (check) => {
        let appended: Promise<AppendResult>;
        try {
          if (check.errorCode !== ErrorCode.NONE) throw new AppendValidationError(check.errorCode, check.message);
          if (!this.leadsStill(options)) throw new AppendValidationError(ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
          if (this.verificationGuards.get(producerId) !== guard)
            throw new AppendValidationError(ErrorCode.INVALID_TXN_STATE, 'the transaction ended while it was verified');
          appended = this.enqueueClientBatch(
            records,
            options.validation!.codec,
            options.sync,
            recordCount,
            logAppendTimeMs,
          );
        } catch (e) {
          release();
          throw e;
        }
        // The producer's batches behind go once this one is in the producer state: its transaction is then open
        // here, and they are taken without another question.
        appended.then(release, release);
        return appended;
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  }

  /** After a wait: whether the broker still leads the partition as when the produce was taken. */
  private leadsStill(options: LeaderAppendOptions): boolean {
    return options.stillLeader?.() ?? true;
  }

  /** A client's checked batch, re-compressed to the topic's codec, then queued. */
  private enqueueClientBatch(
    records: Buffer,
    codec: CompressionType | null,
    sync: boolean,
    recordCount: number,
    logAppendTimeMs: number,
  ): Promise<AppendResult> {
    let toAppend = records;
    if (codec !== null) {
      try {
        toAppend = recompressBatches(records, codec);
      } catch (e) {
        if (!(e instanceof DecodeError || e instanceof CompressionError)) throw e;
        return Promise.reject(new AppendValidationError(ErrorCode.CORRUPT_MESSAGE, e.message));
      }
    }
    return this.enqueue({ records: toAppend, options: { sync, recordCount, logAppendTimeMs } });
  }

  /**
   * A follower's append (Kafka's appendAsFollower): its leader's batches as they are, with their offsets, leader
   * epochs and producer ids; the producer state and transaction index follow them as a load's replay does. The
   * first batch must start at or after the log end offset (a leader's compacted log may skip offsets).
   */
  appendAsFollower(records: Buffer): Promise<AppendResult> {
    return this.enqueue({ records, options: { sync: false, recordCount: countRecords(records), asFollower: true } });
  }

  /**
   * Writes a transaction coordinator's COMMIT or ABORT marker for a producer, ending its transaction in this
   * partition (an abort is recorded in the transaction index). Refused with ProducerStateError for a fenced
   * producer or coordinator epoch.
   */
  appendMarker(marker: TransactionMarkerAppend, options: { sync: boolean }): Promise<AppendResult> {
    // A batch of the producer being verified now belongs to the transaction this marker ends: it is refused.
    this.verificationGuards.delete(marker.producerId);
    const records = buildTransactionMarkerBatch({
      producerId: marker.producerId,
      producerEpoch: marker.producerEpoch,
      coordinatorEpoch: marker.coordinatorEpoch,
      type: marker.aborted ? ControlType.Abort : ControlType.Commit,
      timestamp: BigInt(this.now()),
    });
    return this.enqueue({ records, options: { sync: options.sync, recordCount: 1 }, marker });
  }

  private enqueue(item: Omit<QueuedAppend, 'resolve' | 'reject'>): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error(`log ${this.topic}-${this.partition} is closed`));
    if (this.failure) return Promise.reject(new LogOfflineError(this.topic, this.partition, this.failure));
    return new Promise((resolve, reject) => {
      this.queue.push({ records: item.records, options: item.options, marker: item.marker, resolve, reject });
      this.startAppending();
    });
  }

  private startAppending(): void {
    if (this.appending || this.truncating) return;
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
      const endBefore = this.committedOffset;
      const leoBefore = this.writtenEndOffset;
      const results: Array<AppendResult | ProducerStateError> = [];
      let sync = false;
      let failed: unknown = null;
      try {
        for (const item of round) {
          const appended = item.marker
            ? this.assignAndAppendMarker(item.records, item.marker)
            : item.options.asFollower
              ? this.appendReplicated(item.records)
              : this.assignAndAppend(item.records, item.options.fromCoordinator ?? false);
          // Only a segment roll (or a marker's index entry) makes an append wait for I/O; the usual append goes on
          // without an await, which cost a promise and a microtask turn per append of every round.
          const result = appended instanceof Promise ? await appended : appended;
          results.push(result);
          if (result instanceof ProducerStateError) continue;
          if (!result.duplicate) this.unflushedMessages += item.options.recordCount;
          if (item.options.sync) sync = true;
        }
        const segment = this.activeSegment;
        // Written before the data, as Kafka does: an entry past the log end is cut at the next load.
        if (this.epochsChanged) {
          this.epochsChanged = false;
          await this.epochs.flush();
        }
        // Written on the event loop when small and not synced (LogSegment.writeLog says why). A round that must be
        // durable, after rounds that all were, is written with O_DSYNC: one trip through the thread pool instead
        // of two (acks=all at 5,000 records/s, docs/PERFORMANCE.md).
        const syncs = sync || this.unflushedMessages >= this.config.flushMessages;
        const durableWrite = syncs && !this.unsyncedWrites;
        await segment.writePending('due', syncs ? (durableWrite ? 'durable' : 'thread-pool') : 'small-inline');
        const end = this.nextOffset;
        if (end < this.writtenEndOffset)
          throw new Error(`log end offset would go back from ${this.writtenEndOffset} to ${end}`);
        this.writtenEndOffset = end;
        if (syncs) {
          if (!durableWrite) await segment.sync();
          this.recoveryPoint = end;
          this.unflushedMessages = 0;
          this.bytesSinceSync = 0;
          this.unsyncedWrites = false;
        } else {
          this.unsyncedWrites = true;
          for (const item of round) this.bytesSinceSync += item.records.length;
          if (
            this.bytesSinceSync >= WRITEBACK_BYTES &&
            !this.writingBack &&
            writeBacksInFlight < MAX_WRITEBACKS_IN_FLIGHT
          )
            this.startWriteBack(segment);
        }
        // Written (and on disk when asked): with no other replica to wait for, the round is committed.
        if (this.highWatermarkFollowsLogEnd) this.advanceHighWatermark(end);
        if (this.tail) {
          for (let i = 0; i < round.length; i++) {
            const r = results[i]!;
            if (!(r instanceof ProducerStateError) && !r.duplicate) this.tail.add(round[i]!.records);
          }
        }
      } catch (e) {
        failed = this.goOffline(e);
        for (const item of this.queue) item.reject(failed);
        this.queue = [];
      }
      for (let i = 0; i < round.length; i++) {
        const result = results[i];
        if (failed) round[i]!.reject(failed);
        else if (result instanceof ProducerStateError) round[i]!.reject(result);
        else {
          const options = round[i]!.options;
          // One object shape for every answer (a spread of results of several shapes costs a slow clone each).
          round[i]!.resolve({
            baseOffset: result!.baseOffset,
            lastOffset: result!.lastOffset,
            maxTimestamp: result!.maxTimestamp,
            logStartOffset: this.logStartOffset,
            logAppendTimeMs: options.logAppendTimeMs ?? -1,
            duplicate: result!.duplicate === true,
            recordCount: options.recordCount,
          });
        }
      }
      // A round of only retried or refused batches writes nothing: waiters are woken when the watermark moved, or
      // (replicated) the log end, which followers wait for.
      if (!failed && (this.committedOffset !== endBefore || this.writtenEndOffset !== leoBefore))
        for (const listener of this.appendListeners) listener();
    }
  }

  /**
   * Checks the producer state first: a retried batch is answered with the offsets it got the first time, and
   * a batch out of sequence or from a fenced epoch is refused (returned, not thrown: the round goes on). Then
   * patches base offsets into each batch, rolls the segment if needed, and appends (not yet written).
   */
  private assignAndAppend(
    records: Buffer,
    fromCoordinator: boolean,
  ): AppendResult | ProducerStateError | Promise<AppendResult> {
    const producerBatch = producerBatchAt(records, 0);
    if (producerBatch) {
      if (batchSize(records, 0) !== records.length) {
        // As in Kafka: retries are matched batch by batch, so a produce request carries one batch per partition.
        return new ProducerStateError(ErrorCode.INVALID_RECORD, 'an idempotent produce carries exactly one batch');
      }
      try {
        const { duplicate } = fromCoordinator
          ? this.producerState.checkEpoch(producerBatch)
          : this.producerState.check(producerBatch);
        if (duplicate) {
          return {
            baseOffset: duplicate.lastOffset - duplicate.offsetDelta,
            lastOffset: duplicate.lastOffset,
            maxTimestamp: duplicate.timestamp,
            logStartOffset: this.logStartOffset,
            duplicate: true,
          };
        }
      } catch (e) {
        if (e instanceof ProducerStateError) return e;
        throw e;
      }
    }
    const appended = this.assignOffsetsAndAppend(records);
    const recordProducer = (result: AppendResult): AppendResult => {
      if (producerBatch) this.producerState.update(producerBatch, result.lastOffset);
      this.producerState.advanceTo(this.nextOffset);
      return result;
    };
    return appended instanceof Promise ? appended.then(recordProducer) : recordProducer(appended);
  }

  /**
   * Appends a leader's batches with their own offsets and epochs (not yet written), updating the leader epochs
   * and the producer state as the batches say, and ending transactions at their markers.
   */
  private async appendReplicated(records: Buffer): Promise<AppendResult> {
    const baseOffset = readInt64AsNumber(records, 0);
    if (baseOffset < this.nextOffset) {
      throw new Error(
        `replicated batch of ${this.topic}-${this.partition} starts at ${baseOffset}, before the log end offset ${this.nextOffset}`,
      );
    }
    let lastOfAll = baseOffset;
    for (let at = 0; at + BATCH_HEADER_BYTES <= records.length; at += batchSize(records, at)) {
      lastOfAll = readInt64AsNumber(records, at) + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    }
    // Rolled before the producer state takes the batches: a roll snapshots the state at the segment's base.
    if (this.rollNeeded(records.length, readInt64AsNumber(records, MAX_TIMESTAMP_OFFSET), lastOfAll)) await this.roll();
    let maxTimestamp = -1;
    let offsetOfMaxTimestamp = baseOffset;
    let lastOffset = baseOffset - 1;
    const markers: Array<{ marker: TransactionMarkerAppend; offset: number; timestamp: number }> = [];
    for (let at = 0; at < records.length; ) {
      const size = batchSize(records, at);
      if (size < BATCH_HEADER_BYTES || at + size > records.length) throw new Error('append of a partial batch');
      const batchBase = readInt64AsNumber(records, at);
      const last = batchBase + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      if (batchBase <= lastOffset)
        throw new Error(`replicated batches of ${this.topic}-${this.partition} out of order`);
      const epoch = records.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET);
      if (epoch > this.epochs.latestEpoch) {
        this.epochs.assign(epoch, batchBase);
        this.epochsChanged = true;
      }
      const ts = readInt64AsNumber(records, at + MAX_TIMESTAMP_OFFSET);
      if (ts > maxTimestamp) {
        maxTimestamp = ts;
        offsetOfMaxTimestamp = last;
      }
      const batch = producerBatchAt(records, at);
      if (batch) {
        if ((records.readInt16BE(at + ATTRIBUTES_OFFSET) & CONTROL_FLAG_MASK) !== 0) {
          const marker = readTransactionMarker(new RecordBatch(records.subarray(at, at + size)));
          markers.push({
            marker: {
              producerId: batch.producerId,
              producerEpoch: batch.producerEpoch,
              coordinatorEpoch: marker.coordinatorEpoch,
              aborted: marker.type === ControlType.Abort,
            },
            offset: last,
            timestamp: batch.maxTimestamp,
          });
        } else this.producerState.update(batch, last);
      }
      lastOffset = last;
      at += size;
    }
    this.activeSegment.append(records, baseOffset, lastOffset, maxTimestamp, offsetOfMaxTimestamp);
    this.nextOffset = lastOffset + 1;
    for (const m of markers) await this.completeTransaction(m.marker, m.offset, m.timestamp);
    this.producerState.advanceTo(this.nextOffset);
    return { baseOffset, lastOffset, maxTimestamp, logStartOffset: this.logStartOffset };
  }

  /**
   * A write or fsync failed: offsets were assigned to data that may not be on disk, so the log takes no more
   * writes until the broker restarts (Kafka takes the log dir offline). Nothing accepted from now on reaches
   * the files: unwritten batches are dropped, and close() writes neither them nor a producer snapshot (the
   * producer state holds batches that may not be in the log); the next start rebuilds it from the log.
   */
  private goOffline(cause: unknown): LogOfflineError {
    if (!this.failure) {
      this.failure = cause;
      for (const s of this.segments) s.discardPending();
      this.logger.error('partition offline after a failed write: appends are refused until the broker restarts', {
        topic: this.topic,
        partition: this.partition,
        code: (cause as NodeJS.ErrnoException)?.code ?? null,
        logEndOffset: this.writtenEndOffset,
        error: cause instanceof Error ? cause : new Error(String(cause)),
      });
    }
    return new LogOfflineError(this.topic, this.partition, this.failure);
  }

  /**
   * Writes the active segment's unsynced bytes back to disk without holding up appends (WRITEBACK_BYTES says
   * why). The recovery point stays where it is: only rounds that wait for their fdatasync move it. A failed
   * fdatasync takes the log offline, as a failed write does: the kernel may have dropped the pages it could not
   * write, acknowledged records among them.
   */
  private startWriteBack(segment: LogSegment): void {
    this.bytesSinceSync = 0;
    this.writeBacks++;
    writeBacksInFlight++;
    this.writingBack = segment
      .writeBack()
      .catch((e: unknown) => {
        this.goOffline(e);
      })
      .finally(() => {
        writeBacksInFlight--;
        this.writingBack = null;
      });
  }

  /** Whether a failed write took the log offline. */
  get isOffline(): boolean {
    return this.failure !== null;
  }

  private async assignAndAppendMarker(
    records: Buffer,
    marker: TransactionMarkerAppend,
  ): Promise<AppendResult | ProducerStateError> {
    try {
      this.producerState.checkMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch);
    } catch (e) {
      if (e instanceof ProducerStateError) return e;
      throw e;
    }
    const result = await this.assignOffsetsAndAppend(records);
    await this.completeTransaction(marker, result.lastOffset, result.maxTimestamp);
    return result;
  }

  /** Ends a producer's transaction at its marker; an abort goes to the transaction index of the marker's segment. */
  private async completeTransaction(marker: TransactionMarkerAppend, offset: number, timestamp: number): Promise<void> {
    const done = this.producerState.completeTxn(
      marker.producerId,
      marker.producerEpoch,
      marker.coordinatorEpoch,
      marker.aborted,
      offset,
      timestamp,
    );
    if (!done.aborted || done.firstOffset < 0) return;
    const segment = this.segments[this.segmentIndexFor(offset)]!;
    await this.abortedTxns.add(
      {
        producerId: done.producerId,
        firstOffset: done.firstOffset,
        lastOffset: offset,
        lastStableOffset: this.producerState.firstUnstableOffset() ?? offset + 1,
      },
      segment.baseOffset,
    );
  }

  /** Patches offsets into the batches and appends them, after rolling the segment if it must (then a promise). */
  private assignOffsetsAndAppend(records: Buffer): AppendResult | Promise<AppendResult> {
    const baseOffset = this.nextOffset;
    let offset = baseOffset;
    let maxTimestamp = -1;
    let offsetOfMaxTimestamp = baseOffset;
    const epoch = this.currentLeaderEpoch;
    for (let at = 0; at < records.length; ) {
      const size = batchSize(records, at);
      if (size < BATCH_HEADER_BYTES || at + size > records.length) throw new Error('append of a partial batch');
      writeInt64FromNumber(records, offset, at);
      // The CRC covers the batch from its attributes on: the epoch (before them) is stamped without recomputing it.
      records.writeInt32BE(epoch, at + PARTITION_LEADER_EPOCH_OFFSET);
      const lastOffset = offset + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      const ts = readInt64AsNumber(records, at + MAX_TIMESTAMP_OFFSET);
      if (ts > maxTimestamp) {
        maxTimestamp = ts;
        offsetOfMaxTimestamp = lastOffset;
      }
      offset = lastOffset + 1;
      at += size;
    }
    const append = (): AppendResult => {
      this.activeSegment.append(records, baseOffset, offset - 1, maxTimestamp, offsetOfMaxTimestamp);
      if (epoch !== this.epochs.latestEpoch) {
        // A batch's epoch never goes back: the list only grows at the end on append.
        if (epoch < this.epochs.latestEpoch) {
          throw new Error(`append under leader epoch ${epoch} after epoch ${this.epochs.latestEpoch}`);
        }
        this.epochs.assign(epoch, baseOffset);
        this.epochsChanged = true;
      }
      this.nextOffset = offset;
      return { baseOffset, lastOffset: offset - 1, maxTimestamp, logStartOffset: this.logStartOffset };
    };
    return this.rollNeeded(records.length, maxTimestamp, offset - 1) ? this.roll().then(append) : append();
  }

  /** Whether the active segment must be rolled first: it would pass segment.bytes or is older than segment.ms. */
  private rollNeeded(incomingBytes: number, incomingMaxTimestamp: number, incomingLastOffset: number): boolean {
    const active = this.activeSegment;
    if (active.size === 0) return false;
    const full = active.size + incomingBytes > this.config.segmentBytes;
    const old = active.msSinceRollingBase(this.now(), incomingMaxTimestamp) > this.config.segmentMs;
    // Index entries hold offsets relative to the segment's base as int32.
    const offsetOverflow = incomingLastOffset - active.baseOffset > 0x7fffffff;
    return full || old || offsetOverflow;
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
    // Its index files close and its .log joins the files opened on demand.
    await active.markInactive();
    // Every byte of the old segment is on disk (synced above); the new one holds none yet.
    this.unsyncedWrites = false;
    this.bytesSinceSync = 0;
    // As in Kafka, each segment starts with a snapshot of the producers, so that recovery replays one segment.
    await this.producerState.takeSnapshot();
  }

  /**
   * Reads whole batches from `offset`, up to `maxBytes` (at least one batch if `minOneBatch`), never at or past
   * the high watermark (bytes already in the file may await their fsync and acknowledgement). Returns null when
   * there is nothing committed at or after `offset`.
   * Throws OffsetOutOfRangeError for an offset outside [logStartOffset, logEndOffset].
   */
  async read(
    offset: number,
    maxBytes: number,
    minOneBatch: boolean,
    readCommitted = false,
  ): Promise<LogReadResult | null> {
    // read_committed stops at the last stable offset: nothing of an undecided transaction is handed out.
    return this.readUpTo(
      offset,
      maxBytes,
      minOneBatch,
      readCommitted ? this.lastStableOffset : this.highWatermark,
      readCommitted,
    );
  }

  /**
   * A follower's read (Kafka's FetchIsolation.LOG_END): up to the log end offset, past the high watermark, since
   * the high watermark moves only once the followers have the records.
   */
  readForFollower(offset: number, maxBytes: number, minOneBatch: boolean): Promise<LogReadResult | null> {
    return this.readUpTo(offset, maxBytes, minOneBatch, this.writtenEndOffset, false);
  }

  private async readUpTo(
    offset: number,
    maxBytes: number,
    minOneBatch: boolean,
    end: number,
    readCommitted: boolean,
  ): Promise<LogReadResult | null> {
    const highWatermark = this.highWatermark;
    if (offset < this.logStartOffset || offset > this.writtenEndOffset) {
      throw new OffsetOutOfRangeError(offset, this.logStartOffset, this.writtenEndOffset);
    }
    if (offset >= end) return null;
    let records = this.tail?.read(offset, maxBytes, minOneBatch, end) ?? null;
    if (records === null) {
      try {
        for (let i = this.segmentIndexFor(offset); i < this.segments.length && records === null; i++) {
          records = await this.segments[i]!.read(offset, maxBytes, minOneBatch, end);
        }
      } catch (e) {
        if (e instanceof CorruptBatchError) this.reportCorruptBatch(e);
        throw e;
      }
    }
    if (!records || records.length === 0) return null;
    const result: LogReadResult = { records, highWatermark, logStartOffset: this.logStartOffset };
    if (readCommitted) result.abortedTransactions = this.abortedTxns.collect(offset, lastOffsetIn(records) + 1);
    return result;
  }

  /** Tells a damaged batch met by reads at ERROR, once: consumers retrying the same offset do not repeat it. */
  private reportCorruptBatch(e: CorruptBatchError): void {
    const key = `${e.segmentBaseOffset}:${e.position}`;
    if (this.reportedCorruptBatches.has(key)) return;
    this.reportedCorruptBatches.add(key);
    this.logger.error('corrupt batch in the log: reads stop before it and fetches from it get CORRUPT_MESSAGE', {
      topic: this.topic,
      partition: this.partition,
      file: e.file,
      position: e.position,
      offset: e.offset,
      reason: e.reason,
    });
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
   * ListOffsets by timestamp: the first record at or after the log start offset whose timestamp is >=
   * `timestamp`, with that record's timestamp, or null when none is. Kafka searches only the first segment
   * whose largest timestamp reaches the time; the search here goes on to later segments when DeleteRecords left
   * that segment's matching records below the log start offset, so that the answer is always such a record.
   */
  async offsetForTimestamp(timestamp: number): Promise<TimestampAndOffset | null> {
    for (const segment of this.segments) {
      if (segment.maxTimestamp < timestamp) continue;
      const found = await searchSegmentForTimestamp(segment, timestamp, this.logStartOffset);
      if (found) return found;
    }
    return null;
  }

  /**
   * The record with the largest timestamp in the log (ListOffsets MAX_TIMESTAMP, KIP-734): the first record
   * holding it, in the first segment that reached it, as Kafka answers; {-1, -1} for a log without records.
   */
  async maxTimestampAndOffset(): Promise<TimestampAndOffset> {
    let latest: LogSegment | null = null;
    for (const s of this.segments) if (s.maxTimestamp > (latest?.maxTimestamp ?? -1)) latest = s;
    const found = latest && (await searchSegmentForTimestamp(latest, latest.maxTimestamp, latest.baseOffset));
    return found ?? { timestamp: -1, offset: -1 };
  }

  /** Moves the log start offset forward (DeleteRecords); whole segments below it go at the next retention pass. */
  advanceLogStartOffset(offset: number): void {
    if (offset > this.highWatermark) throw new OffsetOutOfRangeError(offset, this.logStartOffset, this.highWatermark);
    if (offset <= this.logStartOffset) return;
    this.logStartOffset = offset;
    if (this.epochs.truncateFromStart(offset)) this.flushLeaderEpochsInBackground();
  }

  /** Writes the epoch list without waiting: a failed write is logged, and the next load repairs the file. */
  private flushLeaderEpochsInBackground(): void {
    this.epochs.flush().catch((error: unknown) => {
      this.logger.warn('could not write the leader epoch checkpoint; it is repaired from the log at the next start', {
        topic: this.topic,
        partition: this.partition,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    });
  }

  /** The segments closed to appends (all but the active one), oldest first: what the cleaner may clean. */
  inactiveSegments(): LogSegment[] {
    return this.segments.slice(0, -1);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The aborted transactions whose markers are at or after `from` and whose data starts before `to`. */
  abortedTransactions(from: number, to: number): AbortedTxn[] {
    return this.abortedTxns.collect(from, to);
  }

  /**
   * Replaces `old` by the cleaned copy of its batches written at `cleanedPath` (Kafka's segment swap). The
   * copy is renamed `.swap` first, so that from then on a crash completes the swap at start-up; the old files
   * are renamed `.deleted` and stay open for reads in flight until file.delete.delay.ms has passed. Returns
   * false (and removes the copy) when the segment is no longer in the log (retention deleted it, the log closed).
   */
  swapCleanedSegment(old: LogSegment, cleanedPath: string): Promise<boolean> {
    return this.withSegmentsLocked(async () => {
      if (this.closed || this.inactiveSegments().indexOf(old) < 0) {
        await rm(cleanedPath, { force: true });
        return false;
      }
      const logPath = join(this.dir, segmentFileName(old.baseOffset, '.log'));
      await rename(cleanedPath, `${logPath}${SWAP_FILE_SUFFIX}`);
      await old.renameToDeleted();
      await rename(`${logPath}${SWAP_FILE_SUFFIX}`, logPath);
      // Recovery rebuilds the offset and time indexes from the cleaned batches.
      const cleaned = await LogSegment.load(
        this.dir,
        old.baseOffset,
        { indexIntervalBytes: this.config.indexIntervalBytes },
        true,
      );
      await cleaned.markInactive();
      this.segments[this.segments.indexOf(old)] = cleaned;
      // The tail may still hold batches the cleaner removed.
      this.tail?.clear();
      const timer = setTimeout(() => {
        this.retiredSegments.delete(old);
        old.closeAndRemoveDeleted().catch(() => {});
      }, this.config.fileDeleteDelayMs ?? DEFAULT_FILE_DELETE_DELAY_MS);
      timer.unref();
      this.retiredSegments.set(old, timer);
      return true;
    });
  }

  private withSegmentsLocked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.segmentChanges.then(fn);
    this.segmentChanges = run.catch(() => {});
    return run;
  }

  /** Closes and removes the replaced segments at once (the log closes). */
  private async removeRetiredSegments(): Promise<void> {
    for (const [segment, timer] of this.retiredSegments) {
      clearTimeout(timer);
      await segment.closeAndRemoveDeleted();
    }
    this.retiredSegments.clear();
  }

  /**
   * Deletes segments by retention.ms, retention.bytes and the log start offset. The active segment is never
   * deleted. Returns the number of segments deleted.
   */
  deleteOldSegments(): Promise<number> {
    return this.withSegmentsLocked(() => this.deleteOldSegmentsNow());
  }

  private async deleteOldSegmentsNow(): Promise<number> {
    const nowMs = this.now();
    let total = this.sizeInBytes;
    let deleted = 0;
    const deletedBases: number[] = [];
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
      deletedBases.push(oldest.baseOffset);
      total -= oldest.size;
      this.logStartOffset = Math.max(this.logStartOffset, next.baseOffset);
      await oldest.delete();
      deleted++;
    }
    if (deleted > 0) {
      if (this.epochs.truncateFromStart(this.logStartOffset)) await this.epochs.flush();
      await this.producerState.deleteSnapshotsBefore(this.segments[0]!.baseOffset);
      await this.abortedTxns.deleteSegments(deletedBases, this.logStartOffset);
    }
    return deleted;
  }

  /**
   * Removes every record at or after `targetOffset` (Kafka's truncateTo; a follower's log that diverged from its
   * leader): the segments after it go, the segment holding it is cut at the start of the batch holding it (so the
   * new log end offset may be below `targetOffset`), and its indexes, the leader epochs, the producer state, the
   * transaction index and the tail cache are brought back to the new end. The high watermark never stays above
   * it. A target before the first segment (or the log start offset) empties the log and starts it there.
   * Appends wait meanwhile. Returns the new log end offset.
   */
  truncateTo(targetOffset: number, options: TruncateOptions = {}): Promise<number> {
    return this.exclusively(async () => {
      if (!Number.isSafeInteger(targetOffset) || targetOffset < 0)
        throw new Error(`bad truncation offset ${targetOffset}`);
      if (targetOffset >= this.writtenEndOffset) return this.writtenEndOffset;
      if (targetOffset <= this.segments[0]!.baseOffset || targetOffset < this.logStartOffset) {
        await this.truncateFullyNow(targetOffset, options);
        return targetOffset;
      }
      await this.truncateNow(targetOffset, options);
      return this.writtenEndOffset;
    });
  }

  /**
   * Deletes the whole log and starts it empty at `newOffset`, which becomes the log start offset (Kafka's
   * truncateFullyAndStartAt: a follower far behind its leader's log start).
   */
  truncateFullyAndStartAt(newOffset: number, options: TruncateOptions = {}): Promise<void> {
    return this.exclusively(async () => {
      if (!Number.isSafeInteger(newOffset) || newOffset < 0) throw new Error(`bad log start offset ${newOffset}`);
      await this.truncateFullyNow(newOffset, options);
    });
  }

  /** Runs `fn` with no append round in flight and none starting, and segment changes held off. */
  private exclusively<T>(fn: () => Promise<T>): Promise<T> {
    return this.withSegmentsLocked(async () => {
      if (this.closed) throw new Error(`log ${this.topic}-${this.partition} is closed`);
      if (this.failure) throw new LogOfflineError(this.topic, this.partition, this.failure);
      await this.drain();
      this.truncating = true;
      try {
        return await fn();
      } catch (e) {
        // The files are left for the next load to make consistent; this log takes no more writes.
        throw this.goOffline(e);
      } finally {
        this.truncating = false;
        if (this.queue.length > 0) this.startAppending();
      }
    });
  }

  /** Moves the in-memory ends back to `end`: nothing at or past it is read or counted from now on. */
  private moveEndBack(end: number): void {
    this.tail?.clear();
    this.nextOffset = end;
    this.writtenEndOffset = end;
    // The only place the high watermark goes back: the records past it are gone.
    this.committedOffset = Math.min(this.committedOffset, end);
    this.recoveryPoint = Math.min(this.recoveryPoint, end);
    this.firstDirtyOffset = Math.min(this.firstDirtyOffset, end);
    this.unflushedMessages = 0;
  }

  private async truncateNow(targetOffset: number, options: TruncateOptions): Promise<void> {
    this.unsyncedWrites = true;
    const step = async (name: TruncationStep) => {
      await options.afterStep?.(name);
    };
    const at = this.segmentIndexFor(targetOffset);
    const holder = this.segments[at]!;
    const batch = await holder.findBatch(targetOffset);
    // No batch holds the target (a gap the cleaner left before the next segment): the segment is kept whole.
    const cutPosition = batch ? batch.position : holder.writtenSize;
    const newEnd = batch ? batch.baseOffset : holder.nextOffset;
    this.moveEndBack(newEnd);

    const deleted: number[] = [];
    while (this.segments.length - 1 > at) {
      const last = this.segments.pop()!;
      await last.delete();
      deleted.push(last.baseOffset);
    }
    if (deleted.length > 0) await this.abortedTxns.deleteSegments(deleted, this.logStartOffset);
    await step('segments-deleted');

    await holder.close();
    await truncate(join(this.dir, segmentFileName(holder.baseOffset, '.log')), cutPosition);
    await step('segment-truncated');
    // Rebuilt from the batches kept, as recovery would after a crash here.
    for (const suffix of ['.index', '.timeindex'] as const) {
      await rm(join(this.dir, segmentFileName(holder.baseOffset, suffix)), { force: true });
    }
    const reloaded = await LogSegment.load(
      this.dir,
      holder.baseOffset,
      { indexIntervalBytes: this.config.indexIntervalBytes },
      true,
    );
    this.segments[at] = reloaded;
    if (reloaded.nextOffset !== newEnd) {
      throw new Error(`segment ${holder.baseOffset} ends at ${reloaded.nextOffset} after truncation to ${newEnd}`);
    }
    await step('indexes-rebuilt');

    if (this.epochs.truncateFromEnd(newEnd)) await this.epochs.flush();
    await step('leader-epochs');

    // The newest snapshot at or below the new end, then the batches after it; the transaction index drops the
    // aborts whose markers are gone.
    await this.loadProducerState(false, this.producerIdExpirationMs);
    await step('producer-state');
  }

  private async truncateFullyNow(newOffset: number, options: TruncateOptions): Promise<void> {
    this.unsyncedWrites = true;
    this.moveEndBack(newOffset);
    this.committedOffset = newOffset;
    this.recoveryPoint = newOffset;
    this.logStartOffset = newOffset;
    const bases = this.segments.map((s) => s.baseOffset);
    while (this.segments.length > 0) await this.segments.pop()!.delete();
    this.segments.push(
      await LogSegment.create(this.dir, newOffset, { indexIntervalBytes: this.config.indexIntervalBytes }, this.now()),
    );
    await this.abortedTxns.deleteSegments(bases, newOffset);
    await this.abortedTxns.load([newOffset], newOffset);
    await options.afterStep?.('segments-deleted');
    if (this.epochs.clear()) await this.epochs.flush();
    await options.afterStep?.('leader-epochs');
    await this.producerState.clear();
    this.producerState.advanceTo(newOffset);
    await options.afterStep?.('producer-state');
  }

  /** Waits for queued appends to be written. */
  async drain(): Promise<void> {
    while (this.appending) await this.appending;
  }

  /** Writes and syncs everything, then closes the files. An offline log only closes them. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    // A segment swap under way finishes first.
    await this.withSegmentsLocked(() => this.removeRetiredSegments());
    await this.epochs.settled();
    this.tail?.clear();
    if (this.failure) {
      for (const s of this.segments) await s.close().catch(() => {});
      return;
    }
    await this.activeSegment.sync();
    this.recoveryPoint = this.nextOffset;
    // The next start loads this snapshot instead of replaying the log.
    if (this.producerState.needsSnapshot) await this.producerState.takeSnapshot();
    await closeEach(this.segments, (s) => s.close());
  }

  /** Makes everything written durable (log.flush.interval.ms and shutdown). */
  async flush(): Promise<void> {
    const target = this.nextOffset;
    await this.drain();
    // Already told at ERROR when it went offline; nothing of it is to be made durable now.
    if (this.failure) return;
    try {
      await this.activeSegment.sync();
    } catch (e) {
      // After a failed fsync the kernel may have dropped the dirty pages: what was written is in doubt.
      throw this.goOffline(e);
    }
    this.recoveryPoint = Math.max(this.recoveryPoint, target);
    this.unflushedMessages = 0;
  }

  /** Closes and deletes the whole directory (DeleteTopics). */
  async delete(): Promise<void> {
    this.closed = true;
    await this.drain();
    await this.withSegmentsLocked(() => this.removeRetiredSegments());
    await this.epochs.settled();
    this.tail?.clear();
    await closeEach(this.segments, (s) => s.delete());
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Finishes segment swaps a crash interrupted, as Kafka does at start-up: a `.cleaned` file was not complete and
 * is deleted; a `.swap` file was, and replaces the segment's log (its indexes are rebuilt). Returns the base
 * offsets of the swapped segments.
 */
async function completeInterruptedSwaps(dir: string): Promise<Set<number>> {
  const swapped = new Set<number>();
  for (const name of await readdir(dir)) {
    if (name.endsWith(CLEANED_FILE_SUFFIX)) await rm(join(dir, name), { force: true });
    if (!name.endsWith(SWAP_FILE_SUFFIX)) continue;
    const m = /^(\d{20})\.log\.swap$/.exec(name);
    // Index swaps (Kafka writes them too) are not needed: the swapped segment's indexes are rebuilt.
    if (!m) {
      await rm(join(dir, name), { force: true });
      continue;
    }
    const base = Number(m[1]);
    for (const suffix of ['.index', '.timeindex'] as const)
      await rm(join(dir, segmentFileName(base, suffix)), { force: true });
    await rename(join(dir, name), join(dir, segmentFileName(base, '.log')));
    swapped.add(base);
  }
  return swapped;
}

/** Closes (or deletes) every segment in turn, the rest too when one fails; then throws the first failure. */
async function closeEach(segments: LogSegment[], close: (s: LogSegment) => Promise<void>): Promise<void> {
  let failure: unknown = null;
  for (const s of segments) {
    try {
      await close(s);
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure !== null) throw failure;
}

/** The records in a buffer of whole batches, from their headers. */
function countRecords(records: Buffer): number {
  let count = 0;
  for (let at = 0; at + BATCH_HEADER_BYTES <= records.length; at += batchSize(records, at)) {
    count += records.readInt32BE(at + RECORDS_COUNT_OFFSET);
  }
  return count;
}

/** The last offset of the last batch in a buffer of whole batches. */
function lastOffsetIn(records: Buffer): number {
  let last = -1;
  for (let at = 0; at + BATCH_HEADER_BYTES <= records.length; ) {
    last = readInt64AsNumber(records, at) + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
    at += batchSize(records, at);
  }
  return last;
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
