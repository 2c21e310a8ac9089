import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JaasConfigError, parseJaasConfig } from '../../src/security/jaas-config.js';
import { PlainServer } from '../../src/security/plain-server.js';
import { SaslAuthenticationError } from '../../src/security/sasl-server.js';

test("Kafka's PLAIN JAAS entry: quoted and bare values, escapes, comments", () => {
  const [module, ...rest] = parseJaasConfig(`
    org.apache.kafka.common.security.plain.PlainLoginModule Required // the broker's own login
      username="admin" password="admin-secret"
      /* users */ user_admin="admin-secret" user_alice='alice "the" secret' user_bob="a\\\\b\\"c\\tq\\101"
      user_carol=carol-secret_$1;
  `);
  assert.equal(rest.length, 0);
  assert.equal(module!.loginModule, 'org.apache.kafka.common.security.plain.PlainLoginModule');
  assert.equal(module!.controlFlag, 'required');
  assert.deepEqual(Object.fromEntries(module!.options), {
    username: 'admin',
    password: 'admin-secret',
    user_admin: 'admin-secret',
    user_alice: 'alice "the" secret',
    user_bob: 'a\\b"c\tqA',
    user_carol: 'carol-secret_$1',
  });
});

test('malformed JAAS values are refused, and the error never quotes a value', () => {
  for (const [text, message] of [
    ['org.Module required user_a="secret', 'unterminated quoted value'],
    ['org.Module required user_a="secret"', 'login module org.Module: the entry must end with ;'],
    [
      'org.Module mandatory;',
      'login module org.Module: expected a control flag (required, requisite, sufficient or optional)',
    ],
    ['org.Module required user_a secret;', 'login module org.Module: option user_a needs =value'],
    ['org.Module required user_a=;', 'login module org.Module: option user_a has no value'],
    ['"org.Module" required;', 'expected a login module class name'],
  ] as const) {
    assert.throws(
      () => parseJaasConfig(text),
      (e: Error) => e instanceof JaasConfigError && e.message === message && !e.message.includes('secret'),
      text,
    );
  }
  assert.equal(parseJaasConfig('a.B required; c.D optional x=1;').length, 2);
});

test('PLAIN: the password of a configured user authenticates; anything else fails with Kafka messages', () => {
  const users = new Map([['alice', 'alice-secret']]);
  const token = (text: string) => Buffer.from(text, 'utf8');
  const ok = new PlainServer(users);
  assert.equal(ok.evaluate(token('\u0000alice\u0000alice-secret')).length, 0);
  assert.equal(ok.complete, true);
  assert.equal(ok.authorizationId, 'alice');
  const withAuthzid = new PlainServer(users);
  withAuthzid.evaluate(token('alice\u0000alice\u0000alice-secret'));
  assert.equal(withAuthzid.authorizationId, 'alice');
  for (const [text, message] of [
    ['\u0000alice\u0000wrong', 'Authentication failed: Invalid username or password'],
    ['\u0000bob\u0000alice-secret', 'Authentication failed: Invalid username or password'],
    ['\u0000alice\u0000alice-secret-and-more', 'Authentication failed: Invalid username or password'],
    ['\u0000\u0000alice-secret', 'Authentication failed: username not specified'],
    ['\u0000alice\u0000', 'Authentication failed: password not specified'],
    ['alice-secret', 'Invalid SASL/PLAIN response: expected 3 tokens, got 1'],
    [
      'bob\u0000alice\u0000alice-secret',
      'Authentication failed: Client requested an authorization id that is different from username',
    ],
  ] as const) {
    const server = new PlainServer(users);
    assert.throws(
      () => server.evaluate(token(text)),
      (e: Error) => e instanceof SaslAuthenticationError && e.message === message,
      JSON.stringify(text),
    );
    assert.equal(server.complete, false);
  }
});
