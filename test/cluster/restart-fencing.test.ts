import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fastTempRoot } from '../chaos/harness.js';
import { type ClusterBroker, eventually, kafkaFor, startCluster, stopCluster } from './cluster-helpers.js';
import { type EtcdServer, etcdUnavailable, startEtcd } from './etcd.js';

// A broker killed with -9 and started again at once finds its old registration still in etcd and the topic records
// still naming it leader. Until it is registered again it must lead nothing: its log may hold a tail the other
// replicas never took, and a transaction coordinator loaded from that tail resends the markers of what it finds
// prepared (or aborts what it finds open) while the broker taking over decides the same transaction otherwise.

let etcd: EtcdServer;
let dir: string;
let brokers: ClusterBroker[] = [];

before(async () => {
  if (etcdUnavailable) return;
  etcd = await startEtcd();
  dir = await mkdtemp(join(await fastTempRoot(), 'samsa-restart-fencing-'));
  brokers = await startCluster(etcd, dir, [1], {
    extra: {
      'broker.session.timeout.ms': 4000,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'transaction.state.log.num.partitions': 1,
    },
  });
});

after(async () => {
  if (etcdUnavailable) return;
  await stopCluster(brokers);
  await etcd.destroy();
  await rm(dir, { recursive: true, force: true });
});

test('a broker restarted after kill -9 loads its transaction coordinator only once it is registered again', {
  skip: etcdUnavailable,
}, async () => {
  const broker = brokers[0]!;
  const kafka = kafkaFor([broker.bootstrap]);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'restart-fencing', numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ transactionalId: 'restart-fencing', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'restart-fencing', messages: [{ value: 'open' }] });
  await broker.process.kill();
  await producer.disconnect().catch(() => {});
  await broker.restart();
  // The open transaction is in the state partition: the coordinator's load says so once it happens.
  const log = await eventually('the transactions loaded', async () =>
    broker.process.log.includes('transactions loaded') ? broker.process.log : undefined,
  );
  const registered = log.indexOf('broker registered');
  assert.ok(registered >= 0, 'the restarted broker registered');
  assert.ok(
    log.indexOf('transactions loaded') > registered,
    'the transaction coordinator was loaded before the broker registered again',
  );
});
