import type { CommittedOffset } from './classic-group.js';

/**
 * Offsets committed inside transactions (TxnOffsetCommit), held per producer until the transaction's marker
 * reaches the group's partition of `__consumer_offsets`: COMMIT makes them the group's committed offsets, ABORT
 * drops them (Kafka's pending transactional offset commits). While held, OffsetFetch with require_stable
 * answers UNSTABLE_OFFSET_COMMIT for their partitions (KIP-447), so a new consumer does not start from offsets
 * that may still be rolled back.
 */
export class PendingTransactionalOffsets {
  /** producer id -> group id -> offset key -> offset */
  private readonly byProducer = new Map<bigint, Map<string, Map<string, CommittedOffset>>>();

  add(producerId: bigint, groupId: string, key: string, offset: CommittedOffset): void {
    let groups = this.byProducer.get(producerId);
    if (!groups) {
      groups = new Map();
      this.byProducer.set(producerId, groups);
    }
    let offsets = groups.get(groupId);
    if (!offsets) {
      offsets = new Map();
      groups.set(groupId, offsets);
    }
    offsets.set(key, offset);
  }

  /** Removes and returns the producer's pending offsets of the groups `inPartition` selects. */
  take(producerId: bigint, inPartition: (groupId: string) => boolean): Map<string, Map<string, CommittedOffset>> {
    const taken = new Map<string, Map<string, CommittedOffset>>();
    const groups = this.byProducer.get(producerId);
    if (!groups) return taken;
    for (const [groupId, offsets] of groups) {
      if (!inPartition(groupId)) continue;
      taken.set(groupId, offsets);
      groups.delete(groupId);
    }
    if (groups.size === 0) this.byProducer.delete(producerId);
    return taken;
  }

  /** Whether some open transaction holds an offset of the group's partition. */
  isPending(groupId: string, key: string): boolean {
    for (const groups of this.byProducer.values()) if (groups.get(groupId)?.has(key)) return true;
    return false;
  }

  /** The offsets held, as plain data in a fixed order (for comparing two states). */
  snapshot(): Array<[string, Array<[string, Array<[string, CommittedOffset]>]>]> {
    const sorted = <V>(entries: Array<[string, V]>) => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return sorted(
      [...this.byProducer].map(([producerId, groups]) => [
        producerId.toString(),
        sorted([...groups].map(([group, offsets]) => [group, sorted([...offsets])])),
      ]),
    );
  }
}
