import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { BROKER_REGISTRATIONS_PREFIX, BrokerRegistrar } from '../../src/cluster/etcd-broker-registration.js';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { parseBrokerConfig, toBrokerSettings } from '../../src/config/broker-config.js';
import { startBroker } from '../../src/index.js';
import { Logger } from '../../src/observability/logger.js';
import { withTempDir } from '../storage/helpers.js';
import { eventually } from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

const { Kafka, logLevel } = kafkajs;
const PREFIX = '/samsa/test';

test('server.properties: samsa.metadata.store=etcd with samsa.etcd.endpoints and samsa.etcd.prefix', () => {
  const parse = (entries: Record<string, string>) => {
    const { values } = parseBrokerConfig(new Map(Object.entries(entries)));
    return toBrokerSettings(values);
  };
  assert.equal(parse({}).etcd, undefined, 'embedded by default');
  assert.deepEqual(
    parse({ 'samsa.metadata.store': 'etcd', 'samsa.etcd.endpoints': 'http://a:2379,http://b:2379' }).etcd,
    { endpoints: ['http://a:2379', 'http://b:2379'], prefix: '/samsa', sessionTimeoutMs: 9000 },
  );
  assert.equal(
    parse({
      'samsa.metadata.store': 'etcd',
      'samsa.etcd.endpoints': 'http://a:2379',
      'samsa.etcd.prefix': '/samsa/east',
    }).etcd?.prefix,
    '/samsa/east',
  );
  assert.throws(() => parse({ 'samsa.metadata.store': 'etcd' }), /samsa\.etcd\.endpoints/);
  assert.throws(() => parse({ 'samsa.metadata.store': 'zookeeper' }), /samsa\.metadata\.store/);
  assert.throws(
    () => parse({ 'samsa.metadata.store': 'etcd', 'samsa.etcd.endpoints': 'a:2379' }),
    /samsa\.etcd\.endpoints/,
  );
});

test(
  'a broker on etcd keeps its topics there: created with KafkaJS, found after a restart',
  { skip: etcdUnavailable },
  () =>
    withEtcd((etcd) =>
      withTempDir(async (dir) => {
        const etcdSettings = { endpoints: [etcd.endpoint], prefix: PREFIX };
        let broker = await startBroker({ logDirs: [dir], etcd: etcdSettings });
        const kafka = () =>
          new Kafka({ clientId: 'etcd-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
        let admin = kafka().admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }, { topic: 'payments' }] });
        await admin.disconnect();
        const clusterId = broker.clusterId;
        await broker.stop();

        // The topics are in etcd, under the cluster's prefix.
        const store = await EtcdMetadataStore.open(etcdSettings);
        assert.ok((await store.list('/')).some((kv) => kv.value.includes('orders')));
        assert.deepEqual(await BrokerRegistrar.list(store), [], 'a clean stop revokes the registration');
        await store.close();

        broker = await startBroker({ logDirs: [dir], etcd: etcdSettings });
        try {
          assert.equal(broker.clusterId, clusterId);
          admin = kafka().admin();
          await admin.connect();
          const metadata = await admin.fetchTopicMetadata({ topics: ['orders', 'payments'] });
          assert.deepEqual(metadata.topics.map((t) => `${t.name}:${t.partitions.length}`).sort(), [
            'orders:3',
            'payments:1',
          ]);
          await admin.disconnect();
        } finally {
          await broker.stop();
        }
      }),
    ),
);

test(
  'two brokers register under leases; a lost lease is noticed, logged at ERROR, and the broker registers again',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const etcdSettings = { endpoints: [etcd.endpoint], prefix: PREFIX };
      const lines: string[] = [];
      const logger = new Logger('broker', { level: 'error', sink: { write: (line: string) => lines.push(line) } });
      const first = await startBroker({ nodeId: 1, rack: 'r1', etcd: etcdSettings });
      const second = await startBroker({ nodeId: 2, etcd: etcdSettings, logger });
      const store = await EtcdMetadataStore.open(etcdSettings);
      try {
        const registered = await BrokerRegistrar.list(store);
        assert.deepEqual(
          registered.map((r) => [r.nodeId, r.rack, r.endpoints.map((e) => `${e.name}://${e.host}:${e.port}`)]),
          [
            [1, 'r1', [`PLAINTEXT://${first.bootstrap}`]],
            [2, null, [`PLAINTEXT://${second.bootstrap}`]],
          ],
        );
        // The second broker's lease revoked behind its back, as etcd does when it expires.
        const raw = await fetch(`${etcd.endpoint}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: Buffer.from(`${PREFIX}${BROKER_REGISTRATIONS_PREFIX}2`).toString('base64') }),
        });
        const lease = ((await raw.json()) as { kvs: { lease: string }[] }).kvs[0]!.lease;
        await fetch(`${etcd.endpoint}/v3/lease/revoke`, { method: 'POST', body: JSON.stringify({ ID: lease }) });
        const cause = await second.whenRegistrationLost;
        assert.match(cause.message, /lost/);
        assert.equal(first.registrationLost, false);
        assert.ok(
          lines.some((l) => l.includes('ERROR') || l.includes('"error"')) &&
            lines.some((l) => l.includes('lease lost')),
          lines.join('\n'),
        );
        // etcd is there: the broker registers again under a new lease.
        await eventually('the broker registered again', async () => {
          const ids = (await BrokerRegistrar.list(store)).map((r) => r.nodeId);
          return ids.length === 2 && !second.registrationLost ? ids : undefined;
        });
        const again = await fetch(`${etcd.endpoint}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: Buffer.from(`${PREFIX}${BROKER_REGISTRATIONS_PREFIX}2`).toString('base64') }),
        });
        const newLease = ((await again.json()) as { kvs: { lease: string }[] }).kvs[0]!.lease;
        assert.notEqual(newLease, lease, 'under a new lease');
      } finally {
        await store.close();
        await second.stop();
        await first.stop();
      }
    }),
);

test(
  'etcd out of reach for longer than a session: the registration is not counted lost while etcd cannot say so; ' +
    'etcd answering again that the lease expired, the loss is reported at once',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const SESSION_MS = 1000;
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
      let lost: Error | undefined;
      let unreachable: Error | undefined;
      const registrar = await BrokerRegistrar.register(
        store,
        { nodeId: 7, rack: null, endpoints: [] },
        { sessionTimeoutMs: SESSION_MS, onLeaseLost: (e) => (lost = e), onUnreachable: (e) => (unreachable = e) },
      );
      etcd.pause();
      try {
        await eventually('a renewal failing for want of etcd', async () =>
          registrar.storeUnreachable ? true : undefined,
        );
        assert.ok(unreachable, 'reported as unreachable');
        // Several sessions without a renewal: the broker cannot tell a paused etcd from a lost lease.
        while (Date.now() - registrar.lastRenewedMs < 3 * SESSION_MS)
          await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(lost, undefined, 'not lost while etcd cannot say so');
        assert.equal(registrar.leaseLost, false);
      } finally {
        etcd.resume();
      }
      // etcd, thawed, expires the lease it could not renew: the next renewal, or the watch on the key, says so.
      const cause = await eventually('the loss reported', async () => lost);
      assert.match(cause.message, /lost|deleted/);
      assert.equal(registrar.leaseLost, true);
      await registrar.deregister();
      await store.close();
    }),
);

test("the registration key deleted behind the broker's back: the loss is reported", { skip: etcdUnavailable }, () =>
  withEtcd(async (etcd) => {
    const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
    let lost: Error | undefined;
    const registrar = await BrokerRegistrar.register(
      store,
      { nodeId: 8, rack: null, endpoints: [] },
      { sessionTimeoutMs: 60_000, onLeaseLost: (e) => (lost = e) },
    );
    await store.txn([], [{ type: 'delete', key: `${BROKER_REGISTRATIONS_PREFIX}8` }]);
    const cause = await eventually('the loss reported', async () => lost);
    assert.match(cause.message, /deleted/);
    assert.equal(registrar.leaseLost, true);
    await registrar.deregister();
    await store.close();
  }),
);

test(
  'a broker registering after its crashed registration expired gets a whole session on its lease',
  {
    skip: etcdUnavailable,
  },
  () =>
    withEtcd(async (etcd) => {
      const SESSION_MS = 4000;
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
      // The registration of the same node.id by a process that died: under a lease nobody renews any more.
      const oldLease = await store.grantLease(SESSION_MS);
      await store.txn(
        [],
        [{ type: 'put', key: `${BROKER_REGISTRATIONS_PREFIX}5`, value: '{"nodeId":5}', lease: oldLease }],
      );
      const registrar = await BrokerRegistrar.register(
        store,
        { nodeId: 5, rack: null, endpoints: [] },
        { sessionTimeoutMs: SESSION_MS, onLeaseLost: () => {} },
      );
      try {
        const range = await fetch(`${etcd.endpoint}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: Buffer.from(`${PREFIX}${BROKER_REGISTRATIONS_PREFIX}5`).toString('base64') }),
        });
        const lease = ((await range.json()) as { kvs: { lease: string }[] }).kvs[0]!.lease;
        const response = await fetch(`${etcd.endpoint}/v3/lease/timetolive`, {
          method: 'POST',
          body: JSON.stringify({ ID: lease }),
        });
        const { TTL } = (await response.json()) as { TTL: string };
        // Granted after the wait, not before it: otherwise the wait has used up the session the lease had.
        assert.ok(Number(TTL) * 1000 > SESSION_MS / 2, `the new lease has ${TTL} s left of ${SESSION_MS / 1000} s`);
      } finally {
        await registrar.deregister();
        await store.close();
      }
    }),
);
