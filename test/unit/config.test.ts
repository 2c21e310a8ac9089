import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseBrokerConfig, toBrokerSettings } from '../../src/config/broker-config.js';
import { parseProperties } from '../../src/config/properties.js';
import { makeCertificates } from '../integration/tls-certificates.js';

function settings(entries: Record<string, string>) {
  return toBrokerSettings(parseBrokerConfig(new Map(Object.entries(entries))).values);
}

test('properties files: separators, comments, continuations, escapes, last value wins', () => {
  const text = [
    '# comment',
    '! also a comment',
    'a=1',
    'b : 2',
    'c 3',
    'long = one \\',
    '   two',
    'esc=tab\\there\\u0041',
    'a=4',
    '',
  ].join('\n');
  const p = parseProperties(text);
  assert.deepEqual(Object.fromEntries([...p].map(([k, v]) => [k, v.value])), {
    a: '4',
    b: '2',
    c: '3',
    long: 'one two',
    esc: 'tab\there' + 'A',
  });
});

test("Kafka's defaults, and its precedence rules", () => {
  const d = settings({});
  assert.equal(d.messageMaxBytes, 1048588);
  assert.equal(d.socketRequestMaxBytes, 104857600);
  assert.equal(d.numPartitions, 1);
  assert.equal(d.logDefaults.segmentBytes, 1073741824);
  assert.equal(d.logDefaults.retentionMs, 168 * 3_600_000);
  assert.equal(d.logDefaults.flushMessages, Number.POSITIVE_INFINITY);
  assert.deepEqual(d.logDirs, ['/tmp/kafka-logs']);
  assert.equal(d.port, 9092);

  assert.equal(settings({ 'log.retention.hours': '1', 'log.retention.minutes': '2' }).logDefaults.retentionMs, 120_000);
  assert.equal(settings({ 'log.retention.minutes': '2', 'log.retention.ms': '5' }).logDefaults.retentionMs, 5);
  assert.equal(settings({ 'log.retention.ms': '-1' }).logDefaults.retentionMs, -1);
  assert.equal(settings({ 'log.roll.hours': '2' }).logDefaults.segmentMs, 7_200_000);
  assert.deepEqual(settings({ 'log.dir': '/a', 'log.dirs': '/b,/c' }).logDirs, ['/b', '/c']);
  assert.equal(settings({ 'broker.id': '3' }).nodeId, 3);
  assert.throws(() => settings({ 'broker.id': '3', 'node.id': '4' }), ConfigError);
});

test('listeners and advertised addresses', () => {
  const s = settings({
    listeners: 'PLAINTEXT://0.0.0.0:19092',
    'advertised.listeners': 'PLAINTEXT://broker.example:29092',
  });
  assert.deepEqual([s.host, s.port, s.advertisedHost, s.advertisedPort], ['0.0.0.0', 19092, 'broker.example', 29092]);
  const older = settings({
    listeners: 'PLAINTEXT://127.0.0.1:9000',
    'advertised.host.name': 'h',
    'advertised.port': '9100',
  });
  assert.deepEqual([older.advertisedHost, older.advertisedPort], ['h', 9100]);
  const fallback = settings({ listeners: 'PLAINTEXT://127.0.0.1:9000' });
  assert.deepEqual([fallback.advertisedHost, fallback.advertisedPort], ['127.0.0.1', 9000]);
});

test('invalid values stop with a message naming the key; unknown keys only warn', () => {
  for (const [key, value] of [
    ['num.partitions', '0'],
    ['log.segment.bytes', 'abc'],
    ['log.message.timestamp.type', 'Foo'],
    ['auto.create.topics.enable', 'maybe'],
    ['listeners', 'nonsense'],
  ] as const) {
    assert.throws(
      () => settings({ [key]: value }),
      (e: Error) => e instanceof ConfigError && e.message.includes(key),
      key,
    );
  }
  const { warnings } = parseBrokerConfig(
    new Map([
      ['no.such.key', '1'],
      ['num.io.threads', '8'],
    ]),
  );
  assert.deepEqual(warnings, [
    'unknown configuration no.such.key ignored',
    'num.io.threads is accepted but has no effect in Samsa',
  ]);
});

test('the shipped config/server.properties parses without errors or warnings', () => {
  const text = readFileSync(join(import.meta.dirname, '..', '..', 'config', 'server.properties'), 'utf8');
  const raw = new Map([...parseProperties(text)].map(([k, v]) => [k, v.value]));
  const { values, warnings } = parseBrokerConfig(raw);
  assert.deepEqual(warnings, []);
  const s = toBrokerSettings(values);
  // advertised.listeners is left out, as in Kafka's file: each listener advertises its own address, and an empty
  // host this host's canonical name (looked up at start-up).
  assert.equal(raw.has('advertised.listeners'), false);
  assert.deepEqual([s.port, s.advertisedHost, s.logDirs], [9092, '', [resolve('data')]]);
});

test("Kafka 0.10's host.name, port, advertised.host.name and advertised.port, and Kafka's precedence", () => {
  const old = settings({ 'host.name': '127.0.0.1', port: '19401' });
  assert.deepEqual(
    [old.host, old.port, old.advertisedHost, old.advertisedPort],
    ['127.0.0.1', 19401, '127.0.0.1', 19401],
    'port and host.name bind when listeners is not set',
  );
  const advertised = settings({ port: '19401', 'advertised.port': '19501' });
  assert.deepEqual(
    [advertised.host, advertised.port, advertised.advertisedHost, advertised.advertisedPort],
    ['', 19401, '', 19501],
  );
  // advertised.host.name alone takes its port from port, as in Kafka.
  const named = settings({ port: '19401', 'advertised.host.name': 'h' });
  assert.deepEqual([named.advertisedHost, named.advertisedPort], ['h', 19401]);
  // listeners wins over host.name and port; advertised.listeners over advertised.host.name and advertised.port.
  const both = settings({
    listeners: 'PLAINTEXT://127.0.0.2:19000',
    'host.name': '127.0.0.1',
    port: '19401',
    'advertised.listeners': 'PLAINTEXT://a:1',
    'advertised.host.name': 'b',
    'advertised.port': '2',
  });
  assert.deepEqual([both.host, both.port, both.advertisedHost, both.advertisedPort], ['127.0.0.2', 19000, 'a', 1]);
  assert.deepEqual(settings({}).listeners, [
    { name: 'PLAINTEXT', host: '', port: 9092, advertisedHost: '', advertisedPort: 9092 },
  ]);
});

test('every listener is kept, mapped through listener.security.protocol.map, and advertised by name', () => {
  const s = settings({
    listeners: 'PLAINTEXT://:19422,PLAINTEXT_HOST://:19423',
    'advertised.listeners': 'PLAINTEXT://broker:19422,PLAINTEXT_HOST://localhost:19423',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT',
  });
  assert.deepEqual(s.listeners, [
    { name: 'PLAINTEXT', host: '', port: 19422, advertisedHost: 'broker', advertisedPort: 19422 },
    { name: 'PLAINTEXT_HOST', host: '', port: 19423, advertisedHost: 'localhost', advertisedPort: 19423 },
  ]);
  const internal = settings({
    listeners: 'INTERNAL://127.0.0.1:19424',
    'listener.security.protocol.map': 'INTERNAL:PLAINTEXT',
  });
  assert.deepEqual(
    internal.listeners?.map((l) => [l.name, l.advertisedHost, l.advertisedPort]),
    [['INTERNAL', '127.0.0.1', 19424]],
  );
  const refused = (entries: Record<string, string>, reason: RegExp) =>
    assert.throws(
      () => settings(entries),
      (e: Error) => e instanceof ConfigError && reason.test(e.message),
    );
  refused({ listeners: 'PLAINTEXT://:1,PLAINTEXT_HOST://:2' }, /no security protocol for listener PLAINTEXT_HOST/);
  refused({ listeners: 'PLAINTEXT://:1,SSL://:2' }, /ssl\.keystore\.type=JKS \(the default\): Node\.js cannot read/);
  // Kafka's default sasl.enabled.mechanisms is GSSAPI, which is not built: refused in one line, not served.
  refused(
    { listeners: 'SASL_PLAINTEXT://:2' },
    /^sasl\.enabled\.mechanisms=GSSAPI \(listener SASL_PLAINTEXT\): GSSAPI \(Kerberos\) is not built in Samsa; enable PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER$/,
  );
  refused(
    { listeners: 'SASL_SSL://:2', 'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'PLAIN,GSSAPI' },
    /^listener\.name\.sasl_ssl\.sasl\.enabled\.mechanisms=PLAIN,GSSAPI \(listener SASL_SSL\): GSSAPI \(Kerberos\) is not built/,
  );
  refused(
    { listeners: 'SASL_PLAINTEXT://:2', 'sasl.enabled.mechanisms': 'PLAIN' },
    /enables PLAIN but listener\.name\.sasl_plaintext\.plain\.sasl\.jaas\.config is not set/,
  );
  refused(
    {
      listeners: 'SASL_PLAINTEXT://:2',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256',
      'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config':
        'org.apache.kafka.common.security.plain.PlainLoginModule required;',
    },
    /SCRAM-SHA-256 needs login module org\.apache\.kafka\.common\.security\.scram\.ScramLoginModule/,
  );
  refused(
    { listeners: 'PLAINTEXT://:1,OTHER://:1', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT' },
    /different port/,
  );
  refused({ listeners: 'PLAINTEXT://:1', 'advertised.listeners': 'OTHER://h:1' }, /listener OTHER is not in listeners/);
  refused({ listeners: 'PLAINTEXT://0.0.0.0:1' }, /nonroutable meta-address 0\.0\.0\.0/);
});

test('settings that ask for security stop start-up with the reason', () => {
  for (const [key, value] of [
    ['sasl.server.callback.handler.class', 'com.example.LdapCallbackHandler'],
    ['listener.name.internal.plain.sasl.server.callback.handler.class', 'com.example.LdapCallbackHandler'],
  ] as const) {
    assert.throws(
      () => settings({ [key]: value }),
      (e: Error) => e instanceof ConfigError && e.message.startsWith(`${key}=${value} asks for security`),
      key,
    );
  }
  assert.doesNotThrow(() => settings({ 'security.inter.broker.protocol': 'PLAINTEXT', 'authorizer.class.name': '' }));
  assert.throws(
    () => settings({ 'authorizer.class.name': 'com.example.RangerAuthorizer' }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.startsWith('authorizer.class.name=com.example.RangerAuthorizer is not an authorizer Samsa has'),
  );
  // SASL settings of listeners that do not use SASL are kept, without effect, as in Kafka (the inter-broker
  // mechanism included, where the inter-broker listener is not SASL).
  assert.doesNotThrow(() =>
    settings({ 'sasl.enabled.mechanisms': 'PLAIN', 'sasl.mechanism.inter.broker.protocol': 'GSSAPI' }),
  );
});

test("Kafka's authorizer class names turn the authorizer on, with super.users and allow.everyone.if.no.acl.found", () => {
  assert.equal(settings({}).authorizer, null);
  for (const name of [
    'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'kafka.security.authorizer.AclAuthorizer',
    'kafka.security.auth.SimpleAclAuthorizer',
  ]) {
    const s = settings({ 'authorizer.class.name': name, 'super.users': 'User:admin;User:CN=ops,O=Acme' });
    assert.deepEqual(s.authorizer, {
      superUsers: new Set(['User:admin', 'User:CN=ops,O=Acme']),
      allowEveryoneIfNoAclFound: false,
    });
  }
  const open = settings({
    'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer',
    'allow.everyone.if.no.acl.found': 'true',
  });
  assert.equal(open.authorizer?.allowEveryoneIfNoAclFound, true);
  assert.throws(
    () => settings({ 'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer', 'super.users': 'admin' }),
    (e: Error) => e instanceof ConfigError && /super.users/.test(e.message),
  );
});

test('a SASL listener gets its mechanisms and PLAIN users; a bad JAAS value is refused without being quoted', () => {
  const s = settings({
    listeners: 'SASL_PLAINTEXT://:2',
    'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'SCRAM-SHA-512, PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="a\\"b" user_bob=bob-secret;',
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config':
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  });
  const sasl = s.listeners![0]!.sasl!;
  assert.deepEqual(sasl.enabledMechanisms, ['SCRAM-SHA-512', 'PLAIN']);
  assert.deepEqual(
    [...sasl.plainUsers],
    [
      ['alice', 'a"b'],
      ['bob', 'bob-secret'],
    ],
  );
  assert.throws(
    () =>
      settings({
        listeners: 'SASL_PLAINTEXT://:2',
        'sasl.enabled.mechanisms': 'PLAIN',
        'listener.name.sasl_plaintext.plain.sasl.jaas.config':
          'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="top-secret',
      }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message === 'listener.name.sasl_plaintext.plain.sasl.jaas.config: unterminated quoted value',
  );
});

test('zookeeper.connect gets a notice, not a warning', () => {
  const { warnings, notices } = parseBrokerConfig(new Map([['zookeeper.connect', 'localhost:2181']]));
  assert.deepEqual(warnings, []);
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /samsa\.metadata\.store=etcd and samsa\.etcd\.endpoints=/);
});

test('broker.session.timeout.ms sizes the registration lease on etcd: Kafka default 9 s, at least 1 s', () => {
  const etcd = { 'samsa.metadata.store': 'etcd', 'samsa.etcd.endpoints': 'http://127.0.0.1:2379' };
  assert.equal(settings(etcd).etcd?.sessionTimeoutMs, 9000);
  assert.equal(settings({ ...etcd, 'broker.session.timeout.ms': '3000' }).etcd?.sessionTimeoutMs, 3000);
  assert.throws(() => settings({ ...etcd, 'broker.session.timeout.ms': '10' }), ConfigError);
});

test("Kafka's replica.* settings: its defaults, and the values server.properties gives", () => {
  const defaults = settings({});
  assert.deepEqual(defaults.replication, {
    replicaLagTimeMaxMs: 30_000,
    replicaFetchMaxBytes: 1_048_576,
    replicaFetchResponseMaxBytes: 10_485_760,
    replicaFetchWaitMaxMs: 500,
    replicaFetchMinBytes: 1,
    replicaFetchBackoffMs: 1_000,
    numReplicaFetchers: 1,
    replicaSelector: '',
    replicationQuotaWindowNum: 11,
    replicationQuotaWindowSizeSeconds: 1,
    leaderReplicationThrottledRate: Number.POSITIVE_INFINITY,
    followerReplicationThrottledRate: Number.POSITIVE_INFINITY,
  });
  const set = settings({
    'replication.quota.window.num': '2',
    'replication.quota.window.size.seconds': '3',
    'replica.lag.time.max.ms': '2000',
    'replica.fetch.max.bytes': '65536',
    'replica.fetch.wait.max.ms': '100',
    'replica.fetch.min.bytes': '10',
    'replica.fetch.backoff.ms': '50',
  });
  assert.equal(set.replication.replicaLagTimeMaxMs, 2000);
  assert.equal(set.replication.replicaFetchMaxBytes, 65536);
  assert.equal(set.replication.replicaFetchWaitMaxMs, 100);
  assert.equal(set.replication.replicaFetchMinBytes, 10);
  assert.equal(set.replication.replicaFetchBackoffMs, 50);
  assert.equal(set.replication.replicationQuotaWindowNum, 2);
  assert.equal(set.replication.replicationQuotaWindowSizeSeconds, 3);
  assert.throws(() => settings({ 'replication.quota.window.num': '0' }), ConfigError);
  assert.throws(() => settings({ 'replica.fetch.min.bytes': '0' }), ConfigError);
  // KIP-392's selector by Kafka's class name; a class Samsa does not have is refused, naming the key.
  const rackAware = 'org.apache.kafka.common.replica.RackAwareReplicaSelector';
  assert.equal(settings({ 'replica.selector.class': rackAware }).replication.replicaSelector, rackAware);
  assert.throws(() => settings({ 'replica.selector.class': 'com.example.Mine' }), /replica\.selector\.class/);
});

test("connection limits: Kafka's broker keys, a listener's own, and max.connections.per.ip.overrides", () => {
  const s = settings({
    listeners: 'PLAINTEXT://:19425,EXTERNAL://:19426',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT',
    'max.connection.creation.rate': '50',
    'max.connections.per.ip': '20',
    'max.connections.per.ip.overrides': '10.0.0.1:100, ::1:5',
    'listener.name.external.max.connection.creation.rate': '5',
    'listener.name.external.max.connections': '200',
  });
  assert.equal(s.maxConnectionCreationRate, 50);
  assert.equal(s.maxConnectionsPerIp, 20);
  assert.deepEqual(
    [...s.maxConnectionsPerIpOverrides],
    [
      ['10.0.0.1', 100],
      ['::1', 5],
    ],
  );
  assert.deepEqual(
    s.listeners?.map((l) => [l.name, l.maxConnections, l.maxConnectionCreationRate]),
    [
      ['PLAINTEXT', undefined, undefined],
      ['EXTERNAL', 200, 5],
    ],
  );
  assert.deepEqual(parseBrokerConfig(new Map([['listener.name.external.max.connections', '1']])).warnings, []);
  assert.throws(() => settings({ 'max.connections.per.ip.overrides': '10.0.0.1' }), ConfigError);
  assert.throws(() => settings({ 'listener.name.external.max.connection.creation.rate': '0' }), ConfigError);
});

test('the inter-broker listener: inter.broker.listener.name or security.inter.broker.protocol, its TLS and SASL', async () => {
  const refused = (entries: Record<string, string>, message: RegExp) =>
    assert.throws(
      () => settings(entries),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
    );
  // Kafka's default: the listener named PLAINTEXT; a single broker with none needs no inter-broker listener.
  assert.deepEqual(settings({}).interBroker, { listenerName: 'PLAINTEXT' });
  assert.equal(
    settings({ listeners: 'CLIENT://:1', 'listener.security.protocol.map': 'CLIENT:PLAINTEXT' }).interBroker,
    null,
  );
  // On etcd the brokers need one.
  refused(
    {
      listeners: 'CLIENT://:1',
      'listener.security.protocol.map': 'CLIENT:PLAINTEXT',
      'samsa.metadata.store': 'etcd',
      'samsa.etcd.endpoints': 'http://127.0.0.1:2379',
    },
    /^security\.inter\.broker\.protocol=PLAINTEXT: inter\.broker\.listener\.name must be a listener name defined in advertised\.listeners\. The valid options based on currently configured listeners are CLIENT$/,
  );
  const two = {
    listeners: 'CLIENT://:1,BROKER://:2',
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,BROKER:PLAINTEXT',
  };
  assert.deepEqual(settings({ ...two, 'inter.broker.listener.name': 'broker' }).interBroker, {
    listenerName: 'BROKER',
  });
  refused(
    { ...two, 'inter.broker.listener.name': 'OTHER' },
    /^inter\.broker\.listener\.name=OTHER: .* are CLIENT,BROKER$/,
  );
  refused(
    { ...two, 'inter.broker.listener.name': 'BROKER', 'security.inter.broker.protocol': 'PLAINTEXT' },
    /^Only one of inter\.broker\.listener\.name and security\.inter\.broker\.protocol should be set\.$/,
  );
  refused({ 'security.inter.broker.protocol': 'TLS' }, /security\.inter\.broker\.protocol/);
  // Set explicitly, it must name a listener even on the embedded store, where the default may name none.
  refused(
    {
      listeners: 'CLIENT://:1',
      'listener.security.protocol.map': 'CLIENT:PLAINTEXT',
      'security.inter.broker.protocol': 'PLAINTEXT',
    },
    /^security\.inter\.broker\.protocol=PLAINTEXT: .* are CLIENT$/,
  );
  refused({ 'security.inter.broker.protocol': 'SSL' }, /^security\.inter\.broker\.protocol=SSL: .* are PLAINTEXT$/);

  // SSL: host names checked unless ssl.endpoint.identification.algorithm is empty (the listener's own first).
  const certs = await makeCertificates();
  const tls = {
    listeners: 'SSL://:1',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.serverKeystorePem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.caCert,
    'security.inter.broker.protocol': 'SSL',
  };
  assert.deepEqual(settings(tls).interBroker, { listenerName: 'SSL', tls: { checkHostName: true } });
  assert.deepEqual(settings({ ...tls, 'ssl.endpoint.identification.algorithm': '' }).interBroker, {
    listenerName: 'SSL',
    tls: { checkHostName: false },
  });
  assert.deepEqual(
    settings({
      ...tls,
      'ssl.endpoint.identification.algorithm': '',
      'listener.name.ssl.ssl.endpoint.identification.algorithm': 'HTTPS',
    }).interBroker,
    { listenerName: 'SSL', tls: { checkHostName: true } },
  );
  refused({ ...tls, 'ssl.endpoint.identification.algorithm': 'ldaps' }, /expected https or an empty value/);
  await rm(certs.dir, { recursive: true, force: true });

  // SASL: the mechanism must be one a broker can use, enabled on the listener, with username and password.
  const sasl = {
    listeners: 'CLIENT://:1,BROKER://:2',
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,BROKER:SASL_PLAINTEXT',
    'inter.broker.listener.name': 'BROKER',
    'listener.name.broker.sasl.enabled.mechanisms': 'SCRAM-SHA-256,PLAIN',
    'listener.name.broker.scram-sha-256.sasl.jaas.config':
      'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";',
    'listener.name.broker.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required user_broker="broker-secret";',
  };
  refused(
    sasl,
    /^sasl\.mechanism\.inter\.broker\.protocol=GSSAPI \(Kafka's default\): GSSAPI is not supported; set sasl\.mechanism\.inter\.broker\.protocol to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 for the SASL inter-broker listener BROKER$/,
  );
  refused(
    { ...sasl, 'sasl.mechanism.inter.broker.protocol': 'GSSAPI' },
    /^sasl\.mechanism\.inter\.broker\.protocol=GSSAPI: GSSAPI is not supported/,
  );
  assert.deepEqual(settings({ ...sasl, 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-256' }).interBroker, {
    listenerName: 'BROKER',
    sasl: { mechanism: 'SCRAM-SHA-256', username: 'broker', password: 'broker-secret' },
  });
  refused(
    { ...sasl, 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512' },
    /SCRAM-SHA-512 must be included in sasl\.enabled\.mechanisms of listener BROKER/,
  );
  refused({ ...sasl, 'sasl.mechanism.inter.broker.protocol': 'OAUTHBEARER' }, /authenticates to another with PLAIN/);
  // PLAIN's entry names the users the listener accepts; the broker's own credentials need username and password.
  refused(
    { ...sasl, 'sasl.mechanism.inter.broker.protocol': 'PLAIN' },
    /^listener\.name\.broker\.plain\.sasl\.jaas\.config: the inter-broker listener's entry needs the options username and password/,
  );
  // The message never quotes the JAAS value.
  try {
    settings({ ...sasl, 'sasl.mechanism.inter.broker.protocol': 'PLAIN' });
  } catch (e) {
    assert.doesNotMatch((e as Error).message, /broker-secret/);
  }
  // A SASL mechanism setting is not needed where the inter-broker listener is not SASL.
  assert.deepEqual(settings({ ...sasl, 'inter.broker.listener.name': 'CLIENT' }).interBroker, {
    listenerName: 'CLIENT',
  });
});
