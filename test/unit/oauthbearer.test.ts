import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { JsonWebKeySet } from '../../src/security/jws.js';
import { JwksValidator, OAuthBearerServer, UnsecuredValidator } from '../../src/security/oauthbearer.js';
import { resolveListenerSasl, SaslConfigError } from '../../src/security/sasl-config.js';
import { SaslAuthenticationError } from '../../src/security/sasl-server.js';

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function unsecuredToken(claims: Record<string, unknown>): string {
  return `${b64({ alg: 'none' })}.${b64(claims)}.`;
}

function signedToken(alg: string, key: KeyObject, claims: Record<string, unknown>, kid?: string): string {
  const input = `${b64({ alg, typ: 'JWT', ...(kid && { kid }) })}.${b64(claims)}`;
  const digest = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  const options = alg.startsWith('PS')
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : alg.startsWith('ES')
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : key;
  return `${input}.${sign(digest, Buffer.from(input), options).toString('base64url')}`;
}

function firstMessage(token: string, authzid = ''): Buffer {
  return Buffer.from(`n,${authzid ? `a=${authzid}` : ''},\u0001auth=Bearer ${token}\u0001traceId=abc\u0001\u0001`);
}

const unsecured = new UnsecuredValidator({
  principalClaimName: 'sub',
  scopeClaimName: 'scope',
  requiredScope: [],
  allowableClockSkewMs: 0,
});

test('unsecured tokens: the principal comes from sub; expiry, issue time, claim types and scope are checked', () => {
  const ok = unsecured.validate(unsecuredToken({ sub: 'alice', exp: NOW_S + 60, iat: NOW_S - 1 }), NOW_MS);
  assert.deepEqual(ok, { principalName: 'alice', lifetimeMs: NOW_MS + 60_000, scope: [] });
  for (const [claims, reason] of [
    [{ sub: 'alice', exp: NOW_S }, /expired/],
    [{ sub: 'alice' }, /no "exp" claim/],
    [{ exp: NOW_S + 60 }, /no string "sub" claim/],
    [{ sub: 42, exp: NOW_S + 60 }, /no string "sub" claim/],
    [{ sub: 'alice', exp: '9999999999' }, /"exp" claim is not a number/],
    [{ sub: 'alice', exp: NOW_S + 60, iat: NOW_S + 10 }, /in the future/],
  ] as const) {
    const result = unsecured.validate(unsecuredToken(claims), NOW_MS);
    assert.ok('status' in result && result.status === 'invalid_token', JSON.stringify(claims));
    assert.match(result.reason, reason);
  }
  // A signed token is not an unsecured one, and a token must be a JWS at all.
  const { privateKey } = generateKeyPairSync('ed25519');
  const signed = signedToken('EdDSA', privateKey, { sub: 'alice', exp: NOW_S + 60 });
  assert.ok('status' in unsecured.validate(signed, NOW_MS), 'a signed token');
  assert.ok('status' in unsecured.validate('not-a-jwt', NOW_MS), 'not a JWS');

  const scoped = new UnsecuredValidator({
    principalClaimName: 'preferred_username',
    scopeClaimName: 'roles',
    requiredScope: ['kafka', 'write'],
    allowableClockSkewMs: 5_000,
  });
  const claims = { preferred_username: 'bob', exp: NOW_S - 2, roles: ['kafka', 'write', 'read'] };
  assert.equal((scoped.validate(unsecuredToken(claims), NOW_MS) as { principalName: string }).principalName, 'bob');
  assert.deepEqual(scoped.validate(unsecuredToken({ ...claims, roles: 'kafka read' }), NOW_MS), {
    status: 'insufficient_scope',
    scope: 'kafka write',
    reason: "the token's scope lacks write",
  });
});

test('signed tokens: RS256, PS384, ES256 and EdDSA verify against the JWKS; a wrong key, alg none or a changed payload do not', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwks = new JsonWebKeySet({
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1' },
      { ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed-1' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'shared' },
      { ...other.publicKey.export({ format: 'jwk' }), kid: 'enc', use: 'enc' },
    ],
  });
  assert.equal(jwks.size, 3, 'symmetric and encryption keys are left out');
  const validator = new JwksValidator({
    keys: () => jwks,
    refresh: () => {},
    expectedAudience: ['kafka'],
    expectedIssuer: 'https://issuer.example',
    subClaimName: 'sub',
    scopeClaimName: 'scope',
    clockSkewMs: 30_000,
  });
  const claims = { sub: 'svc', exp: NOW_S + 300, iat: NOW_S, aud: ['kafka', 'other'], iss: 'https://issuer.example' };
  for (const [alg, key, kid] of [
    ['RS256', rsa.privateKey, 'rsa-1'],
    ['PS384', rsa.privateKey, 'rsa-1'],
    ['ES256', ec.privateKey, 'ec-1'],
    ['EdDSA', ed.privateKey, undefined],
  ] as const) {
    const result = validator.validate(signedToken(alg, key, claims, kid), NOW_MS);
    assert.deepEqual(result, { principalName: 'svc', lifetimeMs: NOW_MS + 300_000, scope: [] }, alg);
  }
  const refused = (token: string) => {
    const result = validator.validate(token, NOW_MS);
    assert.ok('status' in result, token);
    return result.reason;
  };
  assert.match(refused(signedToken('RS256', other.privateKey, claims, 'rsa-1')), /does not verify/);
  assert.match(refused(signedToken('RS256', other.privateKey, claims, 'unknown')), /no key with id/);
  assert.match(refused(unsecuredToken(claims)), /algorithm "none" is not accepted/);
  const good = signedToken('RS256', rsa.privateKey, claims, 'rsa-1');
  const [h, , s] = good.split('.');
  assert.match(refused(`${h}.${b64({ ...claims, sub: 'admin' })}.${s}`), /does not verify/);
  assert.match(refused(signedToken('RS256', rsa.privateKey, { ...claims, aud: 'web' }, 'rsa-1')), /audience/);
  assert.match(refused(signedToken('RS256', rsa.privateKey, { ...claims, iss: 'evil' }, 'rsa-1')), /issuer/);
  const { iat: _iat, ...noIat } = claims;
  assert.match(refused(signedToken('RS256', rsa.privateKey, noIat, 'rsa-1')), /no "iat" claim/);
  // Within the clock skew an expired token still passes; beyond it, not.
  const early = { ...claims, iat: NOW_S - 100 };
  const skewed = validator.validate(signedToken('ES256', ec.privateKey, { ...early, exp: NOW_S - 20 }), NOW_MS);
  assert.ok(!('status' in skewed), 'expired 20 s ago, within the 30 s skew');
  assert.match(refused(signedToken('ES256', ec.privateKey, { ...early, exp: NOW_S - 40 })), /expired/);
});

test('the exchange: a good token authenticates its principal; a refused one gets the JSON challenge, then fails', () => {
  const server = new OAuthBearerServer(unsecured, () => NOW_MS);
  const token = unsecuredToken({ sub: 'alice', exp: NOW_S + 60 });
  assert.equal(server.evaluate(firstMessage(token)).length, 0);
  assert.equal(server.complete, true);
  assert.equal(server.authorizationId, 'alice');
  assert.equal(server.credentialExpiresAtMs, NOW_MS + 60_000);

  const reasons: string[] = [];
  const refusing = new OAuthBearerServer(
    unsecured,
    () => NOW_MS,
    (r) => reasons.push(r),
  );
  const challenge = refusing.evaluate(firstMessage(unsecuredToken({ sub: 'alice', exp: NOW_S - 1 })));
  assert.equal(challenge.toString(), '{"status":"invalid_token"}');
  assert.equal(refusing.complete, false);
  assert.throws(
    () => refusing.evaluate(Buffer.from([1])),
    (e: Error) => {
      return e instanceof SaslAuthenticationError && e.message === '{"status":"invalid_token"}';
    },
  );
  assert.match(reasons[0]!, /expired/);

  // An authorization id must be the token's principal.
  const other = new OAuthBearerServer(unsecured, () => NOW_MS);
  assert.throws(() => other.evaluate(firstMessage(token, 'bob')), /different from the token's principal name/);
  const same = new OAuthBearerServer(unsecured, () => NOW_MS);
  assert.equal(same.evaluate(firstMessage(token, 'alice')).length, 0);

  // Messages that are not RFC 7628 client first messages.
  for (const message of [
    'n,,auth=Bearer x',
    `n,,\u0001auth=Basic ${token}\u0001\u0001`,
    `n,,\u0001auth=Bearer\u0001\u0001`,
    `p=tls-unique,,\u0001auth=Bearer ${token}\u0001\u0001`,
    '',
  ]) {
    const s = new OAuthBearerServer(unsecured, () => NOW_MS);
    assert.throws(() => s.evaluate(Buffer.from(message)), /Invalid OAUTHBEARER client first message/, message);
  }
});

test('listener settings: unsecured by default; Kafka validator class with a file JWKS; bad URLs and settings refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samsa-jwks-'));
  try {
    const prefix = 'listener.name.sasl_plaintext.';
    const base: Record<string, string> = {
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      [`${prefix}oauthbearer.sasl.jaas.config`]:
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope="kafka";',
    };
    const resolve = (extra: Record<string, string>) =>
      resolveListenerSasl('SASL_PLAINTEXT', (k) => ({ ...base, ...extra })[k]);
    const plain = resolve({}).oauthBearer!;
    assert.ok(plain instanceof UnsecuredValidator, 'the unsecured validator');
    assert.equal(
      (plain.validate(unsecuredToken({ sub: 'a', exp: Date.now() / 1000 + 60 }), Date.now()) as { status: string })
        .status,
      'insufficient_scope',
    );

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwksPath = join(dir, 'jwks.json');
    const writeKeys = (...keys: Array<[KeyObject, string]>) =>
      writeFileSync(
        jwksPath,
        JSON.stringify({ keys: keys.map(([k, kid]) => ({ ...k.export({ format: 'jwk' }), kid })) }),
      );
    writeKeys([rsa.publicKey, 'k1']);
    const secured = {
      [`${prefix}oauthbearer.sasl.server.callback.handler.class`]:
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
      'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(jwksPath).href,
      'sasl.oauthbearer.expected.audience': 'kafka',
    };
    const validator = resolve(secured).oauthBearer!;
    assert.ok(validator instanceof JwksValidator, 'the JWKS validator');
    const now = Date.now();
    const claims = { sub: 'svc', aud: 'kafka', iat: now / 1000, exp: now / 1000 + 60 };
    assert.ok(!('status' in validator.validate(signedToken('RS256', rsa.privateKey, claims, 'k1'), now)), 'k1');
    // A key rotated into the file is found when a token names it (after the reload interval).
    writeKeys([rsa.publicKey, 'k1'], [rotated.publicKey, 'k2']);
    const later = signedToken('RS256', rotated.privateKey, claims, 'k2');
    const deadline = Date.now() + 5_000;
    let result = validator.validate(later, Date.now());
    while ('status' in result && Date.now() < deadline) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      result = validator.validate(later, Date.now());
    }
    assert.ok(!('status' in result), 'the rotated key is read from the file');

    assert.throws(
      () => resolve({ ...secured, 'sasl.oauthbearer.jwks.endpoint.url': 'ftp://idp.example/jwks' }),
      (e: Error) => e instanceof SaslConfigError && /an https:, http: or file: URL/.test(e.message),
    );
    assert.throws(
      () =>
        resolve({
          ...secured,
          'sasl.oauthbearer.jwks.endpoint.url': 'https://idp.example/jwks',
          'sasl.oauthbearer.jwks.endpoint.retry.backoff.ms': 'soon',
        }),
      /sasl\.oauthbearer\.jwks\.endpoint\.retry\.backoff\.ms=soon: a number of milliseconds/,
    );
    assert.throws(
      () => resolve({ ...secured, 'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(join(dir, 'missing')).href }),
      /cannot read the JWKS/,
    );
    assert.throws(
      () => resolve({ ...secured, 'sasl.oauthbearer.jwks.endpoint.url': '' }),
      /needs sasl\.oauthbearer\.jwks\.endpoint\.url/,
    );
    assert.throws(
      () => resolve({ [`${prefix}oauthbearer.sasl.server.callback.handler.class`]: 'com.example.MyHandler' }),
      /cannot load Java classes/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
