import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { ReplicaManager } from '../../src/broker/replica-manager.js';
import { EmbeddedMetadataStore } from '../../src/cluster/embedded-metadata-store.js';
import { newUuid, TopicMetadata, type TopicRecord } from '../../src/cluster/topic-metadata.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { makeBatch, withTempDir } from '../storage/helpers.js';

const logConfig = {
  segmentBytes: 1 << 20,
  segmentMs: 1e12,
  retentionMs: -1,
  retentionBytes: -1,
  indexIntervalBytes: 4096,
  flushMessages: Number.POSITIVE_INFINITY,
};

function topic(name: string, partitions: number, leader = 0): TopicRecord {
  return {
    name,
    id: newUuid(),
    partitions: Array.from({ length: partitions }, (_, partition) => ({
      partition,
      leader,
      leaderEpoch: 0,
      replicas: [leader],
      isr: [leader],
    })),
    configs: {},
  };
}

test('logs follow the topic metadata: created, found, deleted, replaced when a topic is re-created', () =>
  withTempDir(async (dir) => {
    const store = await EmbeddedMetadataStore.open(dir);
    const topics = await TopicMetadata.load(store);
    const logs = new LogManager({ logDirs: [`${dir}/logs`], configFor: () => logConfig });
    await logs.startup();
    const replicas = new ReplicaManager(0, logs, topics, silentLogger);
    await replicas.start();

    await topics.create(topic('orders', 2));
    await topics.create(topic('elsewhere', 1, 7));
    await replicas.settled();
    assert.deepEqual((await readdir(`${dir}/logs`)).filter((d) => d.includes('-')).sort(), ['orders-0', 'orders-1']);

    const found = replicas.lookup('orders', 1);
    assert.ok('log' in found);
    assert.deepEqual(replicas.lookup('orders', 2), { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    assert.deepEqual(replicas.lookup('nope', 0), { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    assert.deepEqual(replicas.lookup('elsewhere', 0), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });

    // An append wakes a fetch waiting on that partition.
    let woken = false;
    const waiting = replicas.delayedFetches.wait(['orders-1'], 10_000, () => {
      woken = found.log.highWatermark > 0;
      return woken;
    });
    await found.log.append(makeBatch(1, 1), { sync: false, recordCount: 1 });
    assert.equal(await waiting, true);

    // Re-created under the same name: the old data must not reappear.
    await topics.delete('orders');
    await topics.create(topic('orders', 1));
    await replicas.settled();
    const fresh = replicas.lookup('orders', 0);
    assert.ok('log' in fresh);
    assert.equal(fresh.log.logEndOffset, 0);
    assert.deepEqual(replicas.lookup('orders', 1), { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    // Appends to the new log wake fetches as the old one's did.
    const waitingOnFresh = replicas.delayedFetches.wait(['orders-0'], 10_000, () => fresh.log.highWatermark > 0);
    await fresh.log.append(makeBatch(1, 1), { sync: false, recordCount: 1 });
    assert.equal(await waitingOnFresh, true);

    replicas.stop();
    await logs.shutdown();
    topics.close();
    await store.close();
  }));
