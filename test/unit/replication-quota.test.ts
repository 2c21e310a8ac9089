import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBrokerSettings } from '../../src/broker/broker.js';
import { ReplicationQuotaManager } from '../../src/broker/replication-quota.js';
import {
  parseThrottle,
  reassigningBrokers,
  runReassignPartitions,
  throttledReplicas,
} from '../../src/cli/tools/reassign-partitions.js';
import {
  applyDynamicBrokerConfigs,
  dynamicallyConfigurable,
  dynamicBrokerConfigsError,
} from '../../src/config/dynamic-broker-config.js';
import { throttledPartitionsOf, topicConfigsError } from '../../src/config/topic-config.js';

const LIST_FORMAT =
  "must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...";

test("throttled-replicas topic configs are validated as Kafka's ThrottledReplicaListValidator", () => {
  for (const key of ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas']) {
    for (const good of ['', '*', ' * ', '0:1', '0:1,1:2,10:30', ' 0:1 , 1:2 ', '0:1,,1:2']) {
      assert.equal(topicConfigsError({ [key]: good }), null, `'${good}' is valid`);
    }
    for (const bad of ['a', '0', '0:', ':1', '0-1', '0:1,*', '*,*', '0:1:2', '-1:2', '0:b']) {
      assert.equal(
        topicConfigsError({ [key]: bad }),
        `Invalid value ${bad} for configuration ${key}: ${LIST_FORMAT}`,
        `'${bad}' is refused`,
      );
    }
  }
});

test("a throttled-replicas list names this broker's partitions (Kafka's parseThrottledPartitions)", () => {
  assert.equal(throttledPartitionsOf('*', 3), 'all');
  assert.deepEqual([...(throttledPartitionsOf('0:1,1:2,2:1, 5:1', 1) as Set<number>)], [0, 2, 5]);
  assert.deepEqual([...(throttledPartitionsOf('0:1,1:2', 3) as Set<number>)], []);
  assert.deepEqual([...(throttledPartitionsOf(undefined, 3) as Set<number>)], []);
  assert.deepEqual([...(throttledPartitionsOf('', 3) as Set<number>)], []);
});

test('the replication throttled rates are dynamic broker configs: longs of at least 0, per broker or default', () => {
  for (const key of ['leader.replication.throttled.rate', 'follower.replication.throttled.rate']) {
    assert.equal(dynamicBrokerConfigsError({ [key]: '1048576' }, true), null);
    assert.equal(dynamicBrokerConfigsError({ [key]: '0' }, false), null, 'a cluster default');
    assert.equal(
      dynamicBrokerConfigsError({ [key]: '-1' }, true),
      `Invalid value -1 for configuration ${key}: Value must be at least 0`,
    );
    assert.equal(
      dynamicBrokerConfigsError({ [key]: '1.5' }, true),
      `Invalid value 1.5 for configuration ${key}: Not a number of type LONG`,
    );
  }
  const settings = defaultBrokerSettings();
  const base = dynamicallyConfigurable(settings);
  assert.equal(settings.replication.leaderReplicationThrottledRate, Number.POSITIVE_INFINITY, 'Long.MAX_VALUE');
  applyDynamicBrokerConfigs(settings, base, {
    broker: { 'leader.replication.throttled.rate': '1000' },
    clusterDefault: { 'leader.replication.throttled.rate': '5', 'follower.replication.throttled.rate': '2000' },
  });
  assert.equal(settings.replication.leaderReplicationThrottledRate, 1000, 'per broker over the cluster default');
  assert.equal(settings.replication.followerReplicationThrottledRate, 2000);
  applyDynamicBrokerConfigs(settings, base, { broker: {}, clusterDefault: {} });
  assert.equal(settings.replication.leaderReplicationThrottledRate, Number.POSITIVE_INFINITY, 'removed: unbounded');
  assert.equal(settings.replication.followerReplicationThrottledRate, Number.POSITIVE_INFINITY);
});

test('a replication quota: exceeded once the rate over its windows passes the bound, not at it; throttled replicas from the topic config', () => {
  let bound = 1000;
  const configs: Record<string, string> = { 'leader.replication.throttled.replicas': '0:7,1:8' };
  const quota = new ReplicationQuotaManager(
    'leader',
    7,
    () => bound,
    () => ({ num: 2, sizeMs: 1000 }),
    (_topic, key) => configs[key],
  );
  assert.equal(quota.isThrottled('t', 0), true);
  assert.equal(quota.isThrottled('t', 1), false, 'another broker');
  // Two 1 s samples: the rate counts at least one full window.
  quota.record(1000, 10_000);
  assert.equal(quota.byteRate(10_000), 1000);
  assert.equal(quota.isQuotaExceeded(10_000), false, 'at the bound');
  quota.record(1, 10_000);
  assert.equal(quota.isQuotaExceeded(10_000), true, 'over the bound');
  assert.equal(quota.isQuotaExceeded(12_500), false, 'the samples expired');
  bound = Number.POSITIVE_INFINITY;
  quota.record(1_000_000, 12_500);
  assert.equal(quota.isQuotaExceeded(12_500), false, 'no bound (Long.MAX_VALUE)');
  assert.equal(quota.throttledBytes, 1_001_001);
  configs['leader.replication.throttled.replicas'] = '*';
  assert.equal(quota.isThrottled('t', 1), true, 'a changed config is read again');
});

test('reassign-partitions --throttle: the leader list holds the current replicas, the follower list the added ones', () => {
  const current = [
    { topic: 'a', partition: 0, replicas: [1, 2] },
    { topic: 'a', partition: 1, replicas: [2, 3] },
    { topic: 'b', partition: 0, replicas: [1] },
  ];
  const target = [
    { topic: 'a', partition: 0, replicas: [2, 3] },
    { topic: 'a', partition: 1, replicas: [2, 3] },
    { topic: 'b', partition: 0, replicas: [1, 4] },
  ];
  assert.deepEqual(Object.fromEntries(throttledReplicas(current, target)), {
    a: { leader: '0:1,0:2', follower: '0:3' },
    b: { leader: '0:1', follower: '0:4' },
  });
  assert.deepEqual(reassigningBrokers(current, target), [1, 2, 3, 4]);
  assert.equal(parseThrottle(undefined), null);
  assert.equal(parseThrottle('-1'), null, "Kafka's default: none");
  assert.equal(parseThrottle('50000000'), '50000000');
  assert.throws(() => parseThrottle('10MB'), /--throttle must be a number of bytes per second/);
});

/** The tools' exit code for a usage error (cli/tools/args.ts). */
const USAGE_EXIT_CODE = 2;

test('reassign-partitions: --throttle only with --execute, and a number', async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    const base = ['--bootstrap-server', '127.0.0.1:1', '--reassignment-json-file', 'plan.json'];
    assert.equal(await runReassignPartitions([...base, '--verify', '--throttle', '1000']), USAGE_EXIT_CODE);
    assert.match(errors.pop() ?? '', /--throttle can only be used with --execute/);
    assert.equal(await runReassignPartitions([...base, '--execute', '--throttle', 'fast']), USAGE_EXIT_CODE);
    assert.match(errors.pop() ?? '', /--throttle must be a number of bytes per second, not 'fast'/);
  } finally {
    console.error = original;
  }
});
