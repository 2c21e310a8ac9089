import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import { parseBrokerConfig, resolveListeners } from '../../src/config/broker-config.js';
import { type Broker, Logger, startBroker } from '../../src/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { alterUserScramCredentialsApi } from '../../src/protocol/generated/apis/alter-user-scram-credentials.js';
import { apiVersionsApi } from '../../src/protocol/generated/apis/api-versions.js';
import { describeUserScramCredentialsApi } from '../../src/protocol/generated/apis/describe-user-scram-credentials.js';
import { produceApi } from '../../src/protocol/generated/apis/produce.js';
import { saslAuthenticateApi } from '../../src/protocol/generated/apis/sasl-authenticate.js';
import { saslHandshakeApi } from '../../src/protocol/generated/apis/sasl-handshake.js';
import { SCRAM_MECHANISMS, type ScramMechanismName, scramSaltedPassword } from '../../src/security/scram.js';
import { kafkaJsRoundTrip, PYTHON } from './clients.js';
import { RawClient } from './raw-client.js';
import { makeCertificates, type TestCertificates } from './tls-certificates.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

const ADMIN_PASSWORD = 'admin-secret';
const ALICE_PASSWORD = 'alice "quoted" secret';
/** JAAS value with a quoted password holding escaped quotes, as Kafka's parser reads it. */
const PLAIN_JAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${ADMIN_PASSWORD}" user_admin="${ADMIN_PASSWORD}" user_alice="alice \\"quoted\\" secret";`;

const SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';

let certs: TestCertificates;
let broker: Broker;
const logLines: string[] = [];

function endpoint(name: string): string {
  const l = broker.settings.listeners!.find((x) => x.name === name)!;
  return `127.0.0.1:${l.port}`;
}

function port(name: string): number {
  return broker.settings.listeners!.find((x) => x.name === name)!.port;
}

before(async () => {
  certs = await makeCertificates();
  const properties: Record<string, string> = {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': PLAIN_JAAS,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config': SCRAM_JAAS,
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config': SCRAM_JAAS,
    // The SASL_SSL listener enables PLAIN only: its own list comes before sasl.enabled.mechanisms.
    'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': PLAIN_JAAS,
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.serverKeystorePem,
  };
  const listeners = resolveListeners(parseBrokerConfig(new Map(Object.entries(properties))).values);
  broker = await startBroker({
    listeners,
    host: '127.0.0.1',
    staticConfigs: properties,
    logger: new Logger('broker', { level: 'debug', sink: { write: (line) => logLines.push(line) } }),
  });
});

after(async () => {
  await broker?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

function kcatSasl(mechanism: string, user: string, password: string): string[] {
  return [
    '-b',
    endpoint('SASL_PLAINTEXT'),
    '-X',
    'security.protocol=SASL_PLAINTEXT',
    '-X',
    `sasl.mechanisms=${mechanism}`,
    '-X',
    `sasl.username=${user}`,
    '-X',
    `sasl.password=${password}`,
  ];
}

async function kcatRoundTrip(mechanism: string, user: string, password: string, topic: string): Promise<string[]> {
  const sasl = kcatSasl(mechanism, user, password);
  await run('sh', ['-c', 'printf "a\\nb\\nc\\n" | kcat "$@" -P -t "$T" -X acks=all', 'sh', ...sasl], {
    env: { ...process.env, T: topic },
    timeout: 60_000,
  });
  const { stdout } = await run('kcat', [...sasl, '-C', '-t', topic, '-o', 'beginning', '-e', '-q'], {
    timeout: 60_000,
  });
  return stdout.trim().split('\n');
}

/** confluent-kafka-python and kafka-python each produce five records and read all ten back. */
async function pythonRoundTrip(mechanism: string, user: string, password: string, topic: string): Promise<unknown> {
  const script = `
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
import kafka
bootstrap, mechanism, user, password, topic = sys.argv[1:6]
conf = {'bootstrap.servers': bootstrap, 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': mechanism,
        'sasl.username': user, 'sasl.password': password}
p = Producer(conf)
for i in range(5): p.produce(topic, value=f'c{i}'.encode())
assert p.flush(30) == 0
kconf = dict(bootstrap_servers=bootstrap, security_protocol='SASL_PLAINTEXT', sasl_mechanism=mechanism,
             sasl_plain_username=user, sasl_plain_password=password)
kp = kafka.KafkaProducer(**kconf)
for i in range(5): kp.send(topic, value=f'k{i}'.encode())
kp.flush(30); kp.close()
c = Consumer({**conf, 'group.id': topic, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.assign([TopicPartition(topic, 0, 0)])
got = []
while len(got) < 10:
    m = c.poll(30)
    if m is None: break
    if m.error(): raise Exception(m.error())
    got.append(m.value().decode())
c.close()
kc = kafka.KafkaConsumer(group_id=None, auto_offset_reset='earliest', consumer_timeout_ms=60000, **kconf)
kc.assign([kafka.TopicPartition(topic, 0)])
got2 = []
for m in kc:
    got2.append(m.value.decode())
    if len(got2) == 10: break
kc.close()
print(json.dumps([got, got2]))
`;
  const { stdout } = await run(PYTHON, ['-c', script, endpoint('SASL_PLAINTEXT'), mechanism, user, password, topic], {
    timeout: 120_000,
  });
  return JSON.parse(stdout);
}

function kafkaJs(brokers: string, mechanism: string, username: string, password: string, ssl?: { ca: string[] }) {
  return new Kafka({
    clientId: 'sasl',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    ...(ssl ? { ssl } : {}),
    sasl: { mechanism: mechanism.toLowerCase(), username, password } as kafkajs.SASLOptions,
  });
}

const PYTHON_EXPECTED = ['c0', 'c1', 'c2', 'c3', 'c4', 'k0', 'k1', 'k2', 'k3', 'k4'];

test('PLAIN over SASL_PLAINTEXT: kcat, confluent-kafka-python, kafka-python and KafkaJS produce and consume', async () => {
  assert.deepEqual(await kcatRoundTrip('PLAIN', 'alice', ALICE_PASSWORD, 'plain-kcat'), ['a', 'b', 'c']);
  assert.deepEqual(await pythonRoundTrip('PLAIN', 'alice', ALICE_PASSWORD, 'plain-python'), [
    PYTHON_EXPECTED,
    PYTHON_EXPECTED,
  ]);
  const kafka = kafkaJs(endpoint('SASL_PLAINTEXT'), 'PLAIN', 'admin', ADMIN_PASSWORD);
  assert.deepEqual(await kafkaJsRoundTrip(kafka, 'plain-kafkajs'), ['one', 'two']);
});

test('PLAIN over SASL_SSL: KafkaJS produces and consumes', async () => {
  const ca = [await readFile(certs.caCert, 'utf8')];
  const kafka = kafkaJs(endpoint('SASL_SSL'), 'PLAIN', 'alice', ALICE_PASSWORD, { ca });
  assert.deepEqual(await kafkaJsRoundTrip(kafka, 'plain-sasl-ssl'), ['one', 'two']);
});

/** Handshake v1 and one SaslAuthenticate with a PLAIN token; the response, then whether the broker closed. */
async function plainAuthenticate(user: string, password: string) {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  const handshake = await client.request(saslHandshakeApi, 1, { mechanism: 'PLAIN' });
  assert.equal(handshake.errorCode, ErrorCode.NONE);
  const token = Buffer.from(`\u0000${user}\u0000${password}`, 'utf8');
  const response = await client.request(saslAuthenticateApi, 2, { authBytes: token });
  return { client, response };
}

test('a wrong password and an unknown user fail with SASL_AUTHENTICATION_FAILED, and the connection is closed', async () => {
  for (const [user, password] of [
    ['alice', 'wrong'],
    ['mallory', ALICE_PASSWORD],
  ] as const) {
    const { client, response } = await plainAuthenticate(user, password);
    assert.equal(response.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
    assert.equal(response.errorMessage, 'Authentication failed: Invalid username or password');
    await client.closed;
  }
  // Real clients see the failure too.
  const kafka = kafkaJs(endpoint('SASL_PLAINTEXT'), 'PLAIN', 'alice', 'wrong');
  const admin = kafka.admin();
  await assert.rejects(admin.connect(), /SASL PLAIN authentication failed|Invalid username or password/);
  await assert.rejects(
    run('kcat', [...kcatSasl('PLAIN', 'alice', 'wrong'), '-L', '-m', '5'], { timeout: 30_000 }),
    'kcat with a wrong password',
  );
});

test('the right password authenticates a raw client, which may then use every API', async () => {
  const { client, response } = await plainAuthenticate('alice', ALICE_PASSWORD);
  assert.equal(response.errorCode, ErrorCode.NONE);
  const versions = await client.request(apiVersionsApi, 3, {
    clientSoftwareName: 'raw',
    clientSoftwareVersion: '1',
  });
  assert.equal(versions.errorCode, ErrorCode.NONE);
  // A second authentication is not allowed on an authenticated connection.
  const again = await client.request(saslAuthenticateApi, 2, { authBytes: Buffer.alloc(0) });
  assert.equal(again.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
  client.close();
});

test('SaslHandshake v0: the PLAIN token follows as a bare frame, and the broker answers with a bare frame', async () => {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  const handshake = await client.request(saslHandshakeApi, 0, { mechanism: 'PLAIN' });
  assert.equal(handshake.errorCode, ErrorCode.NONE);
  assert.deepEqual(
    handshake.mechanisms,
    broker.settings.listeners!.find((l) => l.name === 'SASL_PLAINTEXT')!.sasl!.enabledMechanisms,
  );
  const token = Buffer.from(`\u0000alice\u0000${ALICE_PASSWORD}`, 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(token.length);
  const answer = client.nextFrame();
  client.sendRaw(Buffer.concat([prefix, token]));
  assert.equal((await answer).length, 0);
  const versions = await client.request(apiVersionsApi, 0, { clientSoftwareName: '', clientSoftwareVersion: '' });
  assert.equal(versions.errorCode, ErrorCode.NONE);
  client.close();
});

test('an unsupported mechanism gets UNSUPPORTED_SASL_MECHANISM with the enabled mechanisms, and the connection is closed', async () => {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  const handshake = await client.request(saslHandshakeApi, 1, { mechanism: 'GSSAPI' });
  assert.equal(handshake.errorCode, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
  assert.deepEqual(handshake.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
  await client.closed;
});

test('SaslAuthenticate before SaslHandshake is ILLEGAL_SASL_STATE; SaslHandshake on a PLAINTEXT listener too', async () => {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  const response = await client.request(saslAuthenticateApi, 1, { authBytes: Buffer.from('\u0000a\u0000b') });
  assert.equal(response.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
  await client.closed;
  const plain = await RawClient.connect(port('PLAINTEXT'));
  const handshake = await plain.request(saslHandshakeApi, 1, { mechanism: 'PLAIN' });
  assert.equal(handshake.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
  plain.close();
});

test('a Produce before authentication closes the connection and writes nothing', async () => {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  const versions = await client.request(apiVersionsApi, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
  assert.equal(versions.errorCode, ErrorCode.NONE, 'ApiVersions is allowed before authentication');
  const records = Buffer.from('not even a record batch');
  const answer = client.request(produceApi, 3, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: 'sasl-unauthenticated', partitionData: [{ index: 0, records }] }],
  });
  await assert.rejects(answer, /connection closed by the broker/);
  const admin = kafkaJs(endpoint('SASL_PLAINTEXT'), 'PLAIN', 'admin', ADMIN_PASSWORD).admin();
  await admin.connect();
  const topics = await admin.listTopics();
  await admin.disconnect();
  assert.ok(!topics.includes('sasl-unauthenticated'), 'the topic was not even created');
});

test('before authentication a frame over sasl.server.max.receive.size (512 KiB) closes the connection at once', async () => {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(524_289);
  // Only the size is sent: the broker must not wait for (or hold) the rest.
  client.sendRaw(prefix);
  await client.closed;
  // The same size is fine once authenticated (socket.request.max.bytes applies then).
  const { client: authenticated, response } = await plainAuthenticate('alice', ALICE_PASSWORD);
  assert.equal(response.errorCode, ErrorCode.NONE);
  const produced = await authenticated.request(produceApi, 3, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: 'sasl-large', partitionData: [{ index: 0, records: Buffer.alloc(600_000) }] }],
  });
  assert.equal(produced.responses.length, 1);
  authenticated.close();
});

test('JAAS passwords appear neither in DescribeConfigs nor in the log', async () => {
  const admin = kafkaJs(endpoint('SASL_PLAINTEXT'), 'PLAIN', 'admin', ADMIN_PASSWORD).admin();
  await admin.connect();
  const described = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [
      {
        type: ConfigResourceTypes.BROKER,
        name: '0',
        configNames: ['listener.name.sasl_plaintext.plain.sasl.jaas.config', 'sasl.enabled.mechanisms'],
      },
    ],
  });
  await admin.disconnect();
  const entries = described.resources[0]!.configEntries;
  const jaas = entries.find((e) => e.configName === 'listener.name.sasl_plaintext.plain.sasl.jaas.config')!;
  assert.equal(jaas.configValue, null);
  assert.equal(jaas.isSensitive, true);
  assert.ok(!JSON.stringify(described).includes(ADMIN_PASSWORD));
  assert.ok(logLines.length > 0);
  const log = logLines.join('');
  assert.match(log, /failed authentication/);
  for (const secret of [ADMIN_PASSWORD, 'alice \\"quoted\\" secret', 'quoted', 'wrong'])
    assert.ok(!log.includes(secret), `the log holds ${secret}`);
});

/** Sends AlterUserScramCredentials over the PLAINTEXT listener; the results by user. */
async function alterScram(
  upsertions: Array<{ name: string; mechanism: number; password?: string; iterations?: number }>,
  deletions: Array<{ name: string; mechanism: number }> = [],
): Promise<Record<string, [number, string | null]>> {
  const client = await RawClient.connect(port('PLAINTEXT'));
  try {
    const response = await client.request(alterUserScramCredentialsApi, 0, {
      deletions,
      upsertions: upsertions.map((u) => {
        const salt = Buffer.from(`salt-of-${u.name}`);
        const iterations = u.iterations ?? 4096;
        const name = Object.entries(SCRAM_MECHANISMS).find(([, m]) => m.type === u.mechanism)?.[0];
        const saltedPassword = name
          ? scramSaltedPassword(name as ScramMechanismName, u.password ?? 'x', salt, Math.max(iterations, 1))
          : Buffer.from('unused');
        return { name: u.name, mechanism: u.mechanism, iterations, salt, saltedPassword };
      }),
    });
    return Object.fromEntries(response.results.map((r) => [r.user, [r.errorCode, r.errorMessage]]));
  } finally {
    client.close();
  }
}

const SHA256 = SCRAM_MECHANISMS['SCRAM-SHA-256'].type;
const SHA512 = SCRAM_MECHANISMS['SCRAM-SHA-512'].type;

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
  test(`${mechanism} over SASL_PLAINTEXT: kcat, confluent-kafka-python, kafka-python and KafkaJS produce and consume`, async () => {
    const user = `scram-${mechanism.slice(-3)}`;
    const password = `${user}-secret`;
    const type = SCRAM_MECHANISMS[mechanism].type;
    assert.deepEqual(await alterScram([{ name: user, mechanism: type, password, iterations: 8192 }]), {
      [user]: [ErrorCode.NONE, null],
    });
    const topic = mechanism.toLowerCase();
    assert.deepEqual(await kcatRoundTrip(mechanism, user, password, `${topic}-kcat`), ['a', 'b', 'c']);
    assert.deepEqual(await pythonRoundTrip(mechanism, user, password, `${topic}-python`), [
      PYTHON_EXPECTED,
      PYTHON_EXPECTED,
    ]);
    const kafka = kafkaJs(endpoint('SASL_PLAINTEXT'), mechanism, user, password);
    assert.deepEqual(await kafkaJsRoundTrip(kafka, `${topic}-kafkajs`), ['one', 'two']);
    // The wrong password, and a credential of the other mechanism only, are refused.
    await assert.rejects(kafkaJs(endpoint('SASL_PLAINTEXT'), mechanism, user, 'wrong').admin().connect());
    const other = mechanism === 'SCRAM-SHA-256' ? 'SCRAM-SHA-512' : 'SCRAM-SHA-256';
    await assert.rejects(kafkaJs(endpoint('SASL_PLAINTEXT'), other, user, password).admin().connect());
  });
}

test('SCRAM failures: SASL_AUTHENTICATION_FAILED with the same message for an unknown user and a wrong proof', async () => {
  const client = await RawClient.connect(port('SASL_PLAINTEXT'));
  assert.equal((await client.request(saslHandshakeApi, 1, { mechanism: 'SCRAM-SHA-256' })).errorCode, ErrorCode.NONE);
  const response = await client.request(saslAuthenticateApi, 2, { authBytes: Buffer.from('n,,n=nobody,r=abcdef') });
  assert.equal(response.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(
    response.errorMessage,
    'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256',
  );
  await client.closed;
});

test('AlterUserScramCredentials and DescribeUserScramCredentials: errors, a new credential logs in, a deleted one does not', async () => {
  const describe = async (users: string[] | null) => {
    const client = await RawClient.connect(port('PLAINTEXT'));
    try {
      const r = await client.request(describeUserScramCredentialsApi, 0, {
        users: users === null ? null : users.map((name) => ({ name })),
      });
      return r.results.map((x) => [
        x.user,
        x.errorCode,
        x.errorMessage,
        x.credentialInfos.map((c) => [c.mechanism, c.iterations]),
      ]);
    } finally {
      client.close();
    }
  };
  assert.deepEqual(await describe(['carol']), [
    ['carol', ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to describe a user credential that does not exist: carol', []],
  ]);
  assert.deepEqual(
    await alterScram(
      [
        { name: 'few', mechanism: SHA256, iterations: 4095 },
        { name: 'many', mechanism: SHA256, iterations: 16385 },
        { name: 'unknown', mechanism: 3 },
        { name: 'twice', mechanism: SHA512 },
        { name: 'twice', mechanism: SHA512 },
      ],
      [{ name: 'ghost', mechanism: SHA256 }],
    ),
    {
      ghost: [ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist'],
      few: [ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations'],
      many: [ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations'],
      unknown: [ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism'],
      twice: [ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request'],
    },
  );
  assert.deepEqual(await describe(['few', 'twice']), [
    ['few', ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to describe a user credential that does not exist: few', []],
    ['twice', ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to describe a user credential that does not exist: twice', []],
  ]);

  // carol gets both mechanisms in one request, logs in, changes her password: only the new one works.
  assert.deepEqual(
    await alterScram([
      { name: 'carol', mechanism: SHA256, password: 'first', iterations: 4096 },
      { name: 'carol', mechanism: SHA512, password: 'first', iterations: 16384 },
    ]),
    { carol: [ErrorCode.NONE, null] },
  );
  assert.deepEqual(await describe(['carol', 'carol']), [
    [
      'carol',
      ErrorCode.DUPLICATE_RESOURCE,
      'Cannot describe SCRAM credentials for the same user twice in a single request: carol',
      [],
    ],
  ]);
  const all = await describe(null);
  assert.deepEqual(
    all.find((r) => r[0] === 'carol'),
    [
      'carol',
      ErrorCode.NONE,
      null,
      [
        [SHA256, 4096],
        [SHA512, 16384],
      ],
    ],
  );
  const login = async (mechanism: string, password: string) => {
    const admin = kafkaJs(endpoint('SASL_PLAINTEXT'), mechanism, 'carol', password).admin();
    await admin.connect();
    await admin.disconnect();
  };
  await login('SCRAM-SHA-512', 'first');
  assert.deepEqual(await alterScram([{ name: 'carol', mechanism: SHA512, password: 'second', iterations: 4096 }]), {
    carol: [ErrorCode.NONE, null],
  });
  await assert.rejects(login('SCRAM-SHA-512', 'first'), 'the old password no longer works');
  await login('SCRAM-SHA-512', 'second');
  assert.deepEqual(await alterScram([], [{ name: 'carol', mechanism: SHA512 }]), { carol: [ErrorCode.NONE, null] });
  await assert.rejects(login('SCRAM-SHA-512', 'second'), 'a deleted credential is refused');
  await login('SCRAM-SHA-256', 'first');
});
