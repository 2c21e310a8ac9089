import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConsumerGroupCoordinator,
  type ConsumerHeartbeatRequest,
} from '../../src/coordinator/group/consumer-group-coordinator.js';
import { GroupShard, groupShardRecord } from '../../src/coordinator/group/group-shard.js';
import { Logger } from '../../src/observability/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';

/**
 * Subscription by regular expression. ConsumerGroupHeartbeat v0 (Kafka 3.9's specs, which the codecs are
 * generated from) has no field for it; v1 adds SubscribedTopicRegex. The coordinator resolves it already, so
 * it is tested here, below the wire.
 */

/** Topic ids as the protocol writes them: 16 bytes in URL-safe base64. */
function topicId(n: number): string {
  const bytes = Buffer.alloc(16);
  bytes[15] = n;
  return bytes.toString('base64url');
}
const [T1, T2, T3, T4, T5] = [1, 2, 3, 4, 5].map(topicId) as [string, string, string, string, string];

const TOPICS = new Map([
  ['orders-eu', { id: T1, numPartitions: 2 }],
  ['orders-us', { id: T2, numPartitions: 1 }],
  ['orders', { id: T3, numPartitions: 1 }],
  ['payments', { id: T4, numPartitions: 1 }],
  ['__consumer_offsets', { id: T5, numPartitions: 3 }],
]);

function coordinator(): ConsumerGroupCoordinator {
  // The committed state: one partition's shard, changed only by replaying the records each operation returns.
  const shard = new GroupShard();
  return new ConsumerGroupCoordinator({
    settings: { consumerHeartbeatIntervalMs: 5000, consumerSessionTimeoutMs: 45_000, consumerMaxSize: 100 },
    topics: {
      byName: (name) => TOPICS.get(name),
      byId: (id) => {
        const found = [...TOPICS].find(([, t]) => t.id === id);
        return found && { name: found[0], numPartitions: found[1].numPartitions };
      },
      names: () => TOPICS.keys(),
    },
    logger: new Logger('test', { level: 'error', sink: { write: () => {} } }),
    now: Date.now,
    write: async (_groupId, _name, op) => {
      const { records, response } = op();
      for (const r of records) shard.replay(groupShardRecord(r.key, r.value));
      return response;
    },
    group: (groupId) => shard.consumerGroup(groupId, Date.now()),
    copyOfGroup: (groupId) => shard.copyOfConsumerGroup(groupId, Date.now()),
    allGroups: () => shard.consumerGroupIds().map((id) => shard.consumerGroup(id, Date.now())!),
    // Timers never fire here: the regex resolution is what is tested.
    scheduleTimer: () => {},
    cancelTimer: () => {},
    classicGroup: () => undefined,
    dropClassicGroup: () => {},
  });
}

function join(regex: string | null, names: string[] | null = null): ConsumerHeartbeatRequest {
  return {
    groupId: 'g',
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: names,
    subscribedTopicRegex: regex,
    serverAssignor: null,
    ownedPartitions: [],
    clientId: 'c',
    clientHost: '/127.0.0.1',
  };
}

test('a regex subscribes to every topic it matches in full, never to internal topics', async () => {
  const c = coordinator();
  try {
    const r = await c.heartbeat(join('orders-.*'));
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.deepEqual(r.assignment?.map((t) => t.topicId).sort(), [T1, T2].sort());
    const all = await c.heartbeat({ ...join('.*'), groupId: 'g2' });
    assert.deepEqual(all.assignment?.map((t) => t.topicId).sort(), [T1, T2, T3, T4].sort());
    const both = await c.heartbeat({ ...join('pay.*', ['orders']), groupId: 'g3' });
    assert.deepEqual(both.assignment?.map((t) => t.topicId).sort(), [T3, T4].sort());
    const d = c.describe('g')!;
    assert.equal(d.members[0]!.subscribedTopicRegex, 'orders-.*');
  } finally {
    c.stop();
  }
});

test('an invalid regex is INVALID_REGULAR_EXPRESSION', async () => {
  const c = coordinator();
  try {
    const r = await c.heartbeat(join('orders-('));
    assert.equal(r.errorCode, ErrorCode.INVALID_REGULAR_EXPRESSION);
  } finally {
    c.stop();
  }
});
