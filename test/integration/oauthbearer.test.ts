/**
 * SASL/OAUTHBEARER from the outside: kcat with librdkafka's unsecured JWT against Kafka's default (unsecured)
 * validator, and KafkaJS, confluent-kafka-python and kafka-python with signed JWTs against a listener that
 * verifies them with a JWKS file, as Kafka's OAuthBearerValidatorCallbackHandler does. Refused tokens (expired,
 * signed by another key, wrong audience) fail authentication and nothing is written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, Logger, startBroker } from '../../src/index.js';
import { kafkaJsRoundTrip, PYTHON } from './clients.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

const AUDIENCE = 'samsa';
const ISSUER = 'https://issuer.test';

let dir: string;
let broker: Broker;
const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const logLines: string[] = [];

function jwt(key: KeyObject, claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'RS256', typ: 'JWT', kid: 'test-key' })}.${part(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function claimsFor(sub: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600, ...overrides };
}

function port(name: string): number {
  return broker.settings.listeners!.find((l) => l.name === name)!.port;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'samsa-oauth-'));
  const jwksPath = join(dir, 'jwks.json');
  await writeFile(
    jwksPath,
    JSON.stringify({ keys: [{ ...signing.publicKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig' }] }),
  );
  const properties: Record<string, string> = {
    listeners: 'UNSECURED://127.0.0.1:0,SECURED://127.0.0.1:0',
    'listener.security.protocol.map': 'UNSECURED:SASL_PLAINTEXT,SECURED:SASL_PLAINTEXT',
    'sasl.enabled.mechanisms': 'OAUTHBEARER',
    'listener.name.unsecured.oauthbearer.sasl.jaas.config':
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
    'listener.name.secured.oauthbearer.sasl.jaas.config':
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
    'listener.name.secured.oauthbearer.sasl.server.callback.handler.class':
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
    'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(jwksPath).href,
    'sasl.oauthbearer.expected.audience': AUDIENCE,
    'sasl.oauthbearer.expected.issuer': ISSUER,
  };
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  broker = await startBroker({
    listeners,
    host: '127.0.0.1',
    staticConfigs: properties,
    logger: new Logger('broker', { level: 'info', sink: { write: (line) => logLines.push(line) } }),
  });
});

after(async () => {
  await broker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('kcat with librdkafka unsecured JWTs produces and consumes through the default (unsecured) validator', async () => {
  const sasl = [
    '-b',
    `127.0.0.1:${port('UNSECURED')}`,
    '-X',
    'security.protocol=SASL_PLAINTEXT',
    '-X',
    'sasl.mechanisms=OAUTHBEARER',
    '-X',
    'enable.sasl.oauthbearer.unsecure.jwt=true',
    '-X',
    'sasl.oauthbearer.config=principal=alice',
  ];
  await run('sh', ['-c', 'printf "a\\nb\\n" | kcat "$@" -P -t oauth-kcat -X acks=all', 'sh', ...sasl], {
    timeout: 60_000,
  });
  const { stdout } = await run('kcat', [...sasl, '-C', '-t', 'oauth-kcat', '-o', 'beginning', '-e', '-q'], {
    timeout: 60_000,
  });
  assert.deepEqual(stdout.trim().split('\n'), ['a', 'b']);
  // An unsigned token is not accepted where the listener verifies signatures.
  const secured = sasl.map((a) => (a === `127.0.0.1:${port('UNSECURED')}` ? `127.0.0.1:${port('SECURED')}` : a));
  await assert.rejects(run('kcat', [...secured, '-L', '-m', '5'], { timeout: 30_000 }), 'unsigned token on SECURED');
});

function kafkaJs(token: () => string, retries = 5) {
  return new Kafka({
    clientId: 'oauth',
    brokers: [`127.0.0.1:${port('SECURED')}`],
    logLevel: logLevel.NOTHING,
    retry: { retries },
    sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token() }) },
  });
}

test('KafkaJS with signed JWTs: a valid token produces and consumes; expired, foreign-signed and wrong-audience tokens fail', async () => {
  const kafka = kafkaJs(() => jwt(signing.privateKey, claimsFor('svc-orders')));
  assert.deepEqual(await kafkaJsRoundTrip(kafka, 'oauth-kafkajs'), ['one', 'two']);

  const now = Math.floor(Date.now() / 1000);
  for (const [what, token] of [
    ['expired', jwt(signing.privateKey, claimsFor('svc', { iat: now - 7200, exp: now - 3600 }))],
    ['signed by another key', jwt(stranger.privateKey, claimsFor('svc'))],
    ['for another audience', jwt(signing.privateKey, claimsFor('svc', { aud: 'elsewhere' }))],
  ] as const) {
    // KafkaJS takes the error challenge (RFC 7628) for success, as it would from Kafka; its next request on the
    // unauthenticated connection then closes it, so nothing it sends gets through.
    const refused = kafkaJs(() => token, 0).producer();
    await assert.rejects(
      (async () => {
        await refused.connect();
        await refused.send({ topic: 'oauth-kafkajs', acks: -1, messages: [{ value: what }] });
      })(),
      what,
    );
    await refused.disconnect();
  }
  assert.ok(
    logLines.some((l) => l.includes('OAUTHBEARER token refused') && l.includes('does not verify')),
    'the broker logs why a token was refused',
  );
  // Nothing the refused clients tried was written.
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('oauth-kafkajs');
  await admin.disconnect();
  assert.equal(offsets[0]!.high, '2');
});

test('confluent-kafka-python (oauth_cb) and kafka-python (token provider) authenticate with signed JWTs', async () => {
  const token = jwt(signing.privateKey, claimsFor('svc-python'));
  const script = `
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition
import kafka
try:
    from kafka.sasl.oauth import AbstractTokenProvider
except ImportError:  # kafka-python 2.0
    from kafka.oauth.abstract import AbstractTokenProvider
bootstrap, token = sys.argv[1:3]
conf = {'bootstrap.servers': bootstrap, 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'OAUTHBEARER',
        'oauth_cb': lambda _config: (token, time.time() + 3600)}
p = Producer(conf)
for i in range(3): p.produce('oauth-python', value=f'c{i}'.encode())
assert p.flush(30) == 0
class Provider(AbstractTokenProvider):
    def token(self): return token
kp = kafka.KafkaProducer(bootstrap_servers=bootstrap, security_protocol='SASL_PLAINTEXT',
                         sasl_mechanism='OAUTHBEARER', sasl_oauth_token_provider=Provider())
for i in range(3): kp.send('oauth-python', value=f'k{i}'.encode())
kp.flush(30); kp.close()
c = Consumer({**conf, 'group.id': 'oauth-python', 'auto.offset.reset': 'earliest'})
c.assign([TopicPartition('oauth-python', 0, 0)])
got = []
while len(got) < 6:
    m = c.poll(30)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value().decode())
c.close()
print(json.dumps(got))
`;
  const { stdout } = await run(PYTHON, ['-c', script, `127.0.0.1:${port('SECURED')}`, token], { timeout: 120_000 });
  assert.deepEqual(JSON.parse(stdout), ['c0', 'c1', 'c2', 'k0', 'k1', 'k2']);
});
