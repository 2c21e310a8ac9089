/**
 * KIP-368 from the outside: a SASL session lasts connections.max.reauth.ms (per listener and mechanism) or until
 * the OAUTHBEARER token expires; the client authenticates again on the same connection, as the same principal
 * and with the same mechanism; a connection past its session is closed at its next request, and a client that
 * does not re-authenticate (librdkafka 2.0) reconnects without losing what it produces.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apiVersionsApi } from '../../src/protocol/generated/apis/api-versions.js';
import { saslAuthenticateApi } from '../../src/protocol/generated/apis/sasl-authenticate.js';
import { saslHandshakeApi } from '../../src/protocol/generated/apis/sasl-handshake.js';
import { PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);

/** The session of the SASL_PLAINTEXT listener, whose tests wait for it to end. */
const SESSION_MS = 3_000;
/**
 * The session of the REAUTH listener, whose test re-authenticates before its sessions end: far above a stall of the
 * machine between two of its requests, which would end a 3 s session and have the connection closed.
 */
const LONG_SESSION_MS = 600_000;
const PLAIN_JAAS =
  'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";';

let broker: Broker;

before(async () => {
  const properties: Record<string, string> = {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0,REAUTH://127.0.0.1:0,OAUTH://127.0.0.1:0',
    'listener.security.protocol.map': 'SASL_PLAINTEXT:SASL_PLAINTEXT,REAUTH:SASL_PLAINTEXT,OAUTH:SASL_PLAINTEXT',
    'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
    'listener.name.sasl_plaintext.plain.connections.max.reauth.ms': String(SESSION_MS),
    'listener.name.reauth.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.reauth.plain.sasl.jaas.config': PLAIN_JAAS,
    'listener.name.reauth.plain.connections.max.reauth.ms': String(LONG_SESSION_MS),
    'listener.name.oauth.sasl.enabled.mechanisms': 'OAUTHBEARER',
    'listener.name.oauth.oauthbearer.sasl.jaas.config':
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
  };
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  broker = await startBroker({ listeners, host: '127.0.0.1', staticConfigs: properties });
});

after(async () => {
  await broker?.stop();
});

function port(name: string): number {
  return broker.settings.listeners!.find((l) => l.name === name)!.port;
}

async function authenticate(client: RawClient, mechanism: string, token: Buffer, authenticateVersion = 2) {
  const handshake = await client.request(saslHandshakeApi, 1, { mechanism });
  if (handshake.errorCode !== ErrorCode.NONE) return { handshake: handshake.errorCode, authenticate: null };
  const authenticate = await client.request(saslAuthenticateApi, authenticateVersion, { authBytes: token });
  return { handshake: handshake.errorCode, authenticate };
}

const plain = (user: string) => Buffer.from(`\u0000${user}\u0000${user}-secret`);

async function apiVersions(client: RawClient) {
  return client.request(apiVersionsApi, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
}

test('the session lifetime is connections.max.reauth.ms; the client re-authenticates on its connection and goes on', async () => {
  const client = await RawClient.connect(port('REAUTH'));
  const first = await authenticate(client, 'PLAIN', plain('alice'));
  assert.equal(first.authenticate!.errorCode, ErrorCode.NONE);
  assert.equal(first.authenticate!.sessionLifetimeMs, BigInt(LONG_SESSION_MS));
  for (let i = 0; i < 3; i++) {
    // Before each session ends, as clients do: the connection lives on across several sessions.
    const again = await authenticate(client, 'PLAIN', plain('alice'));
    assert.equal(again.handshake, ErrorCode.NONE);
    assert.equal(again.authenticate!.errorCode, ErrorCode.NONE);
    assert.equal(again.authenticate!.sessionLifetimeMs, BigInt(LONG_SESSION_MS));
    assert.equal((await apiVersions(client)).errorCode, ErrorCode.NONE);
  }
  client.close();
});

test('re-authentication cannot change the principal or the mechanism: the connection is closed', async () => {
  const asBob = await RawClient.connect(port('SASL_PLAINTEXT'));
  await authenticate(asBob, 'PLAIN', plain('alice'));
  const changed = await authenticate(asBob, 'PLAIN', plain('bob'));
  assert.equal(changed.authenticate!.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(
    changed.authenticate!.errorMessage,
    'Cannot change principals during re-authentication from User:alice: User:bob',
  );
  await asBob.closed;

  const otherMechanism = await RawClient.connect(port('SASL_PLAINTEXT'));
  await authenticate(otherMechanism, 'PLAIN', plain('alice'));
  const handshake = await otherMechanism.request(saslHandshakeApi, 1, { mechanism: 'SCRAM-SHA-256' });
  assert.equal(handshake.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
  await otherMechanism.closed;
});

test('past its session, a connection is closed at its next request, also for clients that cannot re-authenticate', async () => {
  for (const version of [2, 0]) {
    const client = await RawClient.connect(port('SASL_PLAINTEXT'));
    const { authenticate: answer } = await authenticate(client, 'PLAIN', plain('alice'), version);
    assert.equal(answer!.errorCode, ErrorCode.NONE);
    assert.equal((await apiVersions(client)).errorCode, ErrorCode.NONE);
    await sleep(SESSION_MS + 200);
    const late = apiVersions(client).catch(() => 'closed');
    await client.closed;
    assert.equal(await late, 'closed', `SaslAuthenticate v${version}`);
  }
});

test('an OAUTHBEARER session ends when its token does, without connections.max.reauth.ms', async () => {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 60;
  const token = `${part({ alg: 'none' })}.${part({ sub: 'svc', exp })}.`;
  const client = await RawClient.connect(port('OAUTH'));
  // The lifetime is the token's expiry less the time of the authentication, some time between these two.
  const startedAt = Date.now();
  const { authenticate: answer } = await authenticate(
    client,
    'OAUTHBEARER',
    Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`),
  );
  const answeredAt = Date.now();
  assert.equal(answer!.errorCode, ErrorCode.NONE);
  const lifetime = Number(answer!.sessionLifetimeMs);
  assert.ok(
    lifetime >= exp * 1000 - answeredAt && lifetime <= exp * 1000 - startedAt,
    `session lifetime ${lifetime} ms for a token expiring ${exp * 1000 - startedAt} ms after the authentication began`,
  );
  client.close();
});

test('librdkafka, which does not re-authenticate, reconnects when its session ends and loses nothing', async () => {
  const script = `
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition
bootstrap = sys.argv[1]
conf = {'bootstrap.servers': bootstrap, 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN',
        'sasl.username': 'alice', 'sasl.password': 'alice-secret'}
p = Producer({**conf, 'enable.idempotence': True})
for i in range(3): p.produce('reauth', value=f'a{i}'.encode())
assert p.flush(30) == 0
time.sleep(${(SESSION_MS * 2) / 1000})
for i in range(3): p.produce('reauth', value=f'b{i}'.encode())
assert p.flush(30) == 0
c = Consumer({**conf, 'group.id': 'reauth', 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition('reauth', 0, 0)])
got = []
while len(got) < 6:
    m = c.poll(30)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value().decode())
c.close()
print(json.dumps(got))
`;
  const { stdout } = await run(PYTHON, ['-c', script, `127.0.0.1:${port('SASL_PLAINTEXT')}`], { timeout: 120_000 });
  assert.deepEqual(JSON.parse(stdout), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
});
