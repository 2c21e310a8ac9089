import type { TopicMetadata } from '../cluster/topic-metadata.js';
import { openFilesLimit } from '../storage/open-files.js';
import type { BrokerServices } from './api-handler.js';

/**
 * The broker-wide limit on partitions (`samsa.max.broker.partitions`). Every partition holds files open (its active
 * segment's `.log`, `.index` and `.timeindex`), so without a limit any client could create partitions (a
 * million in one CreateTopics, or one topic per Metadata request with auto-creation) until the broker runs out
 * of file descriptors, and then neither accepts connections nor starts again. Kafka proposed such a limit in
 * KIP-578 (`max.broker.partitions`) but never shipped it; the error is Kafka's answer to a partition count its
 * controller refuses, POLICY_VIOLATION.
 */

/** Files an active partition keeps open: its active segment's `.log`, `.index` and `.timeindex`. */
const FILES_PER_PARTITION = 3;
/**
 * Share of the open-files limit that the partitions' own files may take by default. The rest is for the files a
 * segment roll opens for a moment (the next segment's three and a producer snapshot: all partitions may roll in
 * the same round), connections, the inactive segments being read, and the broker's own files.
 */
const PARTITIONS_SHARE_OF_OPEN_FILES = 1 / 4;

/** The default limit: as many partitions as a quarter of the process's open-files limit can hold open. */
export function defaultMaxBrokerPartitions(limit = openFilesLimit()): number {
  return Math.max(1, Math.floor((limit * PARTITIONS_SHARE_OF_OPEN_FILES) / FILES_PER_PARTITION));
}

export function maxBrokerPartitions(broker: BrokerServices): number {
  return broker.settings.maxBrokerPartitions ?? defaultMaxBrokerPartitions();
}

/**
 * Partitions counted against the limit while being created, so that concurrent requests cannot pass it together.
 * A reservation says how many partitions its topic will have once created or grown. It is counted as the larger
 * of that and what the metadata already holds, never added to it: a topic written to the metadata while its
 * reservation is still held (it is released only once the logs exist) must not be counted twice.
 */
interface Reservation {
  readonly topic: string;
  readonly partitions: number;
}
const reservations = new WeakMap<TopicMetadata, Set<Reservation>>();

function hostedPartitions(topics: TopicMetadata, pending: Iterable<Reservation>): number {
  const reservedByTopic = new Map<string, number>();
  for (const r of pending) reservedByTopic.set(r.topic, Math.max(reservedByTopic.get(r.topic) ?? 0, r.partitions));
  let count = 0;
  for (const topic of topics.all()) {
    count += Math.max(topic.partitions.length, reservedByTopic.get(topic.name) ?? 0);
    reservedByTopic.delete(topic.name);
  }
  for (const partitions of reservedByTopic.values()) count += partitions;
  return count;
}

/** Room for new partitions taken under the limit; released once they exist (or were not created). */
export interface PartitionReservation {
  release(): void;
}

/**
 * Reserves room for `topic` to have `partitions` partitions (created, or grown to that count), or returns the
 * POLICY_VIOLATION message when that would take the broker past its limit. Internal topics are created by the
 * broker itself and are not checked.
 */
export function reservePartitions(
  broker: BrokerServices,
  topic: string,
  partitions: number,
): PartitionReservation | string {
  const limit = maxBrokerPartitions(broker);
  const pending = reservations.get(broker.topics) ?? new Set<Reservation>();
  reservations.set(broker.topics, pending);
  const before = hostedPartitions(broker.topics, pending);
  const reservation: Reservation = { topic, partitions };
  const after = hostedPartitions(broker.topics, [...pending, reservation]);
  if (after > limit) {
    return `Creating ${after - before} partition(s) would take the broker to ${after} partitions, past its limit of ${limit} (samsa.max.broker.partitions).`;
  }
  pending.add(reservation);
  return {
    release() {
      pending.delete(reservation);
    },
  };
}
