/** A header of a record: a string key and a byte value (null allowed). */
export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One record, as read from a batch (key and value are subarrays of the batch, not copies). */
export interface Record {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}
