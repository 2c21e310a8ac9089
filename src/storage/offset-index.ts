import { CorruptIndexError, SparseIndex } from './sparse-index.js';

export { CorruptIndexError } from './sparse-index.js';

/** An offset index entry on disk: offset relative to the segment's base (int32), then file position (int32). */
export const OFFSET_INDEX_ENTRY_BYTES = 8;

/**
 * The sparse offset index of one segment (Kafka's `.index` file): an entry every `log.index.interval.bytes`
 * of log, mapping an offset (the key, relative to the segment's base) to the byte position of the batch that
 * holds it (the value).
 */
export class OffsetIndex extends SparseIndex {
  constructor(baseOffset: number) {
    super(baseOffset, OFFSET_INDEX_ENTRY_BYTES);
  }

  /** Reads an index file; entries must be strictly increasing in both offset and position. */
  static fromBuffer(baseOffset: number, data: Buffer): OffsetIndex {
    const index = new OffsetIndex(baseOffset);
    index.load(data, 'offset index', (at) => {
      const relative = data.readInt32BE(at);
      const position = data.readInt32BE(at + 4);
      // Kafka preallocates index files; trailing zero entries after the first are unused space.
      if (at > 0 && relative === 0 && position === 0) return false;
      if (!index.follows(relative, position)) {
        throw new CorruptIndexError(`offset index entries out of order at byte ${at}`);
      }
      index.push(relative, position);
      return true;
    });
    return index;
  }

  /** Adds an entry; offsets and positions must grow. */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    if (relative < 0 || relative > 0x7fffffff) throw new Error(`offset ${offset} outside segment ${this.baseOffset}`);
    if (!this.follows(relative, position)) {
      throw new Error(`offset index append out of order: offset ${offset} at position ${position}`);
    }
    this.push(relative, position);
  }

  /**
   * The last entry whose offset is <= `offset`, as [offset, position]; [baseOffset, 0] when there is none.
   * A read for `offset` starts scanning the log from that position.
   */
  lookup(offset: number): [number, number] {
    const found = this.floor(offset - this.baseOffset);
    if (found < 0) return [this.baseOffset, 0];
    return [this.baseOffset + this.keys[found]!, this.values[found]!];
  }

  /** Drops every entry for an offset >= `offset` (log truncation). */
  truncateTo(offset: number): void {
    const target = offset - this.baseOffset;
    this.dropLastWhile((i) => this.keys[i]! >= target);
  }

  /** Whether an entry may come after the last one: both its offset and its position must grow. */
  private follows(relative: number, position: number): boolean {
    const last = this.count - 1;
    return last < 0 || (relative > this.keys[last]! && position > this.values[last]!);
  }

  protected writeEntry(out: Buffer, at: number, i: number): void {
    out.writeInt32BE(this.keys[i]!, at);
    out.writeInt32BE(this.values[i]!, at + 4);
  }
}
