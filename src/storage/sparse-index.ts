import type { FileHandle } from 'node:fs/promises';

/** Raised when an index file on disk does not hold a valid index; the caller rebuilds it from the log. */
export class CorruptIndexError extends Error {
  override readonly name = 'CorruptIndexError';
}

/**
 * What Kafka's two sparse indexes of a segment share: sorted entries of a search key (a relative offset, or a
 * timestamp) and a value, a binary search for the last entry at or below a key, truncation, and the file kept
 * in step by appending the entries added since the last write.
 *
 * Kafka memory-maps these files; Node has no mmap, so the entries live in typed arrays and the file is appended
 * to alongside the log. The file holds exactly the entries (Kafka's layout once trimmed), so Kafka's own tools
 * read it.
 */
export abstract class SparseIndex {
  /** The search key of each entry; float64 holds both int32 relative offsets and int64 timestamps exactly. */
  protected keys = new Float64Array(64);
  protected values = new Int32Array(64);
  protected count = 0;
  /** Entries appended since the last `takePendingBytes`. */
  private pendingFrom = 0;

  constructor(
    readonly baseOffset: number,
    private readonly entryBytes: number,
  ) {}

  get entries(): number {
    return this.count;
  }

  /** Bytes of the entries appended since the last `takePendingBytes`, not yet in the file. */
  get pendingBytes(): number {
    return (this.count - this.pendingFrom) * this.entryBytes;
  }

  /** Encoded entries appended since the previous call, for appending to the file. */
  takePendingBytes(): Buffer | null {
    if (this.pendingFrom === this.count) return null;
    const bytes = this.encode(this.pendingFrom, this.count);
    this.pendingFrom = this.count;
    return bytes;
  }

  /** Rewrites the whole file (after truncation or a rebuild). */
  async rewrite(file: FileHandle): Promise<void> {
    const bytes = this.encode(0, this.count);
    await file.truncate(0);
    if (bytes.length > 0) await file.write(bytes, 0, bytes.length, 0);
    this.pendingFrom = this.count;
  }

  /** Checks a file's size, then hands each entry's position in it to `read` until `read` returns false. */
  protected load(data: Buffer, name: string, read: (at: number) => boolean): void {
    if (data.length % this.entryBytes !== 0) {
      throw new CorruptIndexError(`${name} size ${data.length} is not a multiple of ${this.entryBytes}`);
    }
    for (let at = 0; at < data.length && read(at); at += this.entryBytes);
    this.pendingFrom = this.count;
  }

  /** Index of the last entry whose key is <= `key`, or -1. */
  protected floor(key: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! <= key) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Drops entries from the end while `drop(i)` holds (log truncation). */
  protected dropLastWhile(drop: (i: number) => boolean): void {
    while (this.count > 0 && drop(this.count - 1)) this.count--;
    this.pendingFrom = Math.min(this.pendingFrom, this.count);
  }

  protected push(key: number, value: number): void {
    if (this.count === this.keys.length) {
      const keys = new Float64Array(this.count * 2);
      keys.set(this.keys);
      this.keys = keys;
      const values = new Int32Array(this.count * 2);
      values.set(this.values);
      this.values = values;
    }
    this.keys[this.count] = key;
    this.values[this.count] = value;
    this.count++;
  }

  /** Writes entry `i` in the file's layout at `at`. */
  protected abstract writeEntry(out: Buffer, at: number, i: number): void;

  private encode(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * this.entryBytes);
    for (let i = from, at = 0; i < to; i++, at += this.entryBytes) this.writeEntry(out, at, i);
    return out;
  }
}
