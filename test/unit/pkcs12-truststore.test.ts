import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Pkcs12Error, readPkcs12Certificates, readPkcs12KeyStore } from '../../src/security/pkcs12-truststore.js';

const run = promisify(execFile);
const PASSWORD = 'changeit';
const KEYTOOL = '/usr/bin/keytool';

test('PKCS12 trust stores from openssl (AES, 3DES, RC2 40 and 128 bits, unencrypted) and keytool give their certificates; the password is checked', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-p12-'));
  try {
    const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=p12-ca',
    );
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca2.key',
      '-out',
      'ca2.pem',
      '-days',
      '1',
      '-subj',
      '/CN=p12-ca2',
    );
    const ca = (await readFile(join(dir, 'ca.pem'), 'utf8')).trim();
    const ca2 = (await readFile(join(dir, 'ca2.pem'), 'utf8')).trim();
    const stores: Array<[string, string[]]> = [
      ['aes', []],
      ['3des', ['-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']],
      ['none', ['-certpbe', 'NONE']],
      // OpenSSL 1.x's default (RC2-40), which OpenSSL 3 writes with its legacy provider.
      ['rc2-40', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40']],
      ['rc2-128', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-128']],
    ];
    for (const [name, args] of stores)
      await openssl(
        'pkcs12',
        '-export',
        '-nokeys',
        '-in',
        'ca.pem',
        '-certfile',
        'ca2.pem',
        '-out',
        `${name}.p12`,
        '-passout',
        `pass:${PASSWORD}`,
        ...args,
      );
    if (existsSync(KEYTOOL)) {
      for (const [alias, file] of [
        ['ca', 'ca.pem'],
        ['ca2', 'ca2.pem'],
      ] as const)
        await run(KEYTOOL, [
          '-importcert',
          '-noprompt',
          '-storetype',
          'PKCS12',
          '-keystore',
          join(dir, 'keytool.p12'),
          '-storepass',
          PASSWORD,
          '-alias',
          alias,
          '-file',
          join(dir, file),
        ]);
      stores.push(['keytool', []]);
    } else t.diagnostic('no keytool (openjdk-17-jdk-headless): the store Java writes is not checked');
    for (const [name] of stores) {
      const file = await readFile(join(dir, `${name}.p12`));
      const certificates = readPkcs12Certificates(file, PASSWORD).map((c) => c.trim());
      assert.deepEqual(new Set(certificates), new Set([ca, ca2]), name);
      assert.throws(() => readPkcs12Certificates(file, 'wrong'), /the password is wrong/, name);
      // Without a password the MAC is not checked; encrypted certificates cannot be read.
      if (name === 'none') assert.equal(readPkcs12Certificates(file, null).length, 2);
      else assert.throws(() => readPkcs12Certificates(file, null), /set ssl\.truststore\.password/, name);
      const damaged = Buffer.from(file);
      damaged[damaged.length - 30]! ^= 0xff;
      assert.throws(() => readPkcs12Certificates(damaged, PASSWORD), Pkcs12Error, `${name} damaged`);
      assert.throws(() => readPkcs12Certificates(file.subarray(0, file.length - 7), PASSWORD), Pkcs12Error);
    }
    assert.throws(() => readPkcs12Certificates(Buffer.from('not a store'), PASSWORD), Pkcs12Error);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('PKCS12 key stores with RC2 certificates give their private key and chain (key bag 3DES, AES, RC2 or none); passwords are checked', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samsa-p12-'));
  try {
    const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=p12-ca',
    );
    await openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.csr',
      '-subj',
      '/CN=leaf',
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      '1',
    );
    const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
    const leaf = new X509Certificate(await readFile(join(dir, 'leaf.pem')));
    const key = createPrivateKey(await readFile(join(dir, 'leaf.key')));
    const stores: Array<[string, string[]]> = [
      ['rc2-40-3des', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-keypbe', 'PBE-SHA1-3DES']],
      ['rc2-128-rc2', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-128', '-keypbe', 'PBE-SHA1-RC2-128']],
      ['rc2-40-aes', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-keypbe', 'AES-256-CBC']],
      ['rc2-40-plain', ['-legacy', '-certpbe', 'PBE-SHA1-RC2-40', '-keypbe', 'NONE']],
      ['aes', []],
    ];
    for (const [name, args] of stores) {
      // The CA first in the file, the key's certificate after it: the leaf still comes first.
      await openssl(
        'pkcs12',
        '-export',
        '-inkey',
        'leaf.key',
        '-in',
        'leaf.pem',
        '-certfile',
        'ca.pem',
        '-out',
        `${name}.p12`,
        '-passout',
        `pass:${PASSWORD}`,
        ...args,
      );
      const file = await readFile(join(dir, `${name}.p12`));
      const store = readPkcs12KeyStore(file, PASSWORD, PASSWORD);
      assert.ok(createPrivateKey(store.key).equals(key), name);
      const chain = store.cert.split(/(?<=-----END CERTIFICATE-----\n)/).filter((c) => c.trim() !== '');
      assert.deepEqual(
        chain.map((c) => new X509Certificate(c).fingerprint256),
        [leaf.fingerprint256, ca.fingerprint256],
        name,
      );
      assert.throws(() => readPkcs12KeyStore(file, 'wrong', PASSWORD), /the password is wrong/, name);
      if (name !== 'rc2-40-plain')
        assert.throws(
          () => readPkcs12KeyStore(file, PASSWORD, 'wrong'),
          /key password is wrong|cannot be decrypted/,
          name,
        );
    }
    await openssl(
      'pkcs12',
      '-export',
      '-nokeys',
      '-legacy',
      '-in',
      'ca.pem',
      '-out',
      'trust.p12',
      '-passout',
      `pass:${PASSWORD}`,
    );
    assert.throws(
      () => readPkcs12KeyStore(readFileSync(join(dir, 'trust.p12')), PASSWORD, PASSWORD),
      /it holds no private key/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
