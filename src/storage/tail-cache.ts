import { batchSize, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD } from '../protocol/records/batch-header.js';

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

const EMPTY = Buffer.alloc(0);

/** Largest memory block the batches of one partition are packed into; appends larger than this get their own. */
const MAX_SLAB_BYTES = 1 << 20;
/** A read spanning two slabs is joined (copied) up to this size; a larger one stops at the first slab's end. */
const SMALL_JOIN_BYTES = 64 * 1024;
/** Appends at least this large that fill most of their own memory block are kept as they are, not copied. */
const KEEP_WITHOUT_COPY_BYTES = 64 * 1024;

/**
 * The most recent batches of one partition, kept in memory as written, so that consumers reading at the
 * end of the log are served without a file read. Batches enter after they are written to the segment, in
 * offset order; a read that starts before the oldest cached batch goes to the file as before.
 *
 * Appends are copied back to back into slabs, so that a read of many batches is one slice of memory rather
 * than a join. A partition's slabs double in size as they fill, up to MAX_SLAB_BYTES: a busy partition reads
 * in large slices, and a quiet one holds little memory beyond its batches.
 */
export class TailCache {
  private readonly batches: CachedBatch[] = [];
  private head = 0;
  /** Bytes dropped by the budget that belong to batches this cache already discarded (after a clear). */
  private orphanedBytes = 0;
  private slab: Buffer | null = null;
  private slabUsed = 0;

  constructor(private readonly budget: TailCacheBudget) {}

  /**
   * Caches the batches of an append. Small ones are copied into the slab: the appended buffer is a slice of a
   * whole request (or socket read), which must not stay alive for the sake of a few of its bytes. A large
   * append that fills at least half of its memory block (a big producer batch is most of its request frame) is
   * kept as it is, as a slab of its own: copying it cost as much CPU as reading the request from the socket.
   */
  add(records: Buffer): void {
    if (this.budget.maxBytes <= 0) return;
    if (records.length > this.budget.maxBytes) {
      // The cache must stay one contiguous run of offsets: what it holds now is older than this append.
      this.clear();
      return;
    }
    const keep = records.length >= KEEP_WITHOUT_COPY_BYTES && records.length * 2 >= records.buffer.byteLength;
    const copy = keep ? records : this.place(records);
    for (let at = 0; at + LOG_OVERHEAD <= copy.length; ) {
      const size = batchSize(copy, at);
      const baseOffset = Number(copy.readBigInt64BE(at));
      const lastOffset = baseOffset + copy.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      const previous = this.batches[this.batches.length - 1];
      if (previous && this.batches.length > this.head && previous.lastOffset + 1 !== baseOffset) this.clear();
      this.batches.push({ baseOffset, lastOffset, buf: copy.subarray(at, at + size) });
      this.budget.charge(this, size);
      at += size;
    }
  }

  /** Copies `records` right after the previous append, in the current slab or a new, larger one. */
  private place(records: Buffer): Buffer {
    const n = records.length;
    if (!this.slab || this.slabUsed + n > this.slab.length) {
      const grown = this.slab ? Math.min(this.slab.length * 2, MAX_SLAB_BYTES) : n;
      this.slab = Buffer.allocUnsafeSlow(Math.max(grown, n));
      this.slabUsed = 0;
    }
    const at = this.slabUsed;
    records.copy(this.slab, at);
    this.slabUsed += n;
    return this.slab.subarray(at, at + n);
  }

  /** Called by the budget: the oldest `bytes` of this cache are no longer paid for. */
  dropOldest(bytes: number): void {
    if (this.orphanedBytes >= bytes) {
      this.orphanedBytes -= bytes;
      return;
    }
    // The entry stays in the array until the next compaction; its bytes must not (with batches of a
    // megabyte, 256 evicted entries held a quarter of a gigabyte per partition).
    const evicted = this.batches[this.head];
    if (evicted) evicted.buf = EMPTY;
    this.head++;
    if (this.head > 256 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.head = 0;
    }
    // Nothing cached any more: the next append starts a small slab instead of filling a large one.
    if (this.head === this.batches.length) this.slab = null;
  }

  /** Drops everything (the log was truncated or closed). */
  clear(): void {
    let bytes = 0;
    for (let i = this.head; i < this.batches.length; i++) bytes += this.batches[i]!.buf.length;
    // The budget still lists these batches; their later evictions must not drop batches added after now.
    this.orphanedBytes += bytes;
    this.batches.length = 0;
    this.head = 0;
    this.slab = null;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one when `minOneBatch`), none at
   * or past `endOffset`. Null when the cache does not hold `offset` (the caller reads the file instead).
   *
   * The answer is a slice of one slab, not a copy. Where the batches asked for continue in the next slab, a
   * small answer is joined, and a large one stops at the slab's end (a Fetch may return less than its
   * maximum; the consumer's next fetch starts there).
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
    const start = this.batches[lo]!.buf;
    let size = 0;
    /** Bytes of the leading batches that lie back to back in one slab. */
    let contiguous = 0;
    let end = lo;
    for (; end < this.batches.length; end++) {
      const { buf: b, lastOffset } = this.batches[end]!;
      if (lastOffset >= endOffset) break;
      if (size + b.length > maxBytes && !(minOneBatch && size === 0)) break;
      if (contiguous === size && b.buffer === start.buffer && b.byteOffset === start.byteOffset + size) {
        contiguous += b.length;
      }
      size += b.length;
    }
    if (size === 0) return Buffer.alloc(0);
    if (contiguous === size || size > SMALL_JOIN_BYTES) return Buffer.from(start.buffer, start.byteOffset, contiguous);
    const parts: Buffer[] = [];
    for (let i = lo; i < end; i++) parts.push(this.batches[i]!.buf);
    return Buffer.concat(parts, size);
  }
}
