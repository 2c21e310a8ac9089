import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { UsageError } from '../../src/cli/tools/args.js';
import { clientSecurity, readClientProperties } from '../../src/cli/tools/client-security.js';
import { parseDurationMs } from '../../src/cli/tools/consumer-groups.js';

const props = (entries: Record<string, string>) => new Map(Object.entries(entries));

test('Kafka client security properties become the client library TLS and SASL options', async () => {
  assert.deepEqual(await clientSecurity(props({})), {}, 'PLAINTEXT by default');
  assert.deepEqual(
    await clientSecurity(
      props({
        'security.protocol': 'sasl_plaintext',
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.jaas.config':
          'org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="p\\"w";',
      }),
    ),
    { sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: 'p"w' } },
  );
  const ssl = await clientSecurity(props({ 'security.protocol': 'SSL', 'ssl.endpoint.identification.algorithm': '' }));
  assert.equal(ssl.tls?.rejectUnauthorized, true, 'the chain is always verified');
  assert.equal(ssl.tls?.checkServerIdentity?.('other.example', {} as never), undefined, 'no host name check');
  const checked = await clientSecurity(
    props({
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'PLAIN',
      'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required username=a password=b;',
    }),
  );
  assert.equal(checked.tls?.checkServerIdentity, undefined, "Node's host name check, as Kafka's default https");
  assert.deepEqual(checked.sasl, { mechanism: 'PLAIN', username: 'a', password: 'b' });
});

test('client security properties the tools cannot honour are refused, naming the property', async () => {
  const refused = async (entries: Record<string, string>, message: RegExp) =>
    assert.rejects(clientSecurity(props(entries)), (e: unknown) => e instanceof UsageError && message.test(e.message));
  await refused({ 'security.protocol': 'SASL_TLS' }, /^security\.protocol=SASL_TLS: expected one of PLAINTEXT, SSL/);
  await refused({ 'security.protocol': 'SASL_PLAINTEXT' }, /^sasl\.mechanism=GSSAPI \(the default\)/);
  await refused(
    { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'PLAIN' },
    /^sasl\.jaas\.config is required/,
  );
  await refused(
    {
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'PLAIN',
      'sasl.jaas.config': 'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;',
    },
    /login module com\.sun\.security\.auth\.module\.Krb5LoginModule is not supported/,
  );
  await refused(
    {
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'PLAIN',
      'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required username="a";',
    },
    /needs the options username and password/,
  );
  await refused(
    { 'security.protocol': 'SSL', 'ssl.truststore.location': '/nowhere/truststore.jks' },
    /^ssl\.truststore\.type=JKS \(the default\): Node\.js cannot read Java KeyStore/,
  );
  await refused(
    { 'security.protocol': 'SSL', 'ssl.truststore.type': 'PKCS12', 'ssl.truststore.location': '/x/t.p12' },
    /^ssl\.truststore\.location: cannot read \/x\/t\.p12 \(ENOENT\)/,
  );
  await refused(
    { 'security.protocol': 'SSL', 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': '/nowhere/ca.pem' },
    /^ssl\.truststore\.location: cannot read \/nowhere\/ca\.pem \(ENOENT\)/,
  );
  await refused({ 'security.protocol': 'SSL', 'ssl.endpoint.identification.algorithm': 'ldap' }, /expected https/);
});

test('a properties file is read as Java reads it; a missing one is bad usage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-client-props-'));
  try {
    const file = join(dir, 'client.properties');
    await writeFile(file, '# comment\nsecurity.protocol = SASL_SSL\nsasl.jaas.config=a \\\n  b\n');
    assert.deepEqual(
      [...(await readClientProperties(file, 'command-config'))],
      [
        ['security.protocol', 'SASL_SSL'],
        ['sasl.jaas.config', 'a b'],
      ],
    );
    await assert.rejects(readClientProperties(join(dir, 'absent'), 'command-config'), /cannot read --command-config/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("--by-duration takes Java's Duration format", () => {
  assert.equal(parseDurationMs('PT0S'), 0);
  assert.equal(parseDurationMs('P1DT2H3M4.5S'), 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4500);
  assert.equal(parseDurationMs('PT15M'), 900_000);
  assert.equal(parseDurationMs('-PT1H'), -3_600_000);
  for (const bad of ['P', 'PT', '1 day', 'P1H', 'PT1D']) assert.throws(() => parseDurationMs(bad), UsageError, bad);
});

test('a PKCS12 key store goes to node:tls as pfx, or as key and cert when it has RC2 inside; a wrong password is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-client-p12-'));
  try {
    const openssl = (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-days',
      '1',
      '-subj',
      '/CN=me',
    );
    await openssl('pkcs12', '-export', '-inkey', 'k.pem', '-in', 'c.pem', '-out', 'aes.p12', '-passout', 'pass:pw');
    await openssl(
      'pkcs12',
      '-export',
      '-legacy',
      '-inkey',
      'k.pem',
      '-in',
      'c.pem',
      '-out',
      'rc2.p12',
      '-passout',
      'pass:pw',
    );
    const tls = async (store: string, password: string) =>
      (
        await clientSecurity(
          props({
            'security.protocol': 'SSL',
            'ssl.keystore.type': 'PKCS12',
            'ssl.keystore.location': join(dir, store),
            'ssl.keystore.password': password,
          }),
        )
      ).tls!;
    const aes = await tls('aes.p12', 'pw');
    assert.ok(Buffer.isBuffer(aes.pfx));
    assert.equal(aes.passphrase, 'pw');
    const rc2 = await tls('rc2.p12', 'pw');
    assert.equal(rc2.pfx, undefined);
    assert.ok(createPrivateKey(rc2.key as string).equals(createPrivateKey(await readFile(join(dir, 'k.pem')))));
    assert.equal((rc2.cert as string).trim(), (await readFile(join(dir, 'c.pem'), 'utf8')).trim());
    for (const store of ['aes.p12', 'rc2.p12'])
      await assert.rejects(
        tls(store, 'wrong'),
        (e: Error) => e instanceof UsageError && /mac verify failure/i.test(e.message),
      );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
