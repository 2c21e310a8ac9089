import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerServices } from '../../src/broker/api-handler.js';
import { reservePartitions } from '../../src/broker/partition-limit.js';
import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { newUuid, TopicMetadata, type TopicRecord } from '../../src/cluster/topic-metadata.js';
import { withTempDir } from '../storage/helpers.js';

function topic(name: string, partitions: number): TopicRecord {
  return {
    name,
    id: newUuid(),
    partitions: Array.from({ length: partitions }, (_, partition) => ({
      partition,
      leader: 0,
      leaderEpoch: 0,
      replicas: [0],
      isr: [0],
    })),
    configs: {},
  };
}

test('a topic in the metadata whose reservation is still held counts once against the partition limit', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const topics = await TopicMetadata.load(store);
    // Only what the limit reads of the broker.
    const broker = { topics, settings: { maxBrokerPartitions: 10 } } as unknown as BrokerServices;
    try {
      const a = reservePartitions(broker, 'a', 4);
      assert.equal(typeof a, 'object');
      // The topic is written while its reservation is held (it is released once its logs exist).
      await topics.create(topic('a', 4));
      const b = reservePartitions(broker, 'b', 6);
      assert.equal(typeof b, 'object', 'four partitions of a and six of b fit a limit of ten');
      assert.match(String(reservePartitions(broker, 'c', 1)), /take the broker to 11 partitions/);
      // Growing a topic reserves its new total: a to 5 is one more partition.
      if (typeof b === 'object') b.release();
      if (typeof a === 'object') a.release();
      const grow = reservePartitions(broker, 'a', 5);
      assert.equal(typeof grow, 'object');
      assert.match(String(reservePartitions(broker, 'd', 6)), /Creating 6 partition\(s\) would take the broker to 11/);
    } finally {
      topics.close();
      await store.close();
    }
  }));
