import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { ScramCredentialMetadata } from '../../src/cluster/scram-credentials.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { scramCredentialOf, scramSaltedPassword } from '../../src/security/scram.js';
import { freePort } from '../chaos/harness.js';
import { consumeWithKcat } from '../integration/clients.js';
import { fetchRequest } from '../integration/raw-client.js';
import { makeCertificates, signServerKeystore, type TestCertificates } from '../integration/tls-certificates.js';
import {
  type ClusterBroker,
  eventually,
  kafkaFor,
  partitionStates,
  RawClient,
  replicaBatches,
  startCluster,
  stopCluster,
  waitAllInSync,
} from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/** The prefix startCluster gives its brokers in etcd. */
const CLUSTER_PREFIX = '/samsa/cluster-test';
const NODE_IDS = [1, 2, 3];
const MESSAGES = 40;
/**
 * connections.max.reauth.ms where a test bounds the SASL sessions. A follower opens its next session at 85% of
 * this: the 15% left (1.5 s) is how late its last request of a session may reach the leader, on a stalled machine,
 * before the leader closes the connection.
 */
const REAUTH_MS = 10_000;

/**
 * Each broker with two listeners: CLIENT (PLAINTEXT, first, where the test's clients connect) and BROKER, the
 * inter-broker listener, with `protocol` and the keys of `broker` (written for the BROKER listener).
 */
function withBrokerListener(protocol: string, broker: Record<string, string>) {
  return async (_nodeId: number, host: string, port: number) => {
    const brokerPort = await freePort();
    return {
      listeners: `CLIENT://${host}:${port},BROKER://${host}:${brokerPort}`,
      'advertised.listeners': `CLIENT://${host}:${port},BROKER://${host}:${brokerPort}`,
      'listener.security.protocol.map': `CLIENT:PLAINTEXT,BROKER:${protocol}`,
      'inter.broker.listener.name': 'BROKER',
      ...Object.fromEntries(Object.entries(broker).map(([k, v]) => [`listener.name.broker.${k}`, v])),
    };
  };
}

/** The BROKER listener's TLS: the brokers' key store (a certificate for both ends of TLS) and the test CA. */
function tlsKeys(certs: TestCertificates, keystore: string): Record<string, string> {
  return {
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': keystore,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.caCert,
  };
}

/** SCRAM's JAAS entry on the BROKER listener: which users it accepts (all, from etcd) and who this broker is. */
function scramKeys(mechanism: string, password: string): Record<string, string> {
  return {
    'sasl.enabled.mechanisms': mechanism,
    [`${mechanism.toLowerCase()}.sasl.jaas.config`]: `org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${password}";`,
  };
}

/** The brokers' SCRAM credential, in etcd before they start (as Kafka's `kafka-storage format --add-scram`). */
async function addScramCredential(etcd: EtcdServer, mechanism: 'SCRAM-SHA-512', password: string): Promise<void> {
  const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: CLUSTER_PREFIX });
  const credentials = await ScramCredentialMetadata.load(store);
  try {
    const salt = Buffer.from('salt-of-the-brokers');
    const credential = scramCredentialOf(mechanism, scramSaltedPassword(mechanism, password, salt, 4096), salt, 4096);
    await credentials.apply([{ type: 'upsert', user: 'broker', mechanism, credential }]);
  } finally {
    credentials.close();
    await store.close();
  }
}

/** Creates a topic of one partition on all three brokers; resolves with its leader. */
async function createReplicatedTopic(brokers: ClusterBroker[], topic: string): Promise<number> {
  const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
  await admin.connect();
  try {
    await eventually('three brokers', async () =>
      (await admin.describeCluster()).brokers.length === 3 ? true : undefined,
    );
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }] });
  } finally {
    await admin.disconnect();
  }
  return (await partitionStates(brokers, topic, 1)).get(0)!.leader;
}

/** acks=all writes through the CLIENT listener; then every replica's files hold the same batches. */
async function writeAndCompareReplicas(
  brokers: ClusterBroker[],
  dir: string,
  topic: string,
  create = true,
): Promise<void> {
  if (create) await createReplicatedTopic(brokers, topic);
  await waitAllInSync(brokers, topic, 1);
  const producer = kafkaFor(brokers.map((b) => b.bootstrap)).producer();
  await producer.connect();
  try {
    for (let i = 0; i < MESSAGES; i++)
      await producer.send({ topic, acks: -1, messages: [{ key: `k${i}`, value: `v${i}` }] });
  } finally {
    await producer.disconnect();
  }
  // Each acks=all write was in every replica's log when it was answered (all three stayed in the ISR: no
  // follower can fall out while each answered fetch brings it up to date).
  const batches = await replicaBatches(dir, topic, 0, NODE_IDS);
  const leaderBatches = [...batches.values()][0]!;
  assert.equal(leaderBatches.length % MESSAGES, 0);
  for (const [nodeId, list] of batches) assert.deepEqual(list, leaderBatches, `broker ${nodeId}'s replica`);
}

/** A follower's Fetch (replica_id set) from a client on the CLIENT listener, as User:ANONYMOUS. */
async function replicaFetchError(broker: ClusterBroker, topic: string): Promise<number> {
  const client = await RawClient.connect(broker.port, { host: broker.host });
  try {
    const response = await client.request(
      apis.Fetch,
      12,
      fetchRequest(topic, { replicaId: 7, replicaState: { replicaId: 7, replicaEpoch: -1n } }),
    );
    return response.responses[0]!.partitions[0]!.errorCode;
  } finally {
    client.close();
  }
}

/**
 * A transaction over three partitions with three different leaders: the coordinator sends WriteTxnMarkers to the
 * two others over the inter-broker listener, and read_committed readers see every partition's records.
 */
async function transactionOverThreeLeaders(brokers: ClusterBroker[]): Promise<void> {
  const kafka = kafkaFor(brokers.map((b) => b.bootstrap));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'txn-spread', numPartitions: 3 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const states = await partitionStates(brokers, 'txn-spread', 3);
  assert.equal(new Set([...states.values()].map((s) => s.leader)).size, 3, 'three leaders');
  const producer = kafka.producer({ transactionalId: 'secured-txn', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  try {
    const transaction = await producer.transaction();
    await transaction.send({
      topic: 'txn-spread',
      messages: [0, 1, 2].map((p) => ({ partition: p, value: `committed-${p}` })),
    });
    await transaction.commit();
  } finally {
    await producer.disconnect();
  }
  // read_committed stops at the last stable offset: a partition whose marker was not written shows nothing.
  for (let p = 0; p < 3; p++) {
    const read = await consumeWithKcat(brokers[0]!.bootstrap, 'txn-spread', p, 'read_committed');
    assert.deepEqual(
      read.map((r) => r.value),
      [`committed-${p}`],
      `partition ${p}`,
    );
  }
}

test('an SSL inter-broker listener with client certificates required and an authorizer: followers replicate as ' +
  'super users through their certificates, and a Fetch with a replica id from another principal is refused', {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-ssl-'));
  const certs = await makeCertificates();
  let brokers: ClusterBroker[] = [];
  try {
    // One certificate for the brokers, good for both ends of TLS: they present it to each other.
    const keystore = await signServerKeystore(
      certs,
      'broker',
      '/CN=broker',
      'DNS:localhost,IP:127.0.0.1',
      'serverAuth,clientAuth',
    );
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: {
        'replica.fetch.backoff.ms': 100,
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'super.users': 'User:CN=broker',
        'allow.everyone.if.no.acl.found': 'true',
      },
      perBroker: withBrokerListener('SSL', { ...tlsKeys(certs, keystore), 'ssl.client.auth': 'required' }),
    });
    await writeAndCompareReplicas(brokers, dir, 'secured');
    // Kafka's rule for followers: CLUSTER_ACTION on the cluster. The clients' principal is denied it; the brokers'
    // (a super user) still replicate.
    const admin = kafkaFor(brokers.map((b) => b.bootstrap)).admin();
    await admin.connect();
    try {
      await admin.createAcls({
        acl: [
          {
            resourceType: AclResourceTypes.CLUSTER,
            resourceName: 'kafka-cluster',
            resourcePatternType: ResourcePatternTypes.LITERAL,
            principal: 'User:ANONYMOUS',
            host: '*',
            operation: AclOperationTypes.CLUSTER_ACTION,
            permissionType: AclPermissionTypes.DENY,
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const leader = (await partitionStates(brokers, 'secured', 1)).get(0)!.leader;
    await eventually('the ACL in force on the leader', async () =>
      (await replicaFetchError(brokers.find((b) => b.nodeId === leader)!, 'secured')) ===
      ErrorCode.TOPIC_AUTHORIZATION_FAILED
        ? true
        : undefined,
    );
    await writeAndCompareReplicas(brokers, dir, 'secured', false);
  } finally {
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
    await rm(certs.dir, { recursive: true, force: true });
  }
});

test('a SASL_SSL inter-broker listener with SCRAM-SHA-512: followers authenticate with the JAAS entry and ' +
  'replicate, and transaction markers reach the other leaders', {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-scram-'));
  const certs = await makeCertificates();
  let brokers: ClusterBroker[] = [];
  try {
    await addScramCredential(etcd, 'SCRAM-SHA-512', 'broker-secret');
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: { 'replica.fetch.backoff.ms': 100, 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512' },
      perBroker: withBrokerListener('SASL_SSL', {
        ...tlsKeys(certs, certs.serverKeystorePem),
        ...scramKeys('SCRAM-SHA-512', 'broker-secret'),
      }),
    });
    await writeAndCompareReplicas(brokers, dir, 'scrammed');
    await transactionOverThreeLeaders(brokers);
  } finally {
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
    await rm(certs.dir, { recursive: true, force: true });
  }
});

test('a SASL_PLAINTEXT inter-broker listener with PLAIN: the JAAS entry holds the users accepted and this ' +
  "broker's own username and password", {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-plain-'));
  let brokers: ClusterBroker[] = [];
  try {
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: {
        'replica.fetch.backoff.ms': 100,
        'sasl.mechanism.inter.broker.protocol': 'PLAIN',
        // KIP-368: the sessions end; followers open new ones before the leader would close theirs.
        'connections.max.reauth.ms': REAUTH_MS,
      },
      perBroker: withBrokerListener('SASL_PLAINTEXT', {
        'sasl.enabled.mechanisms': 'PLAIN',
        'plain.sasl.jaas.config':
          'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="plain-secret" user_broker="plain-secret";',
      }),
    });
    await writeAndCompareReplicas(brokers, dir, 'plain');
    // Writes for two session lifetimes: every follower session ends meanwhile, none with a broken fetch.
    const producer = kafkaFor(brokers.map((b) => b.bootstrap)).producer();
    await producer.connect();
    try {
      const started = Date.now();
      while (Date.now() - started < 2 * REAUTH_MS)
        await producer.send({ topic: 'plain', acks: -1, messages: [{ value: 'later' }] });
    } finally {
      await producer.disconnect();
    }
    for (const b of brokers)
      assert.doesNotMatch(b.process.log, /closed the connection|re-?authenticat/i, `broker ${b.nodeId}`);
  } finally {
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * A topic on all three brokers whose followers cannot fetch: the leader takes acks=1 writes, drops the followers
 * from the ISR after replica.lag.time.max.ms, they hold nothing, and each logged why once (`reason` in the line).
 */
async function expectNotReplicated(
  brokers: ClusterBroker[],
  dir: string,
  reason: RegExp,
  line = 'cannot authenticate to its leader',
): Promise<void> {
  const leader = await createReplicatedTopic(brokers, 'refused');
  const producer = kafkaFor(brokers.map((b) => b.bootstrap)).producer();
  await producer.connect();
  try {
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'refused', acks: 1, messages: [{ value: `v${i}` }] });
  } finally {
    await producer.disconnect();
  }
  await eventually('the ISR shrunk to the leader', async () => {
    const state = (await partitionStates(brokers, 'refused', 1)).get(0)!;
    return state.isr.length === 1 && state.isr[0] === leader ? true : undefined;
  });
  const followers = brokers.filter((b) => b.nodeId !== leader);
  const batches = await replicaBatches(dir, 'refused', 0, NODE_IDS);
  assert.equal(batches.get(leader)!.length, 5);
  for (const f of followers) assert.deepEqual(batches.get(f.nodeId), [], `broker ${f.nodeId} has nothing`);
  for (const f of followers) {
    const lines = f.process.log.split('\n').filter((l) => l.includes(line));
    assert.equal(lines.length, 1, `broker ${f.nodeId} logs the failure once:\n${lines.join('\n')}`);
    assert.match(lines[0]!, reason);
  }
}

test('a wrong inter-broker password: the followers do not replicate, and each logs the authentication failure once', {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-wrong-'));
  let brokers: ClusterBroker[] = [];
  try {
    await addScramCredential(etcd, 'SCRAM-SHA-512', 'broker-secret');
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: {
        'replica.fetch.backoff.ms': 100,
        'replica.lag.time.max.ms': 2000,
        'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      },
      perBroker: withBrokerListener('SASL_PLAINTEXT', scramKeys('SCRAM-SHA-512', 'not-the-secret')),
    });
    await expectNotReplicated(
      brokers,
      dir,
      /authentication with broker \d+ \(SCRAM-SHA-512\) failed: Authentication failed during authentication due to invalid credentials/,
    );
    for (const b of brokers) assert.doesNotMatch(b.process.log, /not-the-secret/);
  } finally {
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

test('host names: a peer certificate without the advertised address is refused (logged once), unless ' +
  'ssl.endpoint.identification.algorithm is empty', {
  skip: etcdUnavailable,
}, async () => {
  const certs = await makeCertificates();
  const keystore = await signServerKeystore(
    certs,
    'elsewhere',
    '/CN=broker',
    'DNS:elsewhere.example',
    'serverAuth,clientAuth',
  );
  try {
    for (const identification of ['https', ''] as const) {
      const etcd = await startEtcd();
      const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-hostname-'));
      let brokers: ClusterBroker[] = [];
      try {
        brokers = await startCluster(etcd, dir, NODE_IDS, {
          // A low lag time only where the followers must leave the ISR: where they replicate, a follower that
          // dropped out during a machine stall would miss the acks=all writes compared below.
          extra: {
            'replica.fetch.backoff.ms': 100,
            ...(identification === 'https' ? { 'replica.lag.time.max.ms': 2000 } : {}),
          },
          perBroker: withBrokerListener('SSL', {
            ...tlsKeys(certs, keystore),
            // Kafka's default is https; set here on the listener, as Kafka reads it there first.
            ...(identification === '' ? { 'ssl.endpoint.identification.algorithm': '' } : {}),
          }),
        });
        if (identification === 'https')
          await expectNotReplicated(
            brokers,
            dir,
            /SSL handshake with broker \d+ failed: Hostname\/IP does not match certificate's altnames/,
          );
        else await writeAndCompareReplicas(brokers, dir, 'unchecked');
      } finally {
        await stopCluster(brokers);
        await etcd.destroy();
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(certs.dir, { recursive: true, force: true });
  }
});

test("an authorizer where the brokers' principal has no CLUSTER_ACTION: the leader refuses their fetches, and each " +
  'follower logs it once', {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-acl-'));
  let brokers: ClusterBroker[] = [];
  try {
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: {
        'replica.fetch.backoff.ms': 100,
        'replica.lag.time.max.ms': 2000,
        'sasl.mechanism.inter.broker.protocol': 'PLAIN',
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        // The test's clients (PLAINTEXT, User:ANONYMOUS) may do anything; the brokers (User:broker) nothing.
        'super.users': 'User:ANONYMOUS',
      },
      perBroker: withBrokerListener('SASL_PLAINTEXT', {
        'sasl.enabled.mechanisms': 'PLAIN',
        'plain.sasl.jaas.config':
          'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="plain-secret" user_broker="plain-secret";',
      }),
    });
    await expectNotReplicated(
      brokers,
      dir,
      /errorCode=29/,
      "the leader refused this broker's replica fetch: its inter-broker principal needs CLUSTER_ACTION",
    );
  } finally {
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

test('client certificates required: a broker certificate not made for client authentication is refused by the ' +
  'leader, and each follower logs the failed handshake once', {
  skip: etcdUnavailable,
}, async () => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(join(tmpdir(), 'samsa-inter-broker-mtls-'));
  const certs = await makeCertificates();
  let brokers: ClusterBroker[] = [];
  try {
    brokers = await startCluster(etcd, dir, NODE_IDS, {
      extra: { 'replica.fetch.backoff.ms': 100, 'replica.lag.time.max.ms': 2000 },
      // The test's server certificate has the serverAuth extended key usage only.
      perBroker: withBrokerListener('SSL', {
        ...tlsKeys(certs, certs.serverKeystorePem),
        'ssl.client.auth': 'required',
      }),
    });
    await expectNotReplicated(brokers, dir, /SSL handshake with broker \d+ failed: .*certificate/i);
  } finally {
    await stopCluster(brokers);
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
    await rm(certs.dir, { recursive: true, force: true });
  }
});
