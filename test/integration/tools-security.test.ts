import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, startBroker } from '../../src/index.js';
import { alterUserScramCredentialsApi } from '../../src/protocol/generated/apis/alter-user-scram-credentials.js';
import { SCRAM_MECHANISMS, scramSaltedPassword } from '../../src/security/scram.js';
import { samsa } from './cli.js';
import { RawClient } from './raw-client.js';
import { makeCertificates, type TestCertificates } from './tls-certificates.js';

const ADMIN_PASSWORD = 'admin-secret';
const SCRAM_USER = 'alice';
const SCRAM_PASSWORD = 'alice "quoted" secret';
const PLAIN_JAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="${ADMIN_PASSWORD}";`;
const SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';

let certs: TestCertificates;
let broker: Broker;
/** Client property files, by name. */
const configs: Record<string, string> = {};

function endpoint(name: string): string {
  return `127.0.0.1:${broker.settings.listeners!.find((l) => l.name === name)!.port}`;
}

function plainJaas(user: string, password: string): string {
  return `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}";`;
}

before(async () => {
  certs = await makeCertificates();
  const properties: Record<string, string> = {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config': SCRAM_JAAS,
    'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': PLAIN_JAAS,
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.serverKeystorePem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.caCert,
    // Mutual TLS on the SSL listener: the tools must present the client certificate.
    'listener.name.ssl.ssl.client.auth': 'required',
  };
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  broker = await startBroker({ listeners, host: '127.0.0.1', staticConfigs: properties });

  // The SCRAM user, as kafka-configs.sh would add it (AlterUserScramCredentials).
  const client = await RawClient.connect(Number(endpoint('PLAINTEXT').split(':')[1]));
  try {
    const salt = Buffer.from('tools-security-salt');
    const response = await client.request(alterUserScramCredentialsApi, 0, {
      deletions: [],
      upsertions: [
        {
          name: SCRAM_USER,
          mechanism: SCRAM_MECHANISMS['SCRAM-SHA-256'].type,
          iterations: 4096,
          salt,
          saltedPassword: scramSaltedPassword('SCRAM-SHA-256', SCRAM_PASSWORD, salt, 4096),
        },
      ],
    });
    assert.equal(response.results[0]!.errorCode, 0);
  } finally {
    client.close();
  }

  const clientKeystore = join(certs.dir, 'client-keystore.pem');
  await writeFile(
    clientKeystore,
    (await readFile(certs.clientKey, 'utf8')) + (await readFile(certs.clientCert, 'utf8')),
  );
  const files: Record<string, string[]> = {
    'sasl-ssl': [
      'security.protocol=SASL_SSL',
      'sasl.mechanism=PLAIN',
      `sasl.jaas.config=${plainJaas('admin', ADMIN_PASSWORD)}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${certs.caCert}`,
    ],
    scram: [
      'security.protocol=SASL_PLAINTEXT',
      'sasl.mechanism=SCRAM-SHA-256',
      // A properties file escapes backslashes: the JAAS value holds \" for each quote of the password.
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${SCRAM_USER}" password="${SCRAM_PASSWORD.replaceAll('"', '\\\\"')}";`,
    ],
    mtls: [
      'security.protocol=SSL',
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${certs.caCert}`,
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${clientKeystore}`,
    ],
    'no-keystore': ['security.protocol=SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${certs.caCert}`],
    'stranger-ca': [
      'security.protocol=SASL_SSL',
      'sasl.mechanism=PLAIN',
      `sasl.jaas.config=${plainJaas('admin', ADMIN_PASSWORD)}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${certs.strangerCaCert}`,
    ],
    'wrong-password': [
      'security.protocol=SASL_PLAINTEXT',
      'sasl.mechanism=PLAIN',
      `sasl.jaas.config=${plainJaas('admin', 'not-the-password')}`,
    ],
    'wrong-scram-password': [
      'security.protocol=SASL_PLAINTEXT',
      'sasl.mechanism=SCRAM-SHA-256',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${SCRAM_USER}" password="wrong";`,
    ],
    gssapi: ['security.protocol=SASL_PLAINTEXT', `sasl.jaas.config=${plainJaas('admin', ADMIN_PASSWORD)}`],
  };
  for (const [name, lines] of Object.entries(files)) {
    configs[name] = join(certs.dir, `${name}.properties`);
    await writeFile(configs[name], `${lines.join('\n')}\n`);
  }
});

after(async () => {
  await broker?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('tools over SASL_SSL (PLAIN): topics --create and --list with --command-config, console producer and consumer round trip', async () => {
  const bootstrap = endpoint('SASL_SSL');
  const created = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs['sasl-ssl']!,
    '--create',
    '--topic',
    'secured',
    '--partitions',
    '2',
  ]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'Created topic secured.\n');
  const listed = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs['sasl-ssl']!,
    '--list',
  ]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok(listed.stdout.split('\n').includes('secured'), listed.stdout);

  const produced = await samsa(
    [
      'console-producer',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'secured',
      '--producer.config',
      configs['sasl-ssl']!,
      '--property',
      'parse.key=true',
      '--property',
      'key.separator=:',
    ],
    'k:one\nk:two\nk:three\n',
  );
  assert.equal(produced.code, 0, produced.stderr);
  assert.equal(produced.stderr, '', 'the security properties are applied, not reported as ignored');
  const consumed = await samsa([
    'console-consumer',
    '--bootstrap-server',
    bootstrap,
    '--topic',
    'secured',
    '--consumer.config',
    configs['sasl-ssl']!,
    '--from-beginning',
    '--max-messages',
    '3',
  ]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(consumed.stdout.trim().split('\n').sort(), ['one', 'three', 'two']);
  assert.match(consumed.stderr, /Processed a total of 3 messages/);

  // The perf tools take the same properties: --producer-props and --consumer.config.
  const perfProducer = await samsa([
    'producer-perf-test',
    '--topic',
    'secured-perf',
    '--num-records',
    '20',
    '--record-size',
    '10',
    '--throughput',
    '-1',
    '--producer.config',
    configs['sasl-ssl']!,
    '--producer-props',
    `bootstrap.servers=${bootstrap}`,
  ]);
  assert.equal(perfProducer.code, 0, perfProducer.stderr);
  assert.match(perfProducer.stdout, /^20 records sent, /m);
  assert.equal(perfProducer.stderr, '', 'the security properties are applied, not reported as ignored');
  const perfConsumer = await samsa([
    'consumer-perf-test',
    '--bootstrap-server',
    bootstrap,
    '--topic',
    'secured-perf',
    '--messages',
    '20',
    '--consumer.config',
    configs['sasl-ssl']!,
    '--hide-header',
  ]);
  assert.equal(perfConsumer.code, 0, perfConsumer.stderr);
  assert.match(perfConsumer.stdout, /, 20, /, 'the 20 records were read');

  // A broker whose certificate the trust store does not vouch for is refused.
  const untrusted = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs['stranger-ca']!,
    '--list',
  ]);
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /^samsa topics: SSL handshake failed with 127\.0\.0\.1:\d+ \(.+\)\n$/);
});

test('tools over SASL_PLAINTEXT (SCRAM-SHA-256): producer and consumer properties, a group described with --command-config', async () => {
  const bootstrap = endpoint('SASL_PLAINTEXT');
  const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${SCRAM_USER}" password="${SCRAM_PASSWORD.replaceAll('"', '\\"')}";`;
  const security = ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanism=SCRAM-SHA-256', `sasl.jaas.config=${jaas}`];
  const produced = await samsa(
    [
      'console-producer',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'scram-topic',
      ...security.flatMap((p) => ['--producer-property', p]),
    ],
    'a\nb\n',
  );
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await samsa([
    'console-consumer',
    '--bootstrap-server',
    bootstrap,
    '--topic',
    'scram-topic',
    '--group',
    'scram-group',
    '--from-beginning',
    '--max-messages',
    '2',
    ...security.flatMap((p) => ['--consumer-property', p]),
  ]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout, 'a\nb\n');

  const described = await samsa([
    'consumer-groups',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs.scram!,
    '--describe',
    '--group',
    'scram-group',
  ]);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /^scram-group\s+scram-topic\s+0\s+2\s+2\s+0\s+-\s+-\s+-$/m);

  const wrong = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs['wrong-scram-password']!,
    '--list',
  ]);
  assert.equal(wrong.code, 1);
  assert.equal(
    wrong.stderr,
    'samsa topics: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256\n',
  );
});

test('a wrong PLAIN password fails with the broker message and exit 1; a mechanism the tools lack is bad usage', async () => {
  const bootstrap = endpoint('SASL_PLAINTEXT');
  for (const tool of [['topics', '--list'], ['consumer-groups', '--list'], ['get-offsets'], ['broker-api-versions']]) {
    const [name, ...rest] = tool as [string, ...string[]];
    const run = await samsa([
      name,
      '--bootstrap-server',
      bootstrap,
      '--command-config',
      configs['wrong-password']!,
      ...rest,
    ]);
    assert.equal(run.code, 1, `${name}: ${run.stderr}`);
    assert.equal(run.stderr, `samsa ${name}: Authentication failed: Invalid username or password\n`);
  }
  // Kafka's client defaults sasl.mechanism to GSSAPI, which the tools cannot do.
  const gssapi = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs.gssapi!,
    '--list',
  ]);
  assert.equal(gssapi.code, 2);
  assert.match(
    gssapi.stderr,
    /^samsa topics: sasl\.mechanism=GSSAPI \(the default\): the tools support PLAIN, SCRAM-SHA-256, SCRAM-SHA-512\n/,
  );
  const missing = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    join(certs.dir, 'absent.properties'),
    '--list',
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read --command-config .*absent\.properties: ENOENT/);
});

test('configs --entity-type users adds, describes and deletes SCRAM credentials and a quota over SASL_SSL; the user then logs in', async () => {
  const admin = ['configs', '--bootstrap-server', endpoint('SASL_SSL'), '--command-config', configs['sasl-ssl']!];
  const added = await samsa([
    ...admin,
    '--alter',
    '--entity-type',
    'users',
    '--entity-name',
    'carol',
    '--add-config',
    'SCRAM-SHA-256=[iterations=8192,password=carol-secret],SCRAM-SHA-512=[password=carol-512]',
  ]);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, 'Completed updating config for user carol.\n');
  const described = await samsa([...admin, '--describe', '--entity-type', 'users', '--entity-name', 'carol']);
  assert.equal(described.code, 0, described.stderr);
  assert.equal(
    described.stdout,
    "SCRAM credential configs for user-principal 'carol' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096\n",
  );
  // A quota beside the credentials, over the same --command-config.
  const quota = await samsa([...admin, '--alter', '--user', 'carol', '--add-config', 'request_percentage=200']);
  assert.equal(quota.code, 0, quota.stderr);
  const both = await samsa([...admin, '--describe', '--user', 'carol']);
  assert.equal(both.stdout.split('\n')[0], "Quota configs for user-principal 'carol' are request_percentage=200.0");
  assert.equal(
    (await samsa([...admin, '--alter', '--user', 'carol', '--delete-config', 'request_percentage'])).code,
    0,
  );
  const everyone = await samsa([...admin, '--describe', '--entity-type', 'users']);
  assert.match(
    everyone.stdout,
    /^SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=4096$/m,
  );

  // carol logs in with SCRAM-SHA-256 (the broker's SASL_PLAINTEXT listener enables it).
  const carol = join(certs.dir, 'carol.properties');
  await writeFile(
    carol,
    'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="carol" password="carol-secret";\n',
  );
  const list = ['topics', '--bootstrap-server', endpoint('SASL_PLAINTEXT'), '--command-config', carol, '--list'];
  const listed = await samsa(list);
  assert.equal(listed.code, 0, listed.stderr);

  const removed = await samsa([
    ...admin,
    '--alter',
    '--entity-type',
    'users',
    '--entity-name',
    'carol',
    '--delete-config',
    'SCRAM-SHA-256',
  ]);
  assert.equal(removed.code, 0, removed.stderr);
  const left = await samsa([...admin, '--describe', '--user', 'carol']);
  assert.equal(left.stdout, "SCRAM credential configs for user-principal 'carol' are SCRAM-SHA-512=iterations=4096\n");
  const refused = await samsa(list);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^samsa topics: Authentication failed during authentication due to invalid credentials/);

  const tooFew = await samsa([
    ...admin,
    '--alter',
    '--user',
    'carol',
    '--add-config',
    'SCRAM-SHA-256=[iterations=10,password=x]',
  ]);
  assert.equal(tooFew.code, 2);
  assert.match(tooFew.stderr, /SCRAM-SHA-256 iterations must be between 4096 and 16384, not '10'/);
});

test('tools over SSL with mutual TLS: the key store is presented; without it the broker refuses', async () => {
  const bootstrap = endpoint('SSL');
  const listed = await samsa(['topics', '--bootstrap-server', bootstrap, '--command-config', configs.mtls!, '--list']);
  assert.equal(listed.code, 0, listed.stderr);
  const offsets = await samsa([
    'get-offsets',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs.mtls!,
    '--topic',
    'scram-topic',
  ]);
  assert.equal(offsets.code, 0, offsets.stderr);
  assert.equal(offsets.stdout, 'scram-topic:0:2\n');
  const refused = await samsa([
    'topics',
    '--bootstrap-server',
    bootstrap,
    '--command-config',
    configs['no-keystore']!,
    '--list',
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^samsa topics: /);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
});

test('--zookeeper on any tool: one line saying to use --bootstrap-server, exit 1', async () => {
  for (const tool of ['topics', 'consumer-groups', 'configs']) {
    const run = await samsa([tool, '--zookeeper', 'localhost:2181', '--list']);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `samsa ${tool}: --zookeeper is not supported; use --bootstrap-server HOST:PORT to reach a broker\n`,
    );
    assert.equal(run.stdout, '');
  }
});
