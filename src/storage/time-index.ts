import { CorruptIndexError, SparseIndex } from './sparse-index.js';

/** A time index entry on disk: timestamp (int64), then offset relative to the segment's base (int32). */
export const TIME_INDEX_ENTRY_BYTES = 12;

/**
 * The sparse time index of one segment (Kafka's `.timeindex` file): timestamps (the key) to relative offsets
 * (the value). An entry is added, at the same points as offset index entries, only when the segment's largest
 * timestamp has grown, so timestamps increase strictly. ListOffsets by timestamp starts its log scan from the
 * entry found here.
 */
export class TimeIndex extends SparseIndex {
  constructor(baseOffset: number) {
    super(baseOffset, TIME_INDEX_ENTRY_BYTES);
  }

  /** Largest timestamp indexed so far, or -1 when empty. */
  get lastTimestamp(): number {
    return this.count === 0 ? -1 : this.keys[this.count - 1]!;
  }

  static fromBuffer(baseOffset: number, data: Buffer): TimeIndex {
    const index = new TimeIndex(baseOffset);
    index.load(data, 'time index', (at) => {
      const timestamp = Number(data.readBigInt64BE(at));
      const relative = data.readInt32BE(at + 8);
      // Unused preallocated space reads as zeros.
      if (at > 0 && timestamp === 0 && relative === 0) return false;
      if (index.count > 0 && timestamp <= index.lastTimestamp) {
        throw new CorruptIndexError(`time index timestamps out of order at byte ${at}`);
      }
      if (index.count > 0 && relative < index.values[index.count - 1]!) {
        throw new CorruptIndexError(`time index offsets out of order at byte ${at}`);
      }
      index.push(timestamp, relative);
      return true;
    });
    return index;
  }

  /** Records that `offset` is where `timestamp` was first reached; ignored unless the timestamp grew. */
  maybeAppend(timestamp: number, offset: number): void {
    if (timestamp <= this.lastTimestamp) return;
    this.push(timestamp, offset - this.baseOffset);
  }

  /**
   * The last entry whose timestamp is <= `timestamp`, as [timestamp, offset]; [-1, baseOffset] when none.
   * Records at or after `timestamp` are found by scanning the log from that offset.
   */
  lookup(timestamp: number): [number, number] {
    const found = this.floor(timestamp);
    if (found < 0) return [-1, this.baseOffset];
    return [this.keys[found]!, this.baseOffset + this.values[found]!];
  }

  /** Drops entries for offsets >= `offset`. */
  truncateTo(offset: number): void {
    const target = offset - this.baseOffset;
    this.dropLastWhile((i) => this.values[i]! >= target);
  }

  protected writeEntry(out: Buffer, at: number, i: number): void {
    out.writeBigInt64BE(BigInt(this.keys[i]!), at);
    out.writeInt32BE(this.values[i]!, at + 8);
  }
}
