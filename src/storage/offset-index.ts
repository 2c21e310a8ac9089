import type { FileHandle } from 'node:fs/promises';

/** An offset index entry on disk: offset relative to the segment's base (int32), then file position (int32). */
export const OFFSET_INDEX_ENTRY_BYTES = 8;

/** Raised when an index file on disk does not hold a valid index; the caller rebuilds it from the log. */
export class CorruptIndexError extends Error {
  override readonly name = 'CorruptIndexError';
}

/**
 * The sparse offset index of one segment (Kafka's `.index` file): an entry every `log.index.interval.bytes`
 * of log, mapping an offset to the byte position of the batch that holds it.
 *
 * Kafka memory-maps this file; Node has no mmap, so the entries live in typed arrays and the file is
 * appended to alongside the log. The file holds exactly the entries (Kafka's layout once trimmed), so Kafka's
 * own tools read it.
 */
export class OffsetIndex {
  private relativeOffsets = new Int32Array(64);
  private positions = new Int32Array(64);
  private count = 0;
  /** Entries appended since the last `takePendingBytes`. */
  private pendingFrom = 0;

  constructor(readonly baseOffset: number) {}

  get entries(): number {
    return this.count;
  }

  /** The offset of the last entry, or the base offset when empty. */
  get lastOffset(): number {
    return this.count === 0 ? this.baseOffset : this.baseOffset + this.relativeOffsets[this.count - 1]!;
  }

  /** Reads an index file; entries must be strictly increasing in both offset and position. */
  static fromBuffer(baseOffset: number, data: Buffer): OffsetIndex {
    if (data.length % OFFSET_INDEX_ENTRY_BYTES !== 0) {
      throw new CorruptIndexError(`offset index size ${data.length} is not a multiple of ${OFFSET_INDEX_ENTRY_BYTES}`);
    }
    const index = new OffsetIndex(baseOffset);
    for (let at = 0; at < data.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const relative = data.readInt32BE(at);
      const position = data.readInt32BE(at + 4);
      // Kafka preallocates index files; trailing zero entries after the first are unused space.
      if (at > 0 && relative === 0 && position === 0) break;
      if (index.count > 0) {
        const last = index.count - 1;
        if (relative <= index.relativeOffsets[last]! || position <= index.positions[last]!) {
          throw new CorruptIndexError(`offset index entries out of order at byte ${at}`);
        }
      }
      index.push(relative, position);
    }
    index.pendingFrom = index.count;
    return index;
  }

  /** Adds an entry; offsets and positions must grow. */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    if (relative < 0 || relative > 0x7fffffff) throw new Error(`offset ${offset} outside segment ${this.baseOffset}`);
    if (
      this.count > 0 &&
      (relative <= this.relativeOffsets[this.count - 1]! || position <= this.positions[this.count - 1]!)
    ) {
      throw new Error(`offset index append out of order: offset ${offset} at position ${position}`);
    }
    this.push(relative, position);
  }

  /**
   * The last entry whose offset is <= `offset`, as [offset, position]; [baseOffset, 0] when there is none.
   * A read for `offset` starts scanning the log from that position.
   */
  lookup(offset: number): [number, number] {
    const target = offset - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relativeOffsets[mid]! <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return [this.baseOffset, 0];
    return [this.baseOffset + this.relativeOffsets[found]!, this.positions[found]!];
  }

  /** Drops every entry for an offset >= `offset` (log truncation). */
  truncateTo(offset: number): void {
    const target = offset - this.baseOffset;
    while (this.count > 0 && this.relativeOffsets[this.count - 1]! >= target) this.count--;
    this.pendingFrom = Math.min(this.pendingFrom, this.count);
  }

  /** Bytes of the file as it should be after `truncateTo` or a rebuild. */
  toBuffer(): Buffer {
    return this.encode(0, this.count);
  }

  /** Encoded entries appended since the previous call, for appending to the file. */
  takePendingBytes(): Buffer | null {
    if (this.pendingFrom === this.count) return null;
    const bytes = this.encode(this.pendingFrom, this.count);
    this.pendingFrom = this.count;
    return bytes;
  }

  /** Size the file has once every pending entry is written. */
  get sizeInBytes(): number {
    return this.count * OFFSET_INDEX_ENTRY_BYTES;
  }

  /** Rewrites the whole file (after truncation or a rebuild). */
  async rewrite(file: FileHandle): Promise<void> {
    const bytes = this.toBuffer();
    await file.truncate(0);
    if (bytes.length > 0) await file.write(bytes, 0, bytes.length, 0);
    this.pendingFrom = this.count;
  }

  private push(relative: number, position: number): void {
    if (this.count === this.relativeOffsets.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.relativeOffsets = grow(this.relativeOffsets);
      this.positions = grow(this.positions);
    }
    this.relativeOffsets[this.count] = relative;
    this.positions[this.count] = position;
    this.count++;
  }

  private encode(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = from, at = 0; i < to; i++, at += OFFSET_INDEX_ENTRY_BYTES) {
      out.writeInt32BE(this.relativeOffsets[i]!, at);
      out.writeInt32BE(this.positions[i]!, at + 4);
    }
    return out;
  }
}
