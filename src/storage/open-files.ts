import { readFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/**
 * Open files of storage. A partition's active segment holds its three files (`.log`, `.index`, `.timeindex`)
 * open; an inactive segment holds none of its index files (their entries are in memory and never change) and its
 * `.log` only while it is among the most recently read inactive segments (`inactiveSegmentLogs`), so that the
 * broker's open files grow with its partitions, not with its segments.
 */

/** Used when the process's open-files limit cannot be read (not Linux, or unlimited). */
const ASSUMED_OPEN_FILES_LIMIT = 4096;
/** Bounds of the number of inactive segment `.log` files kept open, a share of the open-files limit. */
const MIN_OPEN_INACTIVE_SEGMENT_LOGS = 16;
const MAX_OPEN_INACTIVE_SEGMENT_LOGS = 1024;
const INACTIVE_SEGMENT_LOGS_SHARE_OF_LIMIT = 1 / 8;

let cachedLimit: number | undefined;

/**
 * The process's soft limit on open files (RLIMIT_NOFILE; Node raises it to the hard limit at start-up), read from
 * /proc/self/limits, or ASSUMED_OPEN_FILES_LIMIT where that cannot be read.
 */
export function openFilesLimit(): number {
  if (cachedLimit !== undefined) return cachedLimit;
  cachedLimit = ASSUMED_OPEN_FILES_LIMIT;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
    if (Number.isSafeInteger(soft) && soft > 0) cachedLimit = soft;
  } catch {
    // Not Linux: keep the assumption.
  }
  return cachedLimit;
}

/** A file that an LRU may close while nobody uses it. */
interface Evictable {
  /** Closes the file unless it is in use; false when it is. */
  tryClose(): boolean;
}

/** Files opened on demand, the least recently used closed once more than `maxOpen` are open. */
export class OpenFileLru {
  /** Insertion order is recency: a touched file moves to the end. */
  private readonly files = new Set<Evictable>();

  /** Mutable so that tests can exercise eviction with a small bound. */
  constructor(public maxOpen: number) {}

  get size(): number {
    return this.files.size;
  }

  touch(file: Evictable): void {
    this.files.delete(file);
    this.files.add(file);
    this.evict();
  }

  forget(file: Evictable): void {
    this.files.delete(file);
  }

  /** Closes the least recently used files not in use until at most `maxOpen` are open. */
  evict(): void {
    if (this.files.size <= this.maxOpen) return;
    for (const file of this.files) {
      if (this.files.size <= this.maxOpen) break;
      if (file.tryClose()) this.files.delete(file);
    }
  }
}

/** The `.log` files of inactive segments kept open for reads, broker-wide. */
export const inactiveSegmentLogs = new OpenFileLru(
  Math.min(
    MAX_OPEN_INACTIVE_SEGMENT_LOGS,
    Math.max(MIN_OPEN_INACTIVE_SEGMENT_LOGS, Math.floor(openFilesLimit() * INACTIVE_SEGMENT_LOGS_SHARE_OF_LIMIT)),
  ),
);

/**
 * A segment's `.log` file, held open while the segment is active and, once it is inactive, opened on demand for
 * reads and closed by the LRU when idle. A read pins the file: it is never closed while pinned, so no read uses
 * a closed (or reused) descriptor.
 */
export class SegmentLogFile implements Evictable {
  private file: FileHandle | null;
  private opening: Promise<FileHandle> | null = null;
  private pins = 0;
  /** Set once the segment is inactive: the file may then be closed when idle and opened again. */
  private lru: OpenFileLru | null = null;
  private closed = false;
  /** Resolves once the last pin is gone, when `close` waits for reads in flight. */
  private drained: Promise<void> | null = null;
  private unpinned: (() => void) | null = null;

  constructor(
    /** Where to open it again (it changes when the segment is renamed `.deleted`). */
    public path: string,
    file: FileHandle,
  ) {
    this.file = file;
  }

  /** The open handle. Only while pinned, or while the segment is active. */
  get handle(): FileHandle {
    if (!this.file) throw new Error(`${this.path} is not open`);
    return this.file;
  }

  /** Whether the descriptor is open now (for tests and measurements). */
  get isOpen(): boolean {
    return this.file !== null;
  }

  /** Whether `close` was called: the file is not opened again. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** From now on the file is opened on demand and closed when idle. */
  makeEvictable(lru: OpenFileLru): void {
    this.lru = lru;
    if (this.file) lru.touch(this);
  }

  /**
   * Pins the file open for a read; pair every pin with `unpin`. Returns a promise only when the file must be
   * opened again (an active segment's read costs no extra turn).
   */
  pin(): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new Error(`${this.path} is closed`));
    this.pins++;
    if (this.file) {
      this.lru?.touch(this);
      return undefined;
    }
    return this.reopen();
  }

  private async reopen(): Promise<void> {
    try {
      // Reads that find it closed at the same time share one open. Inactive segments are read only.
      this.opening ??= open(this.path, 'r').then(
        (file) => {
          this.opening = null;
          this.file = file;
          this.lru?.touch(this);
          return file;
        },
        (e: unknown) => {
          this.opening = null;
          throw e;
        },
      );
      await this.opening;
    } catch (e) {
      this.unpin();
      throw e;
    }
  }

  unpin(): void {
    this.pins--;
    if (this.pins > 0) return;
    if (this.unpinned) this.unpinned();
    // The LRU may have gone past its bound while this file was pinned.
    else this.lru?.evict();
  }

  tryClose(): boolean {
    if (this.pins > 0 || this.opening) return false;
    const file = this.file;
    this.file = null;
    // Nothing can be pending on an inactive segment's file; a failed close of a read-only file loses nothing.
    file?.close().catch(() => {});
    return true;
  }

  /** Closes the file for good, once the reads that pinned it are done. */
  async close(): Promise<void> {
    this.closed = true;
    this.lru?.forget(this);
    if (this.pins > 0) {
      this.drained ??= new Promise<void>((resolve) => (this.unpinned = resolve));
      await this.drained;
    }
    const file = this.file;
    this.file = null;
    await file?.close();
  }
}

/**
 * Opens `paths` one after the other with the flags given for each; if one fails (EMFILE, or a path that is not a
 * file), those already opened are closed before the error is thrown, so a failed open leaks no descriptor.
 */
export async function openAll(files: ReadonlyArray<readonly [path: string, flags: string]>): Promise<FileHandle[]> {
  const opened: FileHandle[] = [];
  try {
    for (const [path, flags] of files) opened.push(await open(path, flags));
    return opened;
  } catch (e) {
    await closeAll(opened);
    throw e;
  }
}

/** Closes every handle, even when closing one fails; throws the first failure. */
export async function closeAll(files: ReadonlyArray<FileHandle | null>): Promise<void> {
  const results = await Promise.allSettled(files.map((f) => f?.close()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
