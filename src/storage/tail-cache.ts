import { readInt64AsNumber } from '../protocol/primitives/int64.js';
import { batchSize, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD } from '../protocol/records/batch-header.js';

/**
 * The memory all partitions' tails may hold together (samsa.log.tail.cache.bytes). When it is full, the
 * oldest batches of the whole broker go first, so that active partitions keep their tails and idle ones
 * give theirs up.
 *
 * One charge per cached batch, kept in two flat arrays rather than an object each: with one small batch per
 * request, per-batch objects lived long enough to be promoted to V8's old space and, once evicted, were most
 * of the old-space garbage the broker made (RSS under small requests 333 MB).
 */
export class TailCacheBudget {
  private chargedTails: TailCache[] = [];
  private chargedBytes: number[] = [];
  private head = 0;
  private total = 0;

  constructor(readonly maxBytes: number) {}

  get usedBytes(): number {
    return this.total;
  }

  /** Records `bytes` added to `tail`, then evicts the broker's oldest batches while over budget. */
  charge(tail: TailCache, bytes: number): void {
    this.chargedTails.push(tail);
    this.chargedBytes.push(bytes);
    this.total += bytes;
    while (this.total > this.maxBytes && this.head < this.chargedTails.length) {
      const oldest = this.chargedTails[this.head]!;
      const oldestBytes = this.chargedBytes[this.head]!;
      this.head++;
      this.total -= oldestBytes;
      oldest.dropOldest(oldestBytes);
    }
    // Compact the queue now and then rather than shifting on every eviction.
    if (this.head > 1024 && this.head * 2 > this.chargedTails.length) {
      this.chargedTails = this.chargedTails.slice(this.head);
      this.chargedBytes = this.chargedBytes.slice(this.head);
      this.head = 0;
    }
  }
}

/** Entries the columns start with; they double as needed. */
const INITIAL_ENTRIES = 64;

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
  // The cached batches, oldest first, as columns: entry i is bytes [position[i], position[i] + size[i]) of the
  // slab numbered slabOf[i]. Entries before `head` were evicted; `count` is one past the newest.
  private baseOffsets = new Float64Array(INITIAL_ENTRIES);
  private lastOffsets = new Float64Array(INITIAL_ENTRIES);
  private positions = new Int32Array(INITIAL_ENTRIES);
  private sizes = new Int32Array(INITIAL_ENTRIES);
  private slabOf = new Int32Array(INITIAL_ENTRIES);
  private head = 0;
  private count = 0;
  /** The slabs still holding cached batches; slabs[0] is number `firstSlab`. */
  private slabs: Buffer[] = [];
  private firstSlab = 0;
  /** Bytes dropped by the budget that belong to batches this cache already discarded (after a clear). */
  private orphanedBytes = 0;
  /** The slab small appends are copied into, while it has room; always the last of `slabs`. */
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
    let slab: Buffer;
    let at: number;
    if (keep) {
      // Batches after this one go to a new slab, so that each slab holds a run of consecutive entries.
      this.slab = null;
      slab = records;
      at = 0;
      this.slabs.push(slab);
    } else {
      at = this.place(records);
      slab = this.slab!;
    }
    const end = at + records.length;
    const slabNumber = this.firstSlab + this.slabs.length - 1;
    while (at + LOG_OVERHEAD <= end) {
      const size = batchSize(slab, at);
      const baseOffset = readInt64AsNumber(slab, at);
      const lastOffset = baseOffset + slab.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET);
      if (this.count > this.head && this.lastOffsets[this.count - 1]! + 1 !== baseOffset) {
        // A gap (the log was truncated and written again): start over with this slab alone.
        const kept = this.slabs[this.slabs.length - 1]!;
        this.clear();
        this.slabs.push(kept);
        this.firstSlab = slabNumber;
        if (!keep) this.slab = kept;
      }
      this.push(baseOffset, lastOffset, at, size, slabNumber);
      this.budget.charge(this, size);
      at += size;
    }
  }

  /** Copies `records` right after the previous append, in the current slab or a new, larger one; returns where. */
  private place(records: Buffer): number {
    const n = records.length;
    if (!this.slab || this.slabUsed + n > this.slab.length) {
      const grown = this.slab ? Math.min(this.slab.length * 2, MAX_SLAB_BYTES) : n;
      this.slab = Buffer.allocUnsafeSlow(Math.max(grown, n));
      this.slabUsed = 0;
      this.slabs.push(this.slab);
    }
    const at = this.slabUsed;
    records.copy(this.slab, at);
    this.slabUsed += n;
    return at;
  }

  private push(baseOffset: number, lastOffset: number, position: number, size: number, slab: number): void {
    if (this.count === this.baseOffsets.length) this.makeRoom();
    const i = this.count++;
    this.baseOffsets[i] = baseOffset;
    this.lastOffsets[i] = lastOffset;
    this.positions[i] = position;
    this.sizes[i] = size;
    this.slabOf[i] = slab;
  }

  /** Moves the live entries to the front, or doubles the columns when more than half of them are live. */
  private makeRoom(): void {
    const live = this.count - this.head;
    const capacity = live * 2 > this.baseOffsets.length ? this.baseOffsets.length * 2 : this.baseOffsets.length;
    const move = <T extends Float64Array | Int32Array>(column: T, grown: T): T => {
      grown.set(column.subarray(this.head, this.count));
      return grown;
    };
    this.baseOffsets = move(this.baseOffsets, new Float64Array(capacity));
    this.lastOffsets = move(this.lastOffsets, new Float64Array(capacity));
    this.positions = move(this.positions, new Int32Array(capacity));
    this.sizes = move(this.sizes, new Int32Array(capacity));
    this.slabOf = move(this.slabOf, new Int32Array(capacity));
    this.head = 0;
    this.count = live;
  }

  /** Called by the budget: the oldest `bytes` of this cache are no longer paid for. */
  dropOldest(bytes: number): void {
    if (this.orphanedBytes >= bytes) {
      this.orphanedBytes -= bytes;
      return;
    }
    if (this.head === this.count) return;
    this.head++;
    // A slab no entry points into any more goes at once (with batches of a megabyte, keeping evicted ones until
    // a later compaction held a quarter of a gigabyte per partition).
    const oldestLive = this.head < this.count ? this.slabOf[this.head]! : this.firstSlab + this.slabs.length;
    while (this.firstSlab < oldestLive && this.slabs.length > 0) {
      if (this.slabs[0] === this.slab) this.slab = null;
      this.slabs.shift();
      this.firstSlab++;
    }
    // Nothing cached any more: the next append starts a small slab instead of filling a large one.
    if (this.head === this.count) this.slab = null;
  }

  /** Drops everything (the log was truncated or closed). */
  clear(): void {
    let bytes = 0;
    for (let i = this.head; i < this.count; i++) bytes += this.sizes[i]!;
    // The budget still lists these batches; their later evictions must not drop batches added after now.
    this.orphanedBytes += bytes;
    this.head = 0;
    this.count = 0;
    this.firstSlab += this.slabs.length;
    this.slabs = [];
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
    if (this.head === this.count || offset < this.baseOffsets[this.head]!) return null;
    if (this.lastOffsets[this.count - 1]! < offset) return null;
    let lo = this.head;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lastOffsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    const firstSlab = this.slabOf[lo]!;
    let size = 0;
    /** Bytes of the leading batches that lie in the first slab (back to back, as placed). */
    let contiguous = 0;
    let end = lo;
    for (; end < this.count; end++) {
      const length = this.sizes[end]!;
      if (this.lastOffsets[end]! >= endOffset) break;
      if (size + length > maxBytes && !(minOneBatch && size === 0)) break;
      if (this.slabOf[end] === firstSlab) contiguous += length;
      size += length;
    }
    if (size === 0) return Buffer.alloc(0);
    const start = this.positions[lo]!;
    const slab = this.slabs[firstSlab - this.firstSlab]!;
    if (contiguous === size || size > SMALL_JOIN_BYTES) return slab.subarray(start, start + contiguous);
    const parts: Buffer[] = [];
    for (let i = lo; i < end; i++) {
      const at = this.positions[i]!;
      parts.push(this.slabs[this.slabOf[i]! - this.firstSlab]!.subarray(at, at + this.sizes[i]!));
    }
    return Buffer.concat(parts, size);
  }
}
