import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Pkcs12Error, readPkcs12Certificates } from '../../src/security/pkcs12-truststore.js';

const run = promisify(execFile);
const PASSWORD = 'changeit';
const KEYTOOL = '/usr/bin/keytool';

test('PKCS12 trust stores from openssl (AES, 3DES, unencrypted) and keytool give their certificates; the password is checked', async (t) => {
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
