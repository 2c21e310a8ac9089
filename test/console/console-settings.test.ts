import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../../src/config/broker-config.js';

test('samsa.console.read.only: false unless set to true, a value that is no boolean stops start-up', () => {
  const parse = (entries: Record<string, string>) =>
    toBrokerSettings(parseBrokerConfig(new Map(Object.entries(entries))).values);
  assert.equal(parse({}).consoleReadOnly, undefined);
  assert.equal(parse({ 'samsa.console.read.only': 'false' }).consoleReadOnly, undefined);
  assert.equal(parse({ 'samsa.console.read.only': 'true' }).consoleReadOnly, true);
  assert.throws(() => parse({ 'samsa.console.read.only': 'yes' }), ConfigError);
});

test('samsa.console.allowed.hosts: a list of names, none by default', () => {
  const parse = (entries: Record<string, string>) =>
    toBrokerSettings(parseBrokerConfig(new Map(Object.entries(entries))).values);
  assert.equal(parse({}).consoleAllowedHosts, undefined);
  assert.deepEqual(parse({ 'samsa.console.allowed.hosts': 'a.example,b.example' }).consoleAllowedHosts, [
    'a.example',
    'b.example',
  ]);
});
