import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Certificates made with openssl for one test run: a CA, a server and a client signed by it, and a stranger CA. */
export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Key and certificate chain in one PEM file (Kafka's ssl.keystore.type=PEM with ssl.keystore.location). */
  serverKeystorePem: string;
  serverKeystoreP12: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing of the broker's: a client trusting only it must refuse the broker. */
  strangerCaCert: string;
  strangerClientCert: string;
  strangerClientKey: string;
}

export const KEYSTORE_PASSWORD = 'changeit';
export const CLIENT_SUBJECT = '/C=US/O=Acme/OU=eng/CN=alice';

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

async function sign(dir: string, ca: string, name: string, subject: string, ext: string): Promise<void> {
  await openssl(
    dir,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  );
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-tls-'));
  await makeCa(dir, 'ca');
  await makeCa(dir, 'stranger-ca');
  await sign(
    dir,
    'ca',
    'server',
    '/CN=localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  await sign(dir, 'ca', 'client', CLIENT_SUBJECT, 'extendedKeyUsage=clientAuth\n');
  await sign(dir, 'stranger-ca', 'stranger-client', '/CN=mallory', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => join(dir, f);
  await writeFile(
    p('server-keystore.pem'),
    (await readFile(p('server.key'), 'utf8')) + (await readFile(p('server.pem'), 'utf8')),
  );
  await openssl(
    dir,
    'pkcs12',
    '-export',
    '-inkey',
    'server.key',
    '-in',
    'server.pem',
    '-certfile',
    'ca.pem',
    '-out',
    'server.p12',
    '-passout',
    `pass:${KEYSTORE_PASSWORD}`,
  );
  return {
    dir,
    caCert: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    serverKeystorePem: p('server-keystore.pem'),
    serverKeystoreP12: p('server.p12'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    strangerCaCert: p('stranger-ca.pem'),
    strangerClientCert: p('stranger-client.pem'),
    strangerClientKey: p('stranger-client.key'),
  };
}

/**
 * Another server certificate signed by the test CA, as a PEM key store (key and certificate in one file) named
 * `<name>-keystore.pem` in the certificates' directory: a renewal (same subject and names) or an impostor.
 */
export async function signServerKeystore(
  certs: TestCertificates,
  name: string,
  subject = '/CN=localhost',
  altNames = 'DNS:localhost,IP:127.0.0.1',
  extendedKeyUsage = 'serverAuth',
): Promise<string> {
  await sign(certs.dir, 'ca', name, subject, `subjectAltName=${altNames}\nextendedKeyUsage=${extendedKeyUsage}\n`);
  const keystore = join(certs.dir, `${name}-keystore.pem`);
  await writeFile(
    keystore,
    (await readFile(join(certs.dir, `${name}.key`), 'utf8')) + (await readFile(join(certs.dir, `${name}.pem`), 'utf8')),
  );
  return keystore;
}
