import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBrokerSettings } from '../../src/broker/broker.js';
import { logConfigFor, produceSettings } from '../../src/broker/topic-settings.js';
import type { TopicRecord } from '../../src/cluster/topic-metadata.js';
import { CompressionType } from '../../src/protocol/records/compression/index.js';

function topic(configs: Record<string, string>): TopicRecord {
  return { name: 't', id: 'AAAAAAAAAAAAAAAAAAAAAQ', partitions: [], configs };
}

test('a topic config applies its override, else the broker config of server.properties, else the default', () => {
  const settings = {
    ...defaultBrokerSettings(),
    staticConfigs: { 'log.cleanup.policy': 'compact', 'compression.type': 'lz4' },
  };
  // The broker's compact policy keeps every record (no trimming by retention) unless the topic says otherwise.
  assert.equal(logConfigFor(topic({}), settings).retentionMs, -1);
  assert.equal(
    logConfigFor(topic({ 'cleanup.policy': 'delete' }), settings).retentionMs,
    settings.logDefaults.retentionMs,
  );
  assert.equal(produceSettings(topic({}), settings).codec, CompressionType.Lz4);
  assert.equal(produceSettings(topic({ 'compression.type': 'producer' }), settings).codec, null);
  assert.equal(produceSettings(topic({}), defaultBrokerSettings()).codec, null);
  assert.equal(produceSettings(topic({ 'max.message.bytes': '10' }), settings).maxMessageBytes, 10);
});

test('a topic without an override follows the dynamic broker config over server.properties, per broker over default', () => {
  const settings = {
    ...defaultBrokerSettings(),
    staticConfigs: { 'compression.type': 'lz4', 'log.cleanup.policy': 'compact' },
  };
  const record = topic({});
  assert.equal(produceSettings(record, settings).codec, CompressionType.Lz4);
  settings.dynamicConfigs = {
    broker: {},
    clusterDefault: { 'compression.type': 'gzip', 'log.cleanup.policy': 'delete' },
  };
  // The same topic record: what was resolved under the former dynamic configs is not reused.
  assert.equal(produceSettings(record, settings).codec, CompressionType.Gzip);
  assert.equal(logConfigFor(record, settings).retentionMs, settings.logDefaults.retentionMs);
  settings.dynamicConfigs = {
    broker: { 'compression.type': 'snappy' },
    clusterDefault: { 'compression.type': 'gzip' },
  };
  assert.equal(produceSettings(record, settings).codec, CompressionType.Snappy);
  assert.equal(produceSettings(topic({ 'compression.type': 'zstd' }), settings).codec, CompressionType.Zstd);
});
