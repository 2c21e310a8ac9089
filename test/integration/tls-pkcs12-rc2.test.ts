/**
 * PKCS12 stores whose certificates are encrypted with RC2, as OpenSSL 1.x and old keytools wrote them (OpenSSL 3
 * writes them with `-legacy`, through its legacy provider, which Debian's openssl loads): Node's OpenSSL refuses
 * them as `pfx`, so the broker reads them itself. A broker listener with an RC2 key store and an RC2 trust store
 * (mutual TLS required) serves kcat, and `samsa topics` connects with an RC2 key store and trust store from its
 * --command-config; a client of another CA is refused, and a wrong key store password or a JKS file still stops
 * start-up naming the key.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { samsa } from './cli.js';
import { KEYSTORE_PASSWORD, makeCertificates, type TestCertificates } from './tls-certificates.js';

const run = promisify(execFile);

let certs: TestCertificates;
let broker: Broker;
let serverKeystore: string;
let truststore: string;
let clientKeystore: string;

function properties(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    listeners: 'SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'SSL:SSL',
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': serverKeystore,
    'ssl.keystore.password': KEYSTORE_PASSWORD,
    'ssl.truststore.type': 'PKCS12',
    'ssl.truststore.location': truststore,
    'ssl.truststore.password': KEYSTORE_PASSWORD,
    'ssl.client.auth': 'required',
    ...overrides,
  };
}

async function start(props: Record<string, string>): Promise<Broker> {
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(props))).values);
  return startBroker({ listeners, host: '127.0.0.1', staticConfigs: props });
}

/** `openssl pkcs12 -export -legacy` into the certificates' directory: OpenSSL 1.x's RC2 certificate bags. */
async function legacyP12(name: string, ...args: string[]): Promise<string> {
  const out = join(certs.dir, `${name}.p12`);
  await run(
    'openssl',
    ['pkcs12', '-export', '-legacy', ...args, '-out', out, '-passout', `pass:${KEYSTORE_PASSWORD}`],
    {
      cwd: certs.dir,
    },
  );
  return out;
}

before(async () => {
  certs = await makeCertificates();
  // OpenSSL 1.x's defaults: certificates with 40-bit RC2, the key with 3DES.
  serverKeystore = await legacyP12(
    'server-rc2',
    '-certpbe',
    'PBE-SHA1-RC2-40',
    '-keypbe',
    'PBE-SHA1-3DES',
    '-inkey',
    certs.serverKey,
    '-in',
    certs.serverCert,
    '-certfile',
    certs.caCert,
  );
  truststore = await legacyP12('truststore-rc2', '-nokeys', '-certpbe', 'PBE-SHA1-RC2-40', '-in', certs.caCert);
  clientKeystore = await legacyP12(
    'client-rc2',
    '-certpbe',
    'PBE-SHA1-RC2-128',
    '-keypbe',
    'PBE-SHA1-3DES',
    '-inkey',
    certs.clientKey,
    '-in',
    certs.clientCert,
  );
  broker = await start(properties());
});

after(async () => {
  await broker?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

function bootstrap(): string {
  return `127.0.0.1:${broker.settings.listeners![0]!.port}`;
}

function kcatSsl(cert: string, key: string): string[] {
  return [
    '-b',
    bootstrap(),
    '-X',
    'security.protocol=ssl',
    '-X',
    `ssl.ca.location=${certs.caCert}`,
    '-X',
    `ssl.certificate.location=${cert}`,
    '-X',
    `ssl.key.location=${key}`,
  ];
}

test("Node's OpenSSL refuses the RC2 stores as pfx: the broker's own reading is what this file tests", () => {
  for (const store of [serverKeystore, clientKeystore])
    assert.throws(
      () => createSecureContext({ pfx: readFileSync(store), passphrase: KEYSTORE_PASSWORD }),
      /Unsupported PKCS12 PFX data/,
    );
});

test('kcat produces and consumes over mutual TLS against a listener with RC2 PKCS12 key and trust stores; another CA is refused', async () => {
  const ssl = kcatSsl(certs.clientCert, certs.clientKey);
  await run('sh', ['-c', 'printf "a\\nb\\nc\\n" | kcat "$@" -P -t rc2-kcat -X acks=all', 'sh', ...ssl], {
    timeout: 60_000,
  });
  const { stdout } = await run('kcat', [...ssl, '-C', '-t', 'rc2-kcat', '-o', 'beginning', '-e', '-q'], {
    timeout: 60_000,
  });
  assert.deepEqual(stdout.trim().split('\n'), ['a', 'b', 'c']);
  // The RC2 trust store holds only the test CA: a client certificate of another CA fails the handshake.
  await assert.rejects(
    run('kcat', [...kcatSsl(certs.strangerClientCert, certs.strangerClientKey), '-L', '-m', '5'], {
      timeout: 30_000,
    }),
  );
});

test('samsa topics connects with an RC2 PKCS12 key store and trust store from --command-config', async () => {
  const config = join(certs.dir, 'client-rc2.properties');
  const lines = (keystorePassword: string) =>
    [
      'security.protocol=SSL',
      'ssl.truststore.type=PKCS12',
      `ssl.truststore.location=${truststore}`,
      `ssl.truststore.password=${KEYSTORE_PASSWORD}`,
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${clientKeystore}`,
      `ssl.keystore.password=${keystorePassword}`,
      '',
    ].join('\n');
  await writeFile(config, lines(KEYSTORE_PASSWORD));
  const created = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap(),
    '--command-config',
    config,
    '--create',
    '--topic',
    'rc2-tool',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const listed = await samsa(['topics', '--bootstrap-server', bootstrap(), '--command-config', config, '--list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^rc2-tool$/m);
  // A wrong key store password is bad usage, as before: Node's refusal names it.
  await writeFile(config, lines('not-the-password'));
  const wrong = await samsa(['topics', '--bootstrap-server', bootstrap(), '--command-config', config, '--list']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /the SSL key store or trust store cannot be used: .*mac verify failure/i);
});

test('an RC2 key store with a wrong password, or a JKS file, still stops start-up naming the key and the file', async () => {
  await assert.rejects(start(properties({ 'ssl.keystore.password': 'not-the-password' })), (e: Error) => {
    assert.match(e.message, /cannot be used \(ssl\.keystore\.location=.*server-rc2\.p12.*mac verify failure/i);
    return true;
  });
  // A JKS file named as PKCS12: Node's DER parser refuses it, as it did before RC2 stores were read here.
  const jks = join(certs.dir, 'server.keystore.jks');
  await writeFile(jks, Buffer.from('feedfeed000000020000000100000001', 'hex'));
  await assert.rejects(start(properties({ 'ssl.keystore.location': jks })), (e: Error) => {
    assert.match(e.message, /cannot be used \(ssl\.keystore\.location=.*server\.keystore\.jks/);
    return true;
  });
  await assert.rejects(start(properties({ 'ssl.truststore.password': 'not-the-password' })), (e: Error) => {
    assert.match(e.message, /truststore-rc2\.p12 \(PKCS12\) cannot be used: the password is wrong/);
    return true;
  });
});
