import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { ConfigError, parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import type { ListenerSettings } from '../../src/config/broker-settings.js';
import { Listener } from '../../src/server/listener.js';
import { KEYSTORE_PASSWORD, makeCertificates, type TestCertificates } from './tls-certificates.js';

let certs: TestCertificates;
before(async () => {
  certs = await makeCertificates();
});
after(async () => {
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

function sslListener(properties: Record<string, string>): ListenerSettings {
  const all = { listeners: 'SSL://127.0.0.1:0', ...properties };
  return resolveListeners(parseBrokerConfig(new Map(Object.entries(all))).values)[0]!;
}

/** A listener answering every frame with the principal of its connection. */
async function principalListener(settings: ListenerSettings): Promise<{ port: number; close: () => Promise<void> }> {
  const listener = new Listener(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxRequestBytes: 1024,
      idleTimeoutMs: 30_000,
      ssl: settings.ssl!,
    },
    async (_frame, connection) => [Buffer.from(connection.principal)],
    () => {},
  );
  const port = await listener.listen();
  return { port, close: () => listener.close() };
}

/** Sends one frame over TLS and reads the answer's text. */
async function askPrincipal(port: number, withCertificate: boolean): Promise<string> {
  const ca = await readFile(certs.caCert);
  const socket = connect({
    host: '127.0.0.1',
    port,
    ca,
    servername: 'localhost',
    ...(withCertificate ? { cert: await readFile(certs.clientCert), key: await readFile(certs.clientKey) } : {}),
  });
  const frame = Buffer.alloc(5);
  frame.writeInt32BE(1, 0);
  socket.write(frame);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) {
    chunks.push(chunk as Buffer);
    const all = Buffer.concat(chunks);
    if (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
      socket.destroy();
      return all.subarray(4, 4 + all.readInt32BE(0)).toString();
    }
  }
  throw new Error('connection closed before an answer');
}

const BASE = {
  'ssl.keystore.type': 'PEM',
  'ssl.truststore.type': 'PEM',
  'ssl.client.auth': 'requested',
};

test('the principal is the client certificate subject in RFC 2253 form, mapped by ssl.principal.mapping.rules; ANONYMOUS without one', async () => {
  const keystore = { 'ssl.keystore.location': certs.serverKeystorePem, 'ssl.truststore.location': certs.caCert };
  const plain = await principalListener(sslListener({ ...BASE, ...keystore }));
  try {
    assert.equal(await askPrincipal(plain.port, true), 'User:CN=alice,OU=eng,O=Acme,C=US');
    assert.equal(await askPrincipal(plain.port, false), 'User:ANONYMOUS');
  } finally {
    await plain.close();
  }
  // Inline PEM values (KIP-651) and a per-listener rule overriding the broker-wide one.
  const mapped = await principalListener(
    sslListener({
      ...BASE,
      'ssl.keystore.key': await readFile(certs.serverKey, 'utf8'),
      'ssl.keystore.certificate.chain': await readFile(certs.serverCert, 'utf8'),
      'ssl.truststore.certificates': await readFile(certs.caCert, 'utf8'),
      'ssl.principal.mapping.rules': 'DEFAULT',
      'listener.name.ssl.ssl.principal.mapping.rules': 'RULE:^CN=(.*?),OU=(.*?),.*$/$1.$2/U,DEFAULT',
    }),
  );
  try {
    assert.equal(await askPrincipal(mapped.port, true), 'User:ALICE.ENG');
  } finally {
    await mapped.close();
  }
});

test('a bad or missing key store stops start-up naming the key and the file; JKS is refused with how to convert', async () => {
  const refused = (properties: Record<string, string>, reason: RegExp) =>
    assert.throws(
      () => sslListener(properties),
      (e: Error) => e instanceof ConfigError && reason.test(e.message),
      JSON.stringify(properties),
    );
  const missing = join(certs.dir, 'missing.pem');
  refused(
    { ...BASE, 'ssl.keystore.location': missing },
    new RegExp(`ssl\\.keystore\\.location: cannot read ${missing} \\(ENOENT\\)`),
  );
  refused(
    { ...BASE, 'listener.name.ssl.ssl.keystore.location': missing },
    /listener\.name\.ssl\.ssl\.keystore\.location: cannot read/,
  );
  const garbage = join(certs.dir, 'garbage.pem');
  await writeFile(garbage, 'not a key');
  refused(
    { ...BASE, 'ssl.keystore.location': garbage },
    /key store or trust store cannot be used \(ssl\.keystore\.location=.*garbage\.pem/,
  );
  refused(
    {
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': certs.serverKeystoreP12,
      'ssl.keystore.password': 'wrong',
    },
    /cannot be used \(ssl\.keystore\.location=.*server\.p12\)/,
  );
  refused({ 'ssl.keystore.location': '/etc/kafka/server.keystore.jks' }, /JKS.*convert it to PKCS12.*or PEM/);
  refused({ ...BASE }, /has no key store/);
  refused(
    { ...BASE, 'ssl.keystore.location': certs.serverKeystorePem, 'ssl.client.auth': 'sometimes' },
    /ssl\.client\.auth/,
  );
  refused(
    { ...BASE, 'ssl.keystore.location': certs.serverKeystorePem, 'ssl.enabled.protocols': 'SSLv3' },
    /ssl\.enabled\.protocols/,
  );
  refused(
    { ...BASE, 'ssl.keystore.location': certs.serverKeystorePem, 'ssl.cipher.suites': 'TLS_MADE_UP' },
    /ssl\.cipher\.suites/,
  );
  assert.ok(
    sslListener({
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': certs.serverKeystoreP12,
      'ssl.keystore.password': KEYSTORE_PASSWORD,
    }).ssl,
  );
});

test('ssl.enabled.protocols and ssl.cipher.suites restrict what a client may negotiate', async () => {
  const l = await principalListener(
    sslListener({
      ...BASE,
      'ssl.keystore.location': certs.serverKeystorePem,
      'ssl.enabled.protocols': 'TLSv1.2',
      'ssl.cipher.suites': 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    }),
  );
  try {
    const ca = await readFile(certs.caCert);
    const socket = connect({ host: '127.0.0.1', port: l.port, ca, servername: 'localhost' });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    assert.equal(socket.getProtocol(), 'TLSv1.2');
    assert.equal(socket.getCipher().standardName, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
    socket.destroy();
    const tls13 = connect({ host: '127.0.0.1', port: l.port, ca, servername: 'localhost', minVersion: 'TLSv1.3' });
    await assert.rejects(new Promise((resolve, reject) => tls13.once('secureConnect', resolve).once('error', reject)));
    tls13.destroy();
  } finally {
    await l.close();
  }
});
