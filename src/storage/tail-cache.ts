import { BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD } from '../protocol/records/batch-header.js';

interface CachedBatch {
  baseOffset: number;
  lastOffset: number;
  buf: Buffer;
}

/**
 * The memory all partitions' tails may hold together (samsa.log.tail.cache.bytes). When it is full, the
 * oldest batches of the whole broker go first, so that active partitions keep their tails and idle ones
 * give theirs up.
 */
export class TailCacheBudget {
  private readonly order: Array<{ tail: TailCache; bytes: number }> = [];
  private head = 0;
  private total = 0;

  constructor(readonly maxBytes: number) {}

  get usedBytes(): number {
    return this.total;
  }

  /** Records `bytes` added to `tail`, then evicts the broker's oldest batches while over budget. */
  charge(tail: TailCache, bytes: number): void {
    this.order.push({ tail, bytes });
    this.total += bytes;
    while (this.total > this.maxBytes && this.head < this.order.length) {
      const oldest = this.order[this.head++]!;
      this.total -= oldest.bytes;
      oldest.tail.dropOldest(oldest.bytes);
    }
    // Compact the queue now and then rather than shifting on every eviction.
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Forgets charges of a tail that was cleared (its bytes no longer count). */
  release(bytes: number): void {
    this.total -= bytes;
  }
}

/**
 * The most recent batches of one partition, kept in memory as written, so that consumers reading at the
 * end of the log are served without a file read. Batches enter after they are written to the segment, in
 * offset order; a read that starts before the oldest cached batch goes to the file as before.
 */
export class TailCache {
  private readonly batches: CachedBatch[] = [];
  private head = 0;
  /** Bytes dropped by the budget that belong to batches this cache already discarded (after a clear). */
  private orphanedBytes = 0;

  constructor(private readonly budget: TailCacheBudget) {}

  /**
   * Caches the batches of an append. They are copied: the appended buffer is a slice of a whole request,
   * which must not stay alive for the sake of a few of its bytes.
   */
  add(records: Buffer): void {
    if (this.budget.maxBytes <= 0) return;
    if (records.length > this.budget.maxBytes) {
      // The cache must stay one contiguous run of offsets: what it holds now is older than this append.
      this.clear();
      return;
    }
    const copy = Buffer.from(records);
    for (let at = 0; at + LOG_OVERHEAD <= copy.length; ) {
      const size = LOG_OVERHEAD + copy.readInt32BE(at + BATCH_LENGTH_OFFSET);
      const baseOffset = Number(copy.readBigInt64BE(at));
      const lastOffset = baseOffset + copy.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      const previous = this.batches[this.batches.length - 1];
      if (previous && this.batches.length > this.head && previous.lastOffset + 1 !== baseOffset) this.clear();
      this.batches.push({ baseOffset, lastOffset, buf: copy.subarray(at, at + size) });
      this.budget.charge(this, size);
      at += size;
    }
  }

  /** Called by the budget: the oldest `bytes` of this cache are no longer paid for. */
  dropOldest(bytes: number): void {
    if (this.orphanedBytes >= bytes) {
      this.orphanedBytes -= bytes;
      return;
    }
    this.head++;
    if (this.head > 256 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Drops everything (the log was truncated or closed). */
  clear(): void {
    let bytes = 0;
    for (let i = this.head; i < this.batches.length; i++) bytes += this.batches[i]!.buf.length;
    // The budget still lists these batches; their later evictions must not drop batches added after now.
    this.orphanedBytes += bytes;
    this.batches.length = 0;
    this.head = 0;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one when `minOneBatch`), none at
   * or past `endOffset`. Null when the cache does not hold `offset` (the caller reads the file instead).
   */
  read(offset: number, maxBytes: number, minOneBatch: boolean, endOffset: number): Buffer | null {
    const first = this.batches[this.head];
    if (!first || offset < first.baseOffset) return null;
    let lo = this.head;
    let hi = this.batches.length - 1;
    if (this.batches[hi]!.lastOffset < offset) return null;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    const parts: Buffer[] = [];
    let size = 0;
    for (let i = lo; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      if (b.lastOffset >= endOffset) break;
      if (size + b.buf.length > maxBytes && !(minOneBatch && parts.length === 0)) break;
      parts.push(b.buf);
      size += b.buf.length;
    }
    if (parts.length === 0) return Buffer.alloc(0);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  }
}
