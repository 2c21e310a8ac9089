import type { FileHandle } from 'node:fs/promises';
import { CorruptIndexError } from './offset-index.js';

/** A time index entry on disk: timestamp (int64), then offset relative to the segment's base (int32). */
export const TIME_INDEX_ENTRY_BYTES = 12;

/**
 * The sparse time index of one segment (Kafka's `.timeindex` file). An entry is added, at the same points as
 * offset index entries, only when the segment's largest timestamp has grown, so timestamps increase
 * strictly. ListOffsets by timestamp starts its log scan from the entry found here.
 */
export class TimeIndex {
  private timestamps = new Float64Array(64);
  private relativeOffsets = new Int32Array(64);
  private count = 0;
  private pendingFrom = 0;

  constructor(readonly baseOffset: number) {}

  get entries(): number {
    return this.count;
  }

  /** Largest timestamp indexed so far, or -1 when empty. */
  get lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1]!;
  }

  static fromBuffer(baseOffset: number, data: Buffer): TimeIndex {
    if (data.length % TIME_INDEX_ENTRY_BYTES !== 0) {
      throw new CorruptIndexError(`time index size ${data.length} is not a multiple of ${TIME_INDEX_ENTRY_BYTES}`);
    }
    const index = new TimeIndex(baseOffset);
    for (let at = 0; at < data.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = Number(data.readBigInt64BE(at));
      const relative = data.readInt32BE(at + 8);
      // Unused preallocated space reads as zeros.
      if (at > 0 && timestamp === 0 && relative === 0) break;
      if (index.count > 0 && timestamp <= index.lastTimestamp) {
        throw new CorruptIndexError(`time index timestamps out of order at byte ${at}`);
      }
      if (index.count > 0 && relative < index.relativeOffsets[index.count - 1]!) {
        throw new CorruptIndexError(`time index offsets out of order at byte ${at}`);
      }
      index.push(timestamp, relative);
    }
    index.pendingFrom = index.count;
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
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! <= timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return [-1, this.baseOffset];
    return [this.timestamps[found]!, this.baseOffset + this.relativeOffsets[found]!];
  }

  /** Drops entries for offsets >= `offset`. */
  truncateTo(offset: number): void {
    const target = offset - this.baseOffset;
    while (this.count > 0 && this.relativeOffsets[this.count - 1]! >= target) this.count--;
    this.pendingFrom = Math.min(this.pendingFrom, this.count);
  }

  toBuffer(): Buffer {
    return this.encode(0, this.count);
  }

  takePendingBytes(): Buffer | null {
    if (this.pendingFrom === this.count) return null;
    const bytes = this.encode(this.pendingFrom, this.count);
    this.pendingFrom = this.count;
    return bytes;
  }

  get sizeInBytes(): number {
    return this.count * TIME_INDEX_ENTRY_BYTES;
  }

  async rewrite(file: FileHandle): Promise<void> {
    const bytes = this.toBuffer();
    await file.truncate(0);
    if (bytes.length > 0) await file.write(bytes, 0, bytes.length, 0);
    this.pendingFrom = this.count;
  }

  private push(timestamp: number, relative: number): void {
    if (this.count === this.timestamps.length) {
      const timestamps = new Float64Array(this.count * 2);
      timestamps.set(this.timestamps);
      this.timestamps = timestamps;
      const offsets = new Int32Array(this.count * 2);
      offsets.set(this.relativeOffsets);
      this.relativeOffsets = offsets;
    }
    this.timestamps[this.count] = timestamp;
    this.relativeOffsets[this.count] = relative;
    this.count++;
  }

  private encode(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * TIME_INDEX_ENTRY_BYTES);
    for (let i = from, at = 0; i < to; i++, at += TIME_INDEX_ENTRY_BYTES) {
      out.writeBigInt64BE(BigInt(this.timestamps[i]!), at);
      out.writeInt32BE(this.relativeOffsets[i]!, at + 8);
    }
    return out;
  }
}
