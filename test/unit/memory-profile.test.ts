import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../../src/config/broker-config.js';
import { memoryProfileValues } from '../../src/config/memory-profile.js';

const MiB = 1024 * 1024;
const settingsOf = (entries: Record<string, string>) =>
  toBrokerSettings(parseBrokerConfig(new Map(Object.entries(entries))).values);

test('samsa.memory.profile=small sizes request memory, the tail cache and fetch responses for a small machine', () => {
  const small = settingsOf({ 'samsa.memory.profile': 'small' });
  assert.equal(small.memoryProfile, 'small');
  assert.equal(small.queuedMaxRequestBytes, 16 * MiB);
  assert.equal(small.tailCacheBytes, 8 * MiB);
  assert.equal(small.fetchMaxBytes, 16 * MiB);
  assert.equal(small.readBufferPoolBytes, 8 * MiB);
  assert.deepEqual(memoryProfileValues('small').v8Flags, ['--optimize-for-size']);
});

test('without a profile, or with the default one, the defaults stay', () => {
  for (const entries of [{}, { 'samsa.memory.profile': 'default' }] as Array<Record<string, string>>) {
    const s = settingsOf(entries);
    assert.equal(s.memoryProfile, 'default');
    assert.equal(s.queuedMaxRequestBytes, 100 * MiB);
    assert.equal(s.tailCacheBytes, 16 * MiB);
    assert.equal(s.fetchMaxBytes, 55 * MiB);
    assert.equal(s.readBufferPoolBytes, 64 * MiB);
  }
  assert.deepEqual(memoryProfileValues('default'), { configs: {}, v8Flags: ['--heap-growing-percent=300'] });
});

test('a key set beside the profile wins over the profile', () => {
  const s = settingsOf({ 'samsa.memory.profile': 'small', 'samsa.log.tail.cache.bytes': '1048576' });
  assert.equal(s.tailCacheBytes, MiB);
  assert.equal(s.queuedMaxRequestBytes, 16 * MiB);
});

test('an unknown profile stops start-up naming the key', () => {
  assert.throws(
    () => settingsOf({ 'samsa.memory.profile': 'tiny' }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /samsa\.memory\.profile/);
      return true;
    },
  );
});
