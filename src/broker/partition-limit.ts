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

/** Partitions counted against the limit while being created, so that concurrent requests cannot pass it together. */
const reservedPartitions = new WeakMap<TopicMetadata, number>();

function hostedPartitions(topics: TopicMetadata): number {
  let count = 0;
  for (const topic of topics.all()) count += topic.partitions.length;
  return count;
}

/** Room for new partitions taken under the limit; released once they exist (or were not created). */
export interface PartitionReservation {
  release(): void;
}

/**
 * Reserves room for `count` new partitions, or returns the POLICY_VIOLATION message when they would take the
 * broker past its limit. Internal topics are created by the broker itself and are not checked.
 */
export function reservePartitions(broker: BrokerServices, count: number): PartitionReservation | string {
  const limit = maxBrokerPartitions(broker);
  const reserved = reservedPartitions.get(broker.topics) ?? 0;
  const hosted = hostedPartitions(broker.topics) + reserved;
  if (hosted + count > limit) {
    return `Creating ${count} partition(s) would take the broker to ${hosted + count} partitions, past its limit of ${limit} (samsa.max.broker.partitions).`;
  }
  reservedPartitions.set(broker.topics, reserved + count);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      reservedPartitions.set(broker.topics, (reservedPartitions.get(broker.topics) ?? count) - count);
    },
  };
}
