/**
 * OAUTHBEARER with the JWKS fetched from an endpoint (`sasl.oauthbearer.jwks.endpoint.url=https://...`), as
 * Kafka's RefreshingHttpsJwks: a local node:https server (its certificate from a test CA, trusted through the JAAS
 * entry's ssl.truststore.location) serves the keys. KafkaJS authenticates with a token it signed; a key rotated
 * in is fetched when a token names it; unknown key ids refresh at most once a minute each; the first fetch is
 * retried with a backoff; an http: endpoint works too; a broker whose endpoint cannot be reached does not start.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { kafkaJsRoundTrip } from './clients.js';
import { makeCertificates, type TestCertificates } from './tls-certificates.js';

const { Kafka, logLevel } = kafkajs;

const first = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rotated = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function jwk(key: KeyObject, kid: string) {
  return { ...key.export({ format: 'jwk' }), kid, use: 'sig' };
}

function jwt(key: KeyObject, kid: string, sub: string): string {
  const alg = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${part({ alg, typ: 'JWT', kid })}.${part({ sub, iat: now, exp: now + 3600 })}`;
  const signature =
    alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}

/** A JWKS server: serves `keys`, counts the requests, and fails the next `failures` of them with 503. */
class JwksServer {
  keys: unknown[] = [];
  requests = 0;
  failures = 0;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(readonly server: HttpServer) {}

  handle = (_req: IncomingMessage, res: ServerResponse) => {
    this.requests++;
    if (this.failures > 0) {
      this.failures--;
      res.writeHead(503).end();
    } else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
    res.on('finish', () => {
      for (const w of this.waiters.filter((w) => this.requests >= w.count)) w.resolve();
      this.waiters = this.waiters.filter((w) => this.requests < w.count);
    });
  };

  /** Resolves once `count` requests have been answered. */
  answered(count: number): Promise<void> {
    if (this.requests >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let certs: TestCertificates;
let https: JwksServer;
let broker: Broker;

function jaas(): string {
  return `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ssl.truststore.type="PEM" ssl.truststore.location="${certs.caCert}";`;
}

function brokerProperties(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    listeners: 'SECURED://127.0.0.1:0',
    'listener.security.protocol.map': 'SECURED:SASL_PLAINTEXT',
    'sasl.enabled.mechanisms': 'OAUTHBEARER',
    'listener.name.secured.oauthbearer.sasl.jaas.config': jaas(),
    'listener.name.secured.oauthbearer.sasl.server.callback.handler.class':
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
    'sasl.oauthbearer.jwks.endpoint.url': url,
    ...extra,
  };
}

async function start(properties: Record<string, string>): Promise<Broker> {
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  return startBroker({ listeners, host: '127.0.0.1', staticConfigs: properties });
}

function kafka(b: Broker, token: string, retries = 0) {
  return new Kafka({
    clientId: 'jwks-endpoint',
    brokers: [`127.0.0.1:${b.settings.listeners![0]!.port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries },
    sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token }) },
  });
}

/** Whether KafkaJS authenticates with this token (a metadata round trip through its admin client). */
async function authenticates(b: Broker, token: string): Promise<boolean> {
  const admin = kafka(b, token).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

before(async () => {
  certs = await makeCertificates();
  https = new JwksServer(
    createHttpsServer({ key: await readFile(certs.serverKey), cert: await readFile(certs.serverCert) }),
  );
  https.server.on('request', https.handle);
  https.keys = [jwk(first.publicKey, 'first')];
  const port = await https.listen();
  // The first fetch fails twice and is retried.
  https.failures = 2;
  broker = await start(brokerProperties(`https://localhost:${port}/jwks`));
});

after(async () => {
  await broker?.stop();
  await https?.close();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('the JWKS is fetched from the https endpoint at start-up, after retries, and KafkaJS authenticates with a token it verifies', async () => {
  assert.equal(https.requests, 3, 'two failed fetches, then the keys');
  const records = await kafkaJsRoundTrip(kafka(broker, jwt(first.privateKey, 'first', 'svc-a'), 5), 'jwks-endpoint');
  assert.deepEqual(records, ['one', 'two']);
});

test('a key rotated in is fetched when a token names it; unknown key ids refresh at most once a minute each', async () => {
  const before = https.requests;
  https.keys = [jwk(first.publicKey, 'first'), jwk(rotated.publicKey, 'rotated')];
  const token = jwt(rotated.privateKey, 'rotated', 'svc-b');
  // The token that names the new key is refused while the set is fetched again, as in Kafka.
  assert.equal(await authenticates(broker, token), false);
  await https.answered(before + 1);
  let accepted = false;
  for (let attempt = 0; attempt < 50 && !accepted; attempt++) accepted = await authenticates(broker, token);
  assert.ok(accepted, 'the rotated key was never used');
  assert.equal(https.requests, before + 1);

  // A made-up key id refreshes once; the same id again within the minute does not.
  const stranger = jwt(rotated.privateKey, 'made-up', 'mallory');
  assert.equal(await authenticates(broker, stranger), false);
  await https.answered(before + 2);
  assert.equal(await authenticates(broker, stranger), false);
  // Another id does refresh: when its key is in use, exactly one more fetch has happened.
  https.keys = [...https.keys, jwk(rotated.publicKey, 'later')];
  const later = jwt(rotated.privateKey, 'later', 'svc-c');
  assert.equal(await authenticates(broker, later), false);
  await https.answered(before + 3);
  accepted = false;
  for (let attempt = 0; attempt < 50 && !accepted; attempt++) accepted = await authenticates(broker, later);
  assert.ok(accepted);
  assert.equal(https.requests, before + 3);
});

test('an http: endpoint serves the keys too, refreshed every refresh.ms; a broker whose endpoint cannot be reached does not start, naming the setting', async () => {
  const plain = new JwksServer(createHttpServer());
  plain.server.on('request', plain.handle);
  plain.keys = [jwk(first.publicKey, 'first')];
  const port = await plain.listen();
  // Refreshed every 100 ms: more fetches come without any token asking.
  const b = await start(
    brokerProperties(`http://127.0.0.1:${port}/keys`, { 'sasl.oauthbearer.jwks.endpoint.refresh.ms': '100' }),
  );
  try {
    assert.equal(await authenticates(b, jwt(first.privateKey, 'first', 'svc-http')), true);
    await plain.answered(3);
  } finally {
    await b.stop();
    await plain.close();
  }
  // Nothing listens there any more: the fetch fails, is retried for 300 ms, and start-up stops.
  await assert.rejects(
    start(
      brokerProperties(`http://127.0.0.1:${port}/keys`, {
        'sasl.oauthbearer.jwks.endpoint.retry.backoff.ms': '50',
        'sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms': '300',
      }),
    ),
    (e: Error) => {
      assert.match(
        e.message,
        /sasl\.oauthbearer\.jwks\.endpoint\.url=http:\/\/127\.0\.0\.1:\d+\/keys: cannot get the JWKS/,
      );
      return true;
    },
  );
});
