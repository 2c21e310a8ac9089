/**
 * The records of `__consumer_offsets`, in Kafka's own format so that the topic reads the same as Kafka's:
 * each record's key and value start with an int16 version; keys of version 0 and 1 are offset commits, keys of
 * version 2 are classic group metadata, keys of versions 3 to 8 are the parts of a KIP-848 consumer group. A
 * null value (tombstone) deletes what its key names.
 */
import {
  decodeConsumerGroupCurrentMemberAssignmentKey,
  encodeConsumerGroupCurrentMemberAssignmentKey,
} from '../../protocol/generated/internal/consumer-group-current-member-assignment-key.js';
import {
  type ConsumerGroupCurrentMemberAssignmentValue,
  decodeConsumerGroupCurrentMemberAssignmentValue,
  encodeConsumerGroupCurrentMemberAssignmentValue,
} from '../../protocol/generated/internal/consumer-group-current-member-assignment-value.js';
import {
  decodeConsumerGroupMemberMetadataKey,
  encodeConsumerGroupMemberMetadataKey,
} from '../../protocol/generated/internal/consumer-group-member-metadata-key.js';
import {
  type ConsumerGroupMemberMetadataValue,
  decodeConsumerGroupMemberMetadataValue,
  encodeConsumerGroupMemberMetadataValue,
} from '../../protocol/generated/internal/consumer-group-member-metadata-value.js';
import {
  decodeConsumerGroupMetadataKey,
  encodeConsumerGroupMetadataKey,
} from '../../protocol/generated/internal/consumer-group-metadata-key.js';
import {
  type ConsumerGroupMetadataValue,
  decodeConsumerGroupMetadataValue,
  encodeConsumerGroupMetadataValue,
} from '../../protocol/generated/internal/consumer-group-metadata-value.js';
import {
  decodeConsumerGroupPartitionMetadataKey,
  encodeConsumerGroupPartitionMetadataKey,
} from '../../protocol/generated/internal/consumer-group-partition-metadata-key.js';
import {
  type ConsumerGroupPartitionMetadataValue,
  decodeConsumerGroupPartitionMetadataValue,
  encodeConsumerGroupPartitionMetadataValue,
} from '../../protocol/generated/internal/consumer-group-partition-metadata-value.js';
import {
  decodeConsumerGroupTargetAssignmentMemberKey,
  encodeConsumerGroupTargetAssignmentMemberKey,
} from '../../protocol/generated/internal/consumer-group-target-assignment-member-key.js';
import {
  type ConsumerGroupTargetAssignmentMemberValue,
  decodeConsumerGroupTargetAssignmentMemberValue,
  encodeConsumerGroupTargetAssignmentMemberValue,
} from '../../protocol/generated/internal/consumer-group-target-assignment-member-value.js';
import {
  decodeConsumerGroupTargetAssignmentMetadataKey,
  encodeConsumerGroupTargetAssignmentMetadataKey,
} from '../../protocol/generated/internal/consumer-group-target-assignment-metadata-key.js';
import {
  type ConsumerGroupTargetAssignmentMetadataValue,
  decodeConsumerGroupTargetAssignmentMetadataValue,
  encodeConsumerGroupTargetAssignmentMetadataValue,
} from '../../protocol/generated/internal/consumer-group-target-assignment-metadata-value.js';
import {
  decodeGroupMetadataKey,
  encodeGroupMetadataKey,
} from '../../protocol/generated/internal/group-metadata-key.js';
import {
  decodeGroupMetadataValue,
  encodeGroupMetadataValue,
  type GroupMetadataValue,
} from '../../protocol/generated/internal/group-metadata-value.js';
import { decodeOffsetCommitKey, encodeOffsetCommitKey } from '../../protocol/generated/internal/offset-commit-key.js';
import {
  decodeOffsetCommitValue,
  encodeOffsetCommitValue,
  type OffsetCommitValue,
} from '../../protocol/generated/internal/offset-commit-value.js';
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
  | { type: 'group'; group: string; value: GroupMetadataValue | null }
  | ConsumerGroupRecord;

/**
 * The records of a consumer group (KIP-848): its epoch, the topics its members subscribe to, each member's
 * subscription, the target assignment (its epoch, then one record per member), and each member's current
 * assignment. Kafka's key versions 3 to 8, each with value version 0.
 */
export type ConsumerGroupRecord =
  | { type: 'consumer-group'; group: string; value: ConsumerGroupMetadataValue | null }
  | { type: 'consumer-partition-metadata'; group: string; value: ConsumerGroupPartitionMetadataValue | null }
  | { type: 'consumer-member'; group: string; memberId: string; value: ConsumerGroupMemberMetadataValue | null }
  | { type: 'consumer-target-epoch'; group: string; value: ConsumerGroupTargetAssignmentMetadataValue | null }
  | {
      type: 'consumer-target-member';
      group: string;
      memberId: string;
      value: ConsumerGroupTargetAssignmentMemberValue | null;
    }
  | {
      type: 'consumer-current-assignment';
      group: string;
      memberId: string;
      value: ConsumerGroupCurrentMemberAssignmentValue | null;
    };

type ConsumerGroupRecordType = ConsumerGroupRecord['type'];

/** Key version, and the value codecs (all value version 0), of each consumer group record. */
const CONSUMER_GROUP_RECORDS: Record<
  ConsumerGroupRecordType,
  {
    keyVersion: number;
    encodeKey(w: Writer, version: number, key: { groupId: string; memberId: string }): void;
    encodeValue(w: Writer, version: number, value: never): void;
    decodeValue(r: Reader, version: number): unknown;
  }
> = {
  'consumer-group': {
    keyVersion: 3,
    encodeKey: encodeConsumerGroupMetadataKey,
    encodeValue: encodeConsumerGroupMetadataValue,
    decodeValue: decodeConsumerGroupMetadataValue,
  },
  'consumer-partition-metadata': {
    keyVersion: 4,
    encodeKey: encodeConsumerGroupPartitionMetadataKey,
    encodeValue: encodeConsumerGroupPartitionMetadataValue,
    decodeValue: decodeConsumerGroupPartitionMetadataValue,
  },
  'consumer-member': {
    keyVersion: 5,
    encodeKey: encodeConsumerGroupMemberMetadataKey,
    encodeValue: encodeConsumerGroupMemberMetadataValue,
    decodeValue: decodeConsumerGroupMemberMetadataValue,
  },
  'consumer-target-epoch': {
    keyVersion: 6,
    encodeKey: encodeConsumerGroupTargetAssignmentMetadataKey,
    encodeValue: encodeConsumerGroupTargetAssignmentMetadataValue,
    decodeValue: decodeConsumerGroupTargetAssignmentMetadataValue,
  },
  'consumer-target-member': {
    keyVersion: 7,
    encodeKey: encodeConsumerGroupTargetAssignmentMemberKey,
    encodeValue: encodeConsumerGroupTargetAssignmentMemberValue,
    decodeValue: decodeConsumerGroupTargetAssignmentMemberValue,
  },
  'consumer-current-assignment': {
    keyVersion: 8,
    encodeKey: encodeConsumerGroupCurrentMemberAssignmentKey,
    encodeValue: encodeConsumerGroupCurrentMemberAssignmentValue,
    decodeValue: decodeConsumerGroupCurrentMemberAssignmentValue,
  },
};

const CONSUMER_GROUP_VALUE_VERSION = 0;

/** The generated key codecs, by key version (each key spec has exactly one version). */
const CONSUMER_GROUP_KEYS: Record<
  number,
  { type: ConsumerGroupRecordType; decode(r: Reader, version: number): { groupId: string; memberId?: string } }
> = {
  3: { type: 'consumer-group', decode: decodeConsumerGroupMetadataKey },
  4: { type: 'consumer-partition-metadata', decode: decodeConsumerGroupPartitionMetadataKey },
  5: { type: 'consumer-member', decode: decodeConsumerGroupMemberMetadataKey },
  6: { type: 'consumer-target-epoch', decode: decodeConsumerGroupTargetAssignmentMetadataKey },
  7: { type: 'consumer-target-member', decode: decodeConsumerGroupTargetAssignmentMemberKey },
  8: { type: 'consumer-current-assignment', decode: decodeConsumerGroupCurrentMemberAssignmentKey },
};

/** The key and value bytes of a consumer group record (a null value is a tombstone). */
export function consumerGroupRecord(record: ConsumerGroupRecord): { key: Buffer; value: Buffer | null } {
  const spec = CONSUMER_GROUP_RECORDS[record.type];
  const memberId = 'memberId' in record ? record.memberId : '';
  const key = versioned(spec.keyVersion, (w) =>
    spec.encodeKey(w, spec.keyVersion, { groupId: record.group, memberId }),
  );
  const value =
    record.value === null
      ? null
      : versioned(CONSUMER_GROUP_VALUE_VERSION, (w) =>
          spec.encodeValue(w, CONSUMER_GROUP_VALUE_VERSION, record.value as never),
        );
  return { key, value };
}

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
 * Reads one record of `__consumer_offsets`. Returns null for key versions this broker does not know (share
 * groups' records), which loading skips as Kafka's own loader does.
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
  const consumer = CONSUMER_GROUP_KEYS[keyVersion];
  if (consumer) {
    const k = consumer.decode(kr, keyVersion);
    let decoded: unknown = null;
    if (value !== null) {
      const vr = new Reader(value);
      const valueVersion = vr.readInt16();
      if (valueVersion !== CONSUMER_GROUP_VALUE_VERSION)
        throw new DecodeError(`consumer group record value version ${valueVersion}`, 0);
      decoded = CONSUMER_GROUP_RECORDS[consumer.type].decodeValue(vr, valueVersion);
    }
    return { type: consumer.type, group: k.groupId, memberId: k.memberId ?? '', value: decoded } as ConsumerGroupRecord;
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
