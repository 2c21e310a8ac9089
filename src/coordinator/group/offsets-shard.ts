import { DecodeError } from '../../protocol/primitives/index.js';
import { ControlType } from '../../protocol/records/control-record.js';
import type { CoordinatorBatchInfo } from '../runtime/coordinator-log.js';
import type { CoordinatorSerde, CoordinatorShard } from '../runtime/coordinator-runtime.js';
import { type CommittedOffset, offsetKey } from './classic-group.js';
import { offsetCommitKey, offsetCommitValue, readOffsetsRecord } from './offsets-records.js';
import { PendingTransactionalOffsets } from './transactional-offsets.js';

/**
 * A record of `__consumer_offsets` as the offsets store replays it:
 * - `offset`: a committed offset (null deletes it); `producerId` is set when it came in a transactional batch
 *   (TxnOffsetCommit), which holds it pending until the producer's marker;
 * - `marker`: a transaction marker (a control record), which commits or drops that producer's pending offsets;
 * - `group`: any other record (classic and consumer group records) as bytes: the group state replays those.
 */
export type OffsetsShardRecord =
  | {
      type: 'offset';
      group: string;
      topic: string;
      partition: number;
      offset: CommittedOffset | null;
      producerId: bigint | null;
    }
  | { type: 'marker'; producerId: bigint; committed: boolean }
  | { type: 'group'; key: Buffer; value: Buffer | null };

/** Length of a control record's key: version (int16) and type (int16). */
const CONTROL_KEY_BYTES = 4;

export const offsetsSerde: CoordinatorSerde<OffsetsShardRecord> = {
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
  deserialize(key: Buffer, value: Buffer | null, batch?: CoordinatorBatchInfo): OffsetsShardRecord | null {
    if (batch?.isControl) {
      if (key.length < CONTROL_KEY_BYTES) throw new DecodeError('control record without a key', 0);
      const type = key.readInt16BE(2);
      if (type !== ControlType.Abort && type !== ControlType.Commit) return null;
      return { type: 'marker', producerId: batch.producerId, committed: type === ControlType.Commit };
    }
    const parsed = readOffsetsRecord(key, value);
    if (parsed === null) return null;
    if (parsed.type !== 'offset') return { type: 'group', key, value };
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
 * The committed offsets of the groups of one partition of `__consumer_offsets` (Kafka's OffsetMetadataManager),
 * and the offsets open transactions committed, pending until their marker. Changed only by `replay`.
 */
export class OffsetsShard implements CoordinatorShard<OffsetsShardRecord> {
  /** group id -> offset key -> committed offset; a group without offsets has no entry. */
  readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  readonly pending = new PendingTransactionalOffsets();

  replay(record: OffsetsShardRecord): void {
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
        return;
    }
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
  snapshot(): { offsets: Array<[string, Array<[string, CommittedOffset]>]>; pending: unknown } {
    const sorted = <V>(m: ReadonlyMap<string, V>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      offsets: sorted(this.offsets).map(([g, o]) => [g, sorted(o)]),
      pending: this.pending.snapshot(),
    };
  }
}

const EMPTY_OFFSETS: ReadonlyMap<string, CommittedOffset> = new Map();
