import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBrokerSettings } from '../../src/broker/broker.js';
import {
  applyDynamicBrokerConfigs,
  dynamicallyConfigurable,
  dynamicBrokerConfigsError,
} from '../../src/config/dynamic-broker-config.js';
import { LONG_MAX_TEXT } from '../../src/config/topic-config.js';

test('dynamic broker configs: per broker over cluster default over the static values, and back when removed', () => {
  const settings = { ...defaultBrokerSettings(), maxConnections: 500 };
  settings.logDefaults = { ...settings.logDefaults, retentionMs: 3_600_000 };
  const base = dynamicallyConfigurable(settings);
  applyDynamicBrokerConfigs(settings, base, {
    broker: { 'log.retention.ms': '-5', 'message.max.bytes': '2000' },
    clusterDefault: {
      'log.retention.ms': '1000',
      'log.segment.bytes': '4096',
      'log.flush.interval.ms': LONG_MAX_TEXT,
      'max.connections': '2147483647',
      'log.message.timestamp.type': 'LogAppendTime',
    },
  });
  assert.equal(settings.logDefaults.retentionMs, -1, 'any negative retention is "keep forever"');
  assert.equal(settings.logDefaults.segmentBytes, 4096);
  assert.equal(settings.messageMaxBytes, 2000);
  assert.equal(settings.logFlushIntervalMs, Number.POSITIVE_INFINITY, "Long.MAX_VALUE is Kafka's never");
  assert.equal(settings.maxConnections, defaultBrokerSettings().maxConnections, 'bounded as at start-up');
  assert.equal(settings.logMessageTimestampType, 'LogAppendTime');
  applyDynamicBrokerConfigs(settings, base, { broker: {}, clusterDefault: {} });
  assert.deepEqual(dynamicallyConfigurable(settings), base);
});

test('dynamic broker configs are checked as Kafka checks them', () => {
  assert.equal(dynamicBrokerConfigsError({ 'log.retention.ms': '1000', 'my.plugin.option': 'x' }, true), null);
  assert.equal(
    dynamicBrokerConfigsError({ 'num.partitions': '3', 'log.segment.bytes': '4096', 'log.dirs': '/x' }, true),
    'Cannot update these configs dynamically: [num.partitions, log.dirs]',
  );
  for (const readOnly of [
    'listeners',
    'ssl.keystore.location',
    'listener.name.internal.ssl.client.auth',
    'log.cleaner.enable',
  ])
    assert.match(
      dynamicBrokerConfigsError({ [readOnly]: 'x' }, true) ?? '',
      /^Cannot update these configs dynamically/,
    );
  assert.equal(
    dynamicBrokerConfigsError({ 'log.cleanup.policy': 'delete,forever' }, true),
    'Invalid value delete,forever for configuration log.cleanup.policy: Invalid value forever for configuration log.cleanup.policy',
  );
  assert.match(dynamicBrokerConfigsError({ 'num.io.threads': '0' }, false) ?? '', /at least 1/);
  assert.equal(dynamicBrokerConfigsError({ 'sasl.kerberos.min.time.before.relogin': '58000' }, true), null);
  // A listener's key and trust stores are renewed per broker, under the listener's prefix only.
  assert.equal(dynamicBrokerConfigsError({ 'listener.name.internal.ssl.key.password': 'x' }, true), null);
  assert.match(
    dynamicBrokerConfigsError({ 'listener.name.internal.ssl.keystore.location': '/k.pem' }, false) ?? '',
    /^Cannot update these configs at default cluster level, broker id must be specified/,
  );
  assert.match(
    dynamicBrokerConfigsError({ 'sasl.kerberos.min.time.before.relogin': '58000' }, false) ?? '',
    /^Cannot update these configs at default cluster level, broker id must be specified/,
  );
});
