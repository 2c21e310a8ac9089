import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './checkpoint-file.js';

/** Kafka's name for a partition's leader epoch file. */
export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';
/** Version line of Kafka's leader epoch checkpoint file. */
const LEADER_EPOCH_CHECKPOINT_VERSION = 0;
/** Kafka's RecordBatch.NO_PARTITION_LEADER_EPOCH and the UNDEFINED_EPOCH of OffsetForLeaderEpoch. */
export const UNDEFINED_EPOCH = -1;
/** The end offset OffsetForLeaderEpoch answers when it knows none. */
export const UNDEFINED_EPOCH_OFFSET = -1;

/** The first offset written under a leader epoch. */
export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/** An epoch and the end offset OffsetForLeaderEpoch answers for it. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export class LeaderEpochCheckpointError extends Error {
  override readonly name = 'LeaderEpochCheckpointError';
}

/**
 * The leader epochs of a partition and the offset each started at (Kafka's LeaderEpochFileCache), kept in the
 * partition directory as `leader-epoch-checkpoint`: a version line, a count line, then `epoch startOffset` per
 * line. Epochs and start offsets both increase along the list. The file is written whole (atomically) whenever
 * the list changes; the log checks it against its batches at load, so a stale or damaged file is repaired, never
 * trusted and never a reason to refuse the log.
 */
export class LeaderEpochCache {
  private entries: EpochEntry[] = [];
  /** Writes of the file, one after the other, so that the last change is the one left on disk. */
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  get path(): string {
    return join(this.dir, LEADER_EPOCH_CHECKPOINT_FILE);
  }

  /**
   * Reads the file. Returns false (and leaves the list empty) when it is missing or is not a well-formed
   * checkpoint with increasing epochs and offsets: the log then rebuilds the list from its batches.
   */
  async load(): Promise<boolean> {
    this.entries = [];
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const parsed = parseLeaderEpochCheckpoint(text);
    if (parsed === null) return false;
    this.entries = parsed;
    return true;
  }

  /** A copy of the entries, oldest first. */
  epochEntries(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  get earliestEntry(): EpochEntry | null {
    return this.entries[0] ?? null;
  }

  /**
   * Records that `epoch` starts at `startOffset`, when it is a new epoch (or the same epoch found earlier in the
   * log, as a rebuild may). As in Kafka, entries that conflict with it (an epoch not below it, or a start not
   * below its start) are removed first. Batches without an epoch (negative) are ignored. Returns whether the list
   * changed; the caller persists it with `flush()`.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0) return false;
    const latest = this.entries.at(-1);
    if (latest && latest.epoch === epoch && latest.startOffset <= startOffset) return false;
    while (this.entries.length > 0) {
      const last = this.entries.at(-1)!;
      if (last.epoch < epoch && last.startOffset < startOffset) break;
      this.entries.pop();
    }
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** Removes the entries starting at or after `endOffset` (the log was cut there). Returns whether any went. */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entries.length;
    while (this.entries.length > 0 && this.entries.at(-1)!.startOffset >= endOffset) this.entries.pop();
    return this.entries.length !== before;
  }

  /**
   * The log now starts at `startOffset`: entries before it go, except that the epoch holding it is kept, starting
   * there (Kafka's truncateFromStart). Returns whether the list changed.
   */
  truncateFromStart(startOffset: number): boolean {
    let holding: EpochEntry | null = null;
    let removed = 0;
    while (this.entries.length > 0 && this.entries[0]!.startOffset <= startOffset) {
      holding = this.entries.shift()!;
      removed++;
    }
    if (holding === null) return false;
    this.entries.unshift({ epoch: holding.epoch, startOffset });
    return removed > 1 || holding.startOffset !== startOffset;
  }

  /** Empties the list (the log was emptied). */
  clear(): boolean {
    const changed = this.entries.length > 0;
    this.entries = [];
    return changed;
  }

  /** Replaces the list (a rebuild from the log's batches). */
  replace(entries: EpochEntry[]): void {
    this.entries = entries.map((e) => ({ ...e }));
  }

  /** The epoch under which `offset` was written: that of the last entry starting at or before it, else -1. */
  epochForOffset(offset: number): number {
    let epoch = UNDEFINED_EPOCH;
    for (const e of this.entries) {
      if (e.startOffset > offset) break;
      epoch = e.epoch;
    }
    return epoch;
  }

  /**
   * OffsetForLeaderEpoch, as Kafka's LeaderEpochFileCache.endOffsetFor answers it: for the latest epoch, the log
   * end offset; for an older one, the start offset of the first higher epoch, paired with the largest known epoch
   * at or below the one asked (or the one asked when it is below every known epoch: its data is gone); for an
   * unknown future epoch or an empty list, UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedAnswer;
    if (this.entries.length > 0 && this.latestEpoch === requestedEpoch) {
      return { epoch: requestedEpoch, endOffset: logEndOffset };
    }
    const higher = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higher < 0) return undefinedAnswer;
    const higherStart = this.entries[higher]!.startOffset;
    if (higher === 0) return { epoch: requestedEpoch, endOffset: higherStart };
    return { epoch: this.entries[higher - 1]!.epoch, endOffset: higherStart };
  }

  /** Resolves when the writes started so far are done (failed ones included). */
  settled(): Promise<void> {
    return this.writing;
  }

  /** Writes the current list to the file (after every earlier write). */
  flush(): Promise<void> {
    const content = formatLeaderEpochCheckpoint(this.entries);
    const write = this.writing.then(() => writeFileAtomic(this.path, content));
    this.writing = write.catch(() => {});
    return write;
  }
}

export function formatLeaderEpochCheckpoint(entries: readonly EpochEntry[]): string {
  let text = `${LEADER_EPOCH_CHECKPOINT_VERSION}\n${entries.length}\n`;
  for (const e of entries) text += `${e.epoch} ${e.startOffset}\n`;
  return text;
}

/** The entries of a checkpoint file, or null when it is not a well-formed one. */
export function parseLeaderEpochCheckpoint(text: string): EpochEntry[] | null {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length < 2 || lines[0] !== String(LEADER_EPOCH_CHECKPOINT_VERSION)) return null;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) return null;
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const m = /^(\d+) (\d+)$/.exec(line);
    if (!m) return null;
    const entry = { epoch: Number(m[1]), startOffset: Number(m[2]) };
    const last = entries.at(-1);
    if (!Number.isSafeInteger(entry.startOffset) || entry.epoch > 0x7fffffff) return null;
    if (last && (entry.epoch <= last.epoch || entry.startOffset <= last.startOffset)) return null;
    entries.push(entry);
  }
  return entries;
}
