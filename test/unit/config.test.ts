import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../../src/config/broker-config.js';
import { parseProperties } from '../../src/config/properties.js';

function settings(entries: Record<string, string>) {
  return toBrokerSettings(parseBrokerConfig(new Map(Object.entries(entries))).values);
}

test('properties files: separators, comments, continuations, escapes, last value wins', () => {
  const text = [
    '# comment',
    '! also a comment',
    'a=1',
    'b : 2',
    'c 3',
    'long = one \\',
    '   two',
    'esc=tab\\there\\u0041',
    'a=4',
    '',
  ].join('\n');
  const p = parseProperties(text);
  assert.deepEqual(Object.fromEntries([...p].map(([k, v]) => [k, v.value])), {
    a: '4',
    b: '2',
    c: '3',
    long: 'one two',
    esc: 'tab\there' + 'A',
  });
});

test("Kafka's defaults, and its precedence rules", () => {
  const d = settings({});
  assert.equal(d.messageMaxBytes, 1048588);
  assert.equal(d.socketRequestMaxBytes, 104857600);
  assert.equal(d.numPartitions, 1);
  assert.equal(d.logDefaults.segmentBytes, 1073741824);
  assert.equal(d.logDefaults.retentionMs, 168 * 3_600_000);
  assert.equal(d.logDefaults.flushMessages, Number.POSITIVE_INFINITY);
  assert.deepEqual(d.logDirs, ['/tmp/kafka-logs']);
  assert.equal(d.port, 9092);

  assert.equal(settings({ 'log.retention.hours': '1', 'log.retention.minutes': '2' }).logDefaults.retentionMs, 120_000);
  assert.equal(settings({ 'log.retention.minutes': '2', 'log.retention.ms': '5' }).logDefaults.retentionMs, 5);
  assert.equal(settings({ 'log.retention.ms': '-1' }).logDefaults.retentionMs, -1);
  assert.equal(settings({ 'log.roll.hours': '2' }).logDefaults.segmentMs, 7_200_000);
  assert.deepEqual(settings({ 'log.dir': '/a', 'log.dirs': '/b,/c' }).logDirs, ['/b', '/c']);
  assert.equal(settings({ 'broker.id': '3' }).nodeId, 3);
  assert.throws(() => settings({ 'broker.id': '3', 'node.id': '4' }), ConfigError);
});

test('listeners and advertised addresses', () => {
  const s = settings({
    listeners: 'PLAINTEXT://0.0.0.0:19092',
    'advertised.listeners': 'PLAINTEXT://broker.example:29092',
  });
  assert.deepEqual([s.host, s.port, s.advertisedHost, s.advertisedPort], ['0.0.0.0', 19092, 'broker.example', 29092]);
  const older = settings({
    listeners: 'PLAINTEXT://127.0.0.1:9000',
    'advertised.host.name': 'h',
    'advertised.port': '9100',
  });
  assert.deepEqual([older.advertisedHost, older.advertisedPort], ['h', 9100]);
  const fallback = settings({ listeners: 'PLAINTEXT://127.0.0.1:9000' });
  assert.deepEqual([fallback.advertisedHost, fallback.advertisedPort], ['127.0.0.1', 9000]);
});

test('invalid values stop with a message naming the key; unknown keys only warn', () => {
  for (const [key, value] of [
    ['num.partitions', '0'],
    ['log.segment.bytes', 'abc'],
    ['log.message.timestamp.type', 'Foo'],
    ['auto.create.topics.enable', 'maybe'],
    ['listeners', 'nonsense'],
  ] as const) {
    assert.throws(
      () => settings({ [key]: value }),
      (e: Error) => e instanceof ConfigError && e.message.includes(key),
      key,
    );
  }
  const { warnings } = parseBrokerConfig(
    new Map([
      ['no.such.key', '1'],
      ['num.io.threads', '8'],
    ]),
  );
  assert.deepEqual(warnings, [
    'unknown configuration no.such.key ignored',
    'num.io.threads is accepted but has no effect in Samsa',
  ]);
});

test('the shipped config/server.properties parses without errors or warnings', () => {
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'config', 'server.properties'), 'utf8');
  const raw = new Map([...parseProperties(text)].map(([k, v]) => [k, v.value]));
  const { values, warnings } = parseBrokerConfig(raw);
  assert.deepEqual(warnings, []);
  const s = toBrokerSettings(values);
  // advertised.listeners is left out, as in Kafka's file: each listener advertises its own address, and an empty
  // host this host's canonical name (looked up at start-up).
  assert.equal(raw.has('advertised.listeners'), false);
  assert.deepEqual([s.port, s.advertisedHost, s.logDirs], [9092, '', [resolve('data')]]);
});
