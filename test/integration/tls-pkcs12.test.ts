/**
 * PKCS12 key and trust stores, as Kafka's `ssl.keystore.type=PKCS12` and `ssl.truststore.type=PKCS12` with their
 * passwords: the broker's trust store written by Java's keytool (or by openssl when no JDK is installed), mutual
 * TLS required. kcat presents its certificate from a PKCS12 key store and confluent-kafka-python from PEM files;
 * both produce and consume. A client whose certificate another CA signed is refused, `samsa topics` reads a
 * PKCS12 trust store from its --command-config, and a wrong trust store password stops start-up naming the key.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { samsa } from './cli.js';
import { PYTHON } from './clients.js';
import { KEYSTORE_PASSWORD, makeCertificates, type TestCertificates } from './tls-certificates.js';

const run = promisify(execFile);
const KEYTOOL = '/usr/bin/keytool';

let certs: TestCertificates;
let broker: Broker;
let truststore: string;
let clientKeystore: string;
let strangerKeystore: string;

function properties(trustPassword: string): Record<string, string> {
  return {
    listeners: 'SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'SSL:SSL',
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': certs.serverKeystoreP12,
    'ssl.keystore.password': KEYSTORE_PASSWORD,
    'ssl.truststore.type': 'PKCS12',
    'ssl.truststore.location': truststore,
    'ssl.truststore.password': trustPassword,
    'ssl.client.auth': 'required',
  };
}

async function start(props: Record<string, string>): Promise<Broker> {
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(props))).values);
  return startBroker({ listeners, host: '127.0.0.1', staticConfigs: props });
}

/** A PKCS12 key store of a certificate and its key, as clients are given them. */
async function clientP12(cert: string, key: string, name: string): Promise<string> {
  const out = join(certs.dir, `${name}.p12`);
  await run('openssl', [
    'pkcs12',
    '-export',
    '-in',
    cert,
    '-inkey',
    key,
    '-out',
    out,
    '-passout',
    `pass:${KEYSTORE_PASSWORD}`,
  ]);
  return out;
}

before(async () => {
  certs = await makeCertificates();
  truststore = join(certs.dir, 'truststore.p12');
  // A JDK's keytool writes the trust store as Kafka's documentation does; openssl when there is none.
  if (existsSync(KEYTOOL))
    await run(KEYTOOL, [
      '-importcert',
      '-noprompt',
      '-storetype',
      'PKCS12',
      '-keystore',
      truststore,
      '-storepass',
      KEYSTORE_PASSWORD,
      '-alias',
      'ca',
      '-file',
      certs.caCert,
    ]);
  else
    await run('openssl', [
      'pkcs12',
      '-export',
      '-nokeys',
      '-in',
      certs.caCert,
      '-out',
      truststore,
      '-passout',
      `pass:${KEYSTORE_PASSWORD}`,
    ]);
  clientKeystore = await clientP12(certs.clientCert, certs.clientKey, 'client');
  strangerKeystore = await clientP12(certs.strangerClientCert, certs.strangerClientKey, 'stranger');
  broker = await start(properties(KEYSTORE_PASSWORD));
});

after(async () => {
  await broker?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

function bootstrap(): string {
  return `127.0.0.1:${broker.settings.listeners![0]!.port}`;
}

function kcatSsl(keystore: string): string[] {
  return [
    '-b',
    bootstrap(),
    '-X',
    'security.protocol=ssl',
    '-X',
    `ssl.ca.location=${certs.caCert}`,
    '-X',
    `ssl.keystore.location=${keystore}`,
    '-X',
    `ssl.keystore.password=${KEYSTORE_PASSWORD}`,
  ];
}

test('kcat with a PKCS12 key store produces and consumes over mutual TLS against PKCS12 broker stores; another CA is refused', async () => {
  const ssl = kcatSsl(clientKeystore);
  await run('sh', ['-c', 'printf "a\\nb\\nc\\n" | kcat "$@" -P -t p12-kcat -X acks=all', 'sh', ...ssl], {
    timeout: 60_000,
  });
  const { stdout } = await run('kcat', [...ssl, '-C', '-t', 'p12-kcat', '-o', 'beginning', '-e', '-q'], {
    timeout: 60_000,
  });
  assert.deepEqual(stdout.trim().split('\n'), ['a', 'b', 'c']);
  // The broker's trust store holds only the test CA: a certificate of another CA fails the handshake.
  await assert.rejects(run('kcat', [...kcatSsl(strangerKeystore), '-L', '-m', '5'], { timeout: 30_000 }));
});

test('confluent-kafka-python produces and consumes over mutual TLS against PKCS12 broker stores', async () => {
  const script = `
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
bootstrap, ca, cert, key = sys.argv[1:5]
conf = {'bootstrap.servers': bootstrap, 'security.protocol': 'SSL', 'ssl.ca.location': ca,
        'ssl.certificate.location': cert, 'ssl.key.location': key}
p = Producer(conf)
for i in range(5): p.produce('p12-python', value=f'c{i}'.encode())
assert p.flush(30) == 0
c = Consumer({**conf, 'group.id': 'p12-g', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.assign([TopicPartition('p12-python', 0, 0)])
got = []
while len(got) < 5:
    m = c.poll(30)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value().decode())
c.close()
print(json.dumps(got))
`;
  const { stdout } = await run(PYTHON, ['-c', script, bootstrap(), certs.caCert, certs.clientCert, certs.clientKey], {
    timeout: 120_000,
  });
  assert.deepEqual(JSON.parse(stdout), ['c0', 'c1', 'c2', 'c3', 'c4']);
});

test('samsa topics reads a PKCS12 trust store and key store from --command-config; a wrong trust store password stops start-up', async () => {
  const config = join(certs.dir, 'client-p12.properties');
  await writeFile(
    config,
    [
      'security.protocol=SSL',
      'ssl.truststore.type=PKCS12',
      `ssl.truststore.location=${truststore}`,
      `ssl.truststore.password=${KEYSTORE_PASSWORD}`,
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${clientKeystore}`,
      `ssl.keystore.password=${KEYSTORE_PASSWORD}`,
      '',
    ].join('\n'),
  );
  const listed = await samsa(['topics', '--bootstrap-server', bootstrap(), '--command-config', config, '--list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^p12-kcat$/m);
  await assert.rejects(start(properties('not-the-password')), (e: Error) => {
    assert.match(
      e.message,
      /ssl\.truststore\.location=.*truststore\.p12 \(PKCS12\) cannot be used: the password is wrong or the file is damaged/,
    );
    return true;
  });
});
