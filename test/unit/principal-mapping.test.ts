import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrincipalMappingError, SslPrincipalMapper } from '../../src/security/principal.js';

const DN = 'CN=alice,OU=eng,O=Acme,C=US';

test('DEFAULT gives the distinguished name unchanged', () => {
  assert.equal(new SslPrincipalMapper('DEFAULT').getName(DN), DN);
});

test('the first rule matching the whole name applies, with groups, and L or U changes the case', () => {
  const mapper = new SslPrincipalMapper(
    'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=([a-z]+),OU=(.*?),O=(.*?),C=(.*?)$/$1@$3/U, DEFAULT',
  );
  assert.equal(mapper.getName('CN=kafka-svc,OU=ServiceUsers,O=Acme,C=US'), 'kafka-svc');
  assert.equal(mapper.getName(DN), 'ALICE@ACME');
  assert.equal(mapper.getName('CN=Bob Smith,O=Other'), 'CN=Bob Smith,O=Other', 'no rule matches: DEFAULT');
  assert.equal(new SslPrincipalMapper('RULE:^CN=(.*?),.*$/$1/L').getName('CN=Alice,O=X'), 'alice');
});

test('a rule matches only the whole name (as Java matches())', () => {
  const mapper = new SslPrincipalMapper('RULE:CN=alice/x/');
  assert.throws(() => mapper.getName(DN), PrincipalMappingError);
  assert.equal(new SslPrincipalMapper('RULE:CN=alice.*/x/').getName(DN), 'x');
});

test('an escaped slash belongs to the pattern or the replacement', () => {
  const mapper = new SslPrincipalMapper('RULE:^CN=([^,]*)\\/(.*),O=.*$/$1\\/$2/');
  assert.equal(mapper.getName('CN=a/b,O=x'), 'a/b');
});

test('without DEFAULT, a name no rule matches is refused', () => {
  const mapper = new SslPrincipalMapper('RULE:^CN=(.*),OU=ops$/$1/');
  assert.throws(() => mapper.getName(DN), /No rule of ssl.principal.mapping.rules applies to CN=alice/);
});

test('malformed rules are refused when read', () => {
  for (const rules of ['', 'RULE:^CN=x', 'RULE:a/b', 'NOTARULE', 'RULE:(/x/', 'DEFAULT,,']) {
    assert.throws(() => new SslPrincipalMapper(rules), PrincipalMappingError, JSON.stringify(rules));
  }
});
