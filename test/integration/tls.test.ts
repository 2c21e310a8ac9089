import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { PYTHON } from './clients.js';
import { KEYSTORE_PASSWORD, makeCertificates, type TestCertificates } from './tls-certificates.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;
const run = promisify(execFile);
let certs: TestCertificates;
/** One broker with a PLAINTEXT and an SSL listener (PEM key store, client certificates requested). */
let broker: Broker;
/** One broker whose only listener is SSL with a PKCS12 key store and client certificates required. */
let mtls: Broker;

async function start(properties: Record<string, string>): Promise<Broker> {
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  return startBroker({ listeners, host: '127.0.0.1', staticConfigs: properties });
}

function endpoint(b: Broker, name: string): string {
  const l = b.settings.listeners!.find((x) => x.name === name)!;
  return `127.0.0.1:${l.port}`;
}

before(async () => {
  certs = await makeCertificates();
  broker = await start({
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.serverKeystorePem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.caCert,
    'ssl.client.auth': 'requested',
  });
  mtls = await start({
    listeners: 'CLIENTS://127.0.0.1:0',
    'listener.security.protocol.map': 'CLIENTS:SSL',
    'listener.name.clients.ssl.keystore.type': 'PKCS12',
    'listener.name.clients.ssl.keystore.location': certs.serverKeystoreP12,
    'listener.name.clients.ssl.keystore.password': KEYSTORE_PASSWORD,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.certificates': await readFile(certs.caCert, 'utf8'),
    'ssl.client.auth': 'required',
  });
});
after(async () => {
  await broker?.stop();
  await mtls?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

/** How long kcat -L waits for metadata it must get (seconds): ample for a TLS handshake on a loaded machine. */
const METADATA_WAIT_S = 60;

function kcatSsl(bootstrap: string, ca: string, extra: string[] = []): string[] {
  return ['-b', bootstrap, '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`, ...extra];
}

test('kcat produces and consumes over SSL', async () => {
  const ssl = kcatSsl(endpoint(broker, 'SSL'), certs.caCert);
  await run('sh', ['-c', 'printf "a\\nb\\nc\\n" | kcat "$@" -P -t tls-kcat -X acks=all', 'sh', ...ssl]);
  const { stdout } = await run('kcat', [...ssl, '-C', '-t', 'tls-kcat', '-o', 'beginning', '-e', '-q'], {
    timeout: 60_000,
  });
  assert.deepEqual(stdout.trim().split('\n'), ['a', 'b', 'c']);
});

test('confluent-kafka-python and kafka-python produce and consume over SSL with a client certificate', async () => {
  const script = `
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
import kafka
bootstrap, ca, cert, key = sys.argv[1:5]
p = Producer({'bootstrap.servers': bootstrap, 'security.protocol': 'SSL', 'ssl.ca.location': ca,
              'ssl.certificate.location': cert, 'ssl.key.location': key})
for i in range(5): p.produce('tls-python', value=f'c{i}'.encode())
assert p.flush(30) == 0
kp = kafka.KafkaProducer(bootstrap_servers=bootstrap, security_protocol='SSL', ssl_cafile=ca, ssl_certfile=cert, ssl_keyfile=key)
for i in range(5): kp.send('tls-python', value=f'k{i}'.encode())
kp.flush(30); kp.close()
c = Consumer({'bootstrap.servers': bootstrap, 'security.protocol': 'SSL', 'ssl.ca.location': ca, 'group.id': 'tls-g',
              'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.assign([TopicPartition('tls-python', 0, 0)])
got = []
while len(got) < 10:
    m = c.poll(30)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value().decode())
c.close()
kc = kafka.KafkaConsumer(bootstrap_servers=bootstrap, security_protocol='SSL', ssl_cafile=ca, group_id=None,
                         auto_offset_reset='earliest', consumer_timeout_ms=60000)
kc.assign([kafka.TopicPartition('tls-python', 0)])
got2 = []
for m in kc:
    got2.append(m.value.decode())
    if len(got2) == 10: break
kc.close()
print(json.dumps([got, got2]))
`;
  const { stdout } = await run(
    PYTHON,
    ['-c', script, endpoint(broker, 'SSL'), certs.caCert, certs.clientCert, certs.clientKey],
    { timeout: 120_000 },
  );
  const expected = ['c0', 'c1', 'c2', 'c3', 'c4', 'k0', 'k1', 'k2', 'k3', 'k4'];
  assert.deepEqual(JSON.parse(stdout), [expected, expected]);
});

test('KafkaJS produces and consumes over mutual TLS (PKCS12 key store, client certificate required)', async () => {
  const kafka = new Kafka({
    clientId: 'tls',
    brokers: [endpoint(mtls, 'CLIENTS')],
    logLevel: logLevel.NOTHING,
    ssl: {
      ca: [await readFile(certs.caCert, 'utf8')],
      cert: await readFile(certs.clientCert, 'utf8'),
      key: await readFile(certs.clientKey, 'utf8'),
    },
  });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'tls-kafkajs', messages: [{ value: 'one' }, { value: 'two' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'tls-kafkajs' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'tls-kafkajs', fromBeginning: true });
  const seen: string[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length === 2) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  assert.deepEqual(seen, ['one', 'two']);
  // DescribeConfigs never gives out a password (Kafka's PASSWORD type): null and marked sensitive.
  const admin = kafka.admin();
  await admin.connect();
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      {
        type: ConfigResourceTypes.BROKER,
        name: '0',
        configNames: ['listener.name.clients.ssl.keystore.password', 'ssl.client.auth'],
      },
    ],
  });
  await admin.disconnect();
  const entries = described.resources[0]!.configEntries;
  const password = entries.find((e) => e.configName === 'listener.name.clients.ssl.keystore.password')!;
  assert.equal(password.configValue, null);
  assert.equal(password.isSensitive, true);
  assert.equal(entries.find((e) => e.configName === 'ssl.client.auth')!.configValue, 'required');
});

test('mutual TLS: a client without a certificate, or with one from another CA, is refused; one with a trusted certificate is served', async () => {
  const bootstrap = endpoint(mtls, 'CLIENTS');
  // kcat waits -m seconds for the metadata: a few where it must fail, ample (a loaded machine) where it must not.
  const metadata = (extra: string[], waitS = 5) =>
    run(
      'kcat',
      [...kcatSsl(bootstrap, certs.caCert, extra), '-L', '-m', String(waitS), '-X', 'reconnect.backoff.max.ms=100'],
      { timeout: (waitS + 30) * 1000 },
    );
  await assert.rejects(metadata([]), 'no client certificate');
  await assert.rejects(
    metadata([
      '-X',
      `ssl.certificate.location=${certs.strangerClientCert}`,
      '-X',
      `ssl.key.location=${certs.strangerClientKey}`,
    ]),
    'a client certificate from an untrusted CA',
  );
  const { stdout } = await metadata(
    ['-X', `ssl.certificate.location=${certs.clientCert}`, '-X', `ssl.key.location=${certs.clientKey}`],
    METADATA_WAIT_S,
  );
  assert.match(stdout, new RegExp(`broker 0 at ${bootstrap}`));
});

test('a client that does not trust the server certificate refuses the broker', async () => {
  await assert.rejects(
    run('kcat', [...kcatSsl(endpoint(broker, 'SSL'), certs.strangerCaCert), '-L', '-m', '5'], { timeout: 30_000 }),
  );
});

test('a plaintext client on the TLS port does not take the listener down: the next TLS client is served', async () => {
  await assert.rejects(run('kcat', ['-b', endpoint(broker, 'SSL'), '-L', '-m', '3'], { timeout: 30_000 }));
  const { stdout } = await run(
    'kcat',
    [...kcatSsl(endpoint(broker, 'SSL'), certs.caCert), '-L', '-m', String(METADATA_WAIT_S)],
    { timeout: (METADATA_WAIT_S + 30) * 1000 },
  );
  assert.match(stdout, /broker 0 at/);
});

test('each listener advertises its own endpoint in Metadata', async () => {
  const viaSsl = await run('kcat', [
    ...kcatSsl(endpoint(broker, 'SSL'), certs.caCert),
    '-L',
    '-m',
    String(METADATA_WAIT_S),
  ]);
  assert.match(viaSsl.stdout, new RegExp(`broker 0 at ${endpoint(broker, 'SSL')}`));
  const viaPlain = await run('kcat', ['-b', endpoint(broker, 'PLAINTEXT'), '-L', '-m', String(METADATA_WAIT_S)]);
  assert.match(viaPlain.stdout, new RegExp(`broker 0 at ${endpoint(broker, 'PLAINTEXT')}`));
  assert.notEqual(endpoint(broker, 'SSL'), endpoint(broker, 'PLAINTEXT'));
});
