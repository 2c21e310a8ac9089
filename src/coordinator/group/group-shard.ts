import type { GroupMetadataValue } from '../../protocol/generated/internal/group-metadata-value.js';
import { DecodeError } from '../../protocol/primitives/index.js';
import { ControlType } from '../../protocol/records/control-record.js';
import type { CoordinatorBatchInfo } from '../runtime/coordinator-log.js';
import type { CoordinatorSerde, CoordinatorShard } from '../runtime/coordinator-runtime.js';
import { type CommittedOffset, offsetKey } from './classic-group.js';
import type { ConsumerGroup } from './consumer-group.js';
import { rebuildConsumerGroups } from './consumer-group-records.js';
import {
  type ConsumerGroupRecord,
  type OffsetsRecord,
  offsetCommitKey,
  offsetCommitValue,
  readOffsetsRecord,
} from './offsets-records.js';
import { PendingTransactionalOffsets } from './transactional-offsets.js';

/**
 * A record of `__consumer_offsets` as the offsets store replays it:
 * - `offset`: a committed offset (null deletes it); `producerId` is set when it came in a transactional batch
 *   (TxnOffsetCommit), which holds it pending until the producer's marker;
 * - `marker`: a transaction marker (a control record), which commits or drops that producer's pending offsets;
 * - `group`: a classic or consumer group record, as read and as bytes (written back as they are).
 */
export type GroupShardRecord =
  | {
      type: 'offset';
      group: string;
      topic: string;
      partition: number;
      offset: CommittedOffset | null;
      producerId: bigint | null;
    }
  | { type: 'marker'; producerId: bigint; committed: boolean }
  | { type: 'group'; key: Buffer; value: Buffer | null; record: Exclude<OffsetsRecord, { type: 'offset' }> };

/** Length of a control record's key: version (int16) and type (int16). */
const CONTROL_KEY_BYTES = 4;

export const groupRecordsSerde: CoordinatorSerde<GroupShardRecord> = {
  readsControlRecords: true,
  serialize(record) {
    switch (record.type) {
      case 'offset':
        return {
          key: offsetCommitKey({ group: record.group, topic: record.topic, partition: record.partition }),
          value: record.offset && offsetCommitValue({ ...record.offset, expireTimestamp: -1n }),
        };
      case 'group':
        return { key: record.key, value: record.value };
      case 'marker':
        // Markers are written by the transaction coordinator, through the partition's log.
        throw new Error('a transaction marker is not written by the offsets store');
    }
  },
  deserialize(key: Buffer, value: Buffer | null, batch?: CoordinatorBatchInfo): GroupShardRecord | null {
    if (batch?.isControl) {
      if (key.length < CONTROL_KEY_BYTES) throw new DecodeError('control record without a key', 0);
      const type = key.readInt16BE(2);
      if (type !== ControlType.Abort && type !== ControlType.Commit) return null;
      return { type: 'marker', producerId: batch.producerId, committed: type === ControlType.Commit };
    }
    const parsed = readOffsetsRecord(key, value);
    if (parsed === null) return null;
    if (parsed.type !== 'offset') return { type: 'group', key, value, record: parsed };
    return {
      type: 'offset',
      ...parsed.key,
      offset: parsed.value && {
        offset: parsed.value.offset,
        leaderEpoch: parsed.value.leaderEpoch,
        metadata: parsed.value.metadata,
        commitTimestamp: parsed.value.commitTimestamp,
      },
      producerId: batch?.isTransactional ? batch.producerId : null,
    };
  },
};

/**
 * What one partition of `__consumer_offsets` holds, changed only by `replay`: the committed offsets of its groups
 * (Kafka's OffsetMetadataManager), the offsets open transactions committed, pending until their marker, and
 * the stored image of each group: a classic group's last GroupMetadata value, a consumer group's records (the
 * last of each key). The groups' live membership (`GroupCoordinator`) is built from the images at load.
 */
export class GroupShard implements CoordinatorShard<GroupShardRecord> {
  /** group id -> offset key -> committed offset; a group without offsets has no entry. */
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  readonly pending = new PendingTransactionalOffsets();
  /** Classic groups as last stored. */
  readonly classicGroups = new Map<string, GroupMetadataValue>();
  /** Consumer group records, the last of each key, in the order they were last written. */
  readonly consumerRecords = new Map<string, ConsumerGroupRecord>();
  /** Which kind of group each id was last written as: an id changes kind when an empty group gives way. */
  readonly lastKind = new Map<string, 'classic' | 'consumer'>();
  /** The consumer group records of each group, the last of each key, in the order they were last written. */
  private readonly consumerRecordsByGroup = new Map<string, Map<string, ConsumerGroupRecord>>();
  /** Consumer groups as their records make them, built on first read after a change. */
  private readonly consumerGroupCache = new Map<string, ConsumerGroup>();
  /** Groups whose records changed since their cached group was built. */
  private readonly staleConsumerGroups = new Set<string>();

  replay(record: GroupShardRecord): void {
    switch (record.type) {
      case 'offset': {
        const key = offsetKey(record.topic, record.partition);
        if (record.producerId !== null) {
          // A transaction writes no tombstones; one found here deletes nothing until its marker either.
          if (record.offset) this.pending.add(record.producerId, record.group, key, record.offset);
          return;
        }
        this.set(record.group, key, record.offset);
        return;
      }
      case 'marker': {
        const taken = this.pending.take(record.producerId, () => true);
        if (!record.committed) return;
        for (const [group, offsets] of taken) for (const [key, offset] of offsets) this.set(group, key, offset);
        return;
      }
      case 'group':
        this.replayGroup(record.key, record.record);
        return;
    }
  }

  private replayGroup(key: Buffer, record: Exclude<OffsetsRecord, { type: 'offset' }>): void {
    if (record.type === 'group') {
      if (record.value) {
        this.classicGroups.set(record.group, record.value);
        this.lastKind.set(record.group, 'classic');
      } else {
        this.classicGroups.delete(record.group);
      }
      this.staleConsumerGroups.add(record.group);
      return;
    }
    const k = key.toString('hex');
    // A record moves to the end when written again: the order is that of each key's last write.
    this.consumerRecords.delete(k);
    if (record.value !== null) this.consumerRecords.set(k, record);
    let ofGroup = this.consumerRecordsByGroup.get(record.group);
    if (!ofGroup) {
      ofGroup = new Map();
      this.consumerRecordsByGroup.set(record.group, ofGroup);
    }
    ofGroup.delete(k);
    if (record.value !== null) ofGroup.set(k, record);
    if (ofGroup.size === 0) this.consumerRecordsByGroup.delete(record.group);
    this.staleConsumerGroups.add(record.group);
    if (record.type === 'consumer-group' && record.value) this.lastKind.set(record.group, 'consumer');
  }

  /**
   * The consumer group of that id as its records make it (the same rebuild a load does), or undefined when the
   * id is not a consumer group. The object is shared by readers until the group's next record: not to be
   * changed; `copyOfConsumerGroup` gives one to decide on.
   */
  consumerGroup(groupId: string, nowMs: number): ConsumerGroup | undefined {
    if (this.lastKind.get(groupId) !== 'consumer') return undefined;
    const cached = this.consumerGroupCache.get(groupId);
    if (cached && !this.staleConsumerGroups.has(groupId)) return cached;
    this.staleConsumerGroups.delete(groupId);
    const group = this.copyOfConsumerGroup(groupId, nowMs);
    if (!group) {
      this.consumerGroupCache.delete(groupId);
      return undefined;
    }
    // A group ages (offsets retention) from when it last became empty, which a rebuild must not reset.
    if (cached && (cached.members.size === 0) === (group.members.size === 0))
      group.stateTimestamp = cached.stateTimestamp;
    this.consumerGroupCache.set(groupId, group);
    return group;
  }

  /** A fresh consumer group built from the group's records, for an operation to change as it decides. */
  copyOfConsumerGroup(groupId: string, nowMs: number): ConsumerGroup | undefined {
    if (this.lastKind.get(groupId) !== 'consumer') return undefined;
    const records = this.consumerRecordsByGroup.get(groupId);
    if (!records) return undefined;
    return rebuildConsumerGroups([...records.values()], nowMs)[0];
  }

  /** The ids of the consumer groups of this partition. */
  consumerGroupIds(): string[] {
    return [...this.consumerRecordsByGroup.keys()].filter((id) => this.lastKind.get(id) === 'consumer');
  }

  private set(group: string, key: string, offset: CommittedOffset | null): void {
    let groupOffsets = this.offsets.get(group);
    if (offset === null) {
      groupOffsets?.delete(key);
      if (groupOffsets?.size === 0) this.offsets.delete(group);
      return;
    }
    if (!groupOffsets) {
      groupOffsets = new Map();
      this.offsets.set(group, groupOffsets);
    }
    groupOffsets.set(key, offset);
  }

  offsetsOf(group: string): ReadonlyMap<string, CommittedOffset> {
    return this.offsets.get(group) ?? EMPTY_OFFSETS;
  }

  /** The state as plain data, in a fixed order: two shards hold the same state when these are deep-equal. */
  snapshot(): { offsets: Array<[string, Array<[string, CommittedOffset]>]>; pending: unknown; groups: unknown } {
    const sorted = <V>(m: ReadonlyMap<string, V>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      offsets: sorted(this.offsets).map(([g, o]) => [g, sorted(o)]),
      pending: this.pending.snapshot(),
      groups: {
        classic: sorted(this.classicGroups),
        consumer: [...this.consumerRecords],
        lastKind: sorted(this.lastKind),
      },
    };
  }
}

const EMPTY_OFFSETS: ReadonlyMap<string, CommittedOffset> = new Map();

/** A classic or consumer group record this broker is about to write, as the shard replays it. */
export function groupShardRecord(key: Buffer, value: Buffer | null): GroupShardRecord {
  const record = readOffsetsRecord(key, value);
  if (record === null || record.type === 'offset') throw new Error('not a group record');
  return { type: 'group', key, value, record };
}
