/**
 * The records of `__consumer_offsets`, in Kafka's own format so that the topic reads the same as Kafka's:
 * each record's key and value start with an int16 version; keys of version 0 and 1 are offset commits, keys of
 * version 2 are group metadata. A null value (tombstone) deletes what its key names.
 */
import {
  decodeGroupMetadataKey,
  decodeGroupMetadataValue,
  decodeOffsetCommitKey,
  decodeOffsetCommitValue,
  encodeGroupMetadataKey,
  encodeGroupMetadataValue,
  encodeOffsetCommitKey,
  encodeOffsetCommitValue,
  type GroupMetadataValue,
  type OffsetCommitValue,
} from '../../protocol/generated/index.js';
import { DecodeError, Reader, Writer } from '../../protocol/primitives/index.js';

/** The record versions Kafka writes today (the flexible versions 4 only when tagged fields are needed). */
const OFFSET_COMMIT_KEY_VERSION = 1;
const OFFSET_COMMIT_VALUE_VERSION = 3;
const GROUP_METADATA_KEY_VERSION = 2;
const GROUP_METADATA_VALUE_VERSION = 3;

export interface OffsetKey {
  group: string;
  topic: string;
  partition: number;
}

export type OffsetsRecord =
  | { type: 'offset'; key: OffsetKey; value: OffsetCommitValue | null }
  | { type: 'group'; group: string; value: GroupMetadataValue | null };

function versioned(version: number, encode: (w: Writer) => void): Buffer {
  const w = new Writer(64);
  w.writeInt16(version);
  encode(w);
  return w.toBuffer();
}

export function offsetCommitKey(key: OffsetKey): Buffer {
  return versioned(OFFSET_COMMIT_KEY_VERSION, (w) => encodeOffsetCommitKey(w, OFFSET_COMMIT_KEY_VERSION, key));
}

export function offsetCommitValue(value: OffsetCommitValue): Buffer {
  return versioned(OFFSET_COMMIT_VALUE_VERSION, (w) => encodeOffsetCommitValue(w, OFFSET_COMMIT_VALUE_VERSION, value));
}

export function groupMetadataKey(group: string): Buffer {
  return versioned(GROUP_METADATA_KEY_VERSION, (w) => encodeGroupMetadataKey(w, GROUP_METADATA_KEY_VERSION, { group }));
}

export function groupMetadataValue(value: GroupMetadataValue): Buffer {
  return versioned(GROUP_METADATA_VALUE_VERSION, (w) =>
    encodeGroupMetadataValue(w, GROUP_METADATA_VALUE_VERSION, value),
  );
}

/**
 * Reads one record of `__consumer_offsets`. Returns null for key versions this broker does not know (the
 * KIP-848 and share-group records of newer Kafka), which loading skips as Kafka's own loader does.
 */
export function readOffsetsRecord(key: Buffer, value: Buffer | null): OffsetsRecord | null {
  const kr = new Reader(key);
  const keyVersion = kr.readInt16();
  if (keyVersion === 0 || keyVersion === 1) {
    const k = decodeOffsetCommitKey(kr, keyVersion);
    const offsetKey = { group: k.group, topic: k.topic, partition: k.partition };
    if (value === null) return { type: 'offset', key: offsetKey, value: null };
    const vr = new Reader(value);
    const valueVersion = vr.readInt16();
    if (valueVersion < 0 || valueVersion > 4) throw new DecodeError(`offset commit value version ${valueVersion}`, 0);
    return { type: 'offset', key: offsetKey, value: decodeOffsetCommitValue(vr, valueVersion) };
  }
  if (keyVersion === 2) {
    const k = decodeGroupMetadataKey(kr, keyVersion);
    if (value === null) return { type: 'group', group: k.group, value: null };
    const vr = new Reader(value);
    const valueVersion = vr.readInt16();
    if (valueVersion < 0 || valueVersion > 4) throw new DecodeError(`group metadata value version ${valueVersion}`, 0);
    return { type: 'group', group: k.group, value: decodeGroupMetadataValue(vr, valueVersion) };
  }
  return null;
}

/** Java's String.hashCode, which Kafka uses to place a group on a partition of `__consumer_offsets`. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The partition of `__consumer_offsets` whose leader coordinates a group (Kafka's Utils.abs(hash) % n). */
export function partitionForGroup(groupId: string, numPartitions: number): number {
  return (javaStringHashCode(groupId) & 0x7fffffff) % numPartitions;
}
