import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { TopicMetadata } from '../../src/cluster/topic-metadata.js';
import { type Broker, ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { eventually, RawClient } from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

const PREFIX = '/samsa/internal-topics';
/** FindCoordinator's key types. */
const GROUP = 0;
const TRANSACTION = 1;

async function findCoordinator(port: number, keyType: number, key: string): Promise<number> {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(apis.FindCoordinator, 4, { key: '', keyType, coordinatorKeys: [key] });
    return r.coordinators[0]!.errorCode;
  } finally {
    c.close();
  }
}

test(
  'offsets.topic.replication.factor and transaction.state.log.replication.factor (default 3): with two brokers ' +
    'live FindCoordinator answers COORDINATOR_NOT_AVAILABLE and the topics are not created; with a third, they ' +
    'are, with three replicas per partition',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const store = await EtcdMetadataStore.open({ endpoints: [etcd.endpoint], prefix: PREFIX });
      const topics = await TopicMetadata.load(store);
      const brokers: Broker[] = [];
      const start = async (nodeId: number) => {
        brokers.push(
          await startBroker({
            nodeId,
            etcd: { endpoints: [etcd.endpoint], prefix: PREFIX },
            groups: { offsetsTopicNumPartitions: 3 },
            transactions: { stateLogNumPartitions: 3 },
          }),
        );
      };
      try {
        await start(1);
        await start(2);
        const port = brokers[0]!.port;
        assert.equal(await findCoordinator(port, GROUP, 'g'), ErrorCode.COORDINATOR_NOT_AVAILABLE);
        assert.equal(await findCoordinator(port, TRANSACTION, 't'), ErrorCode.COORDINATOR_NOT_AVAILABLE);
        assert.equal(topics.get('__consumer_offsets'), undefined, 'not created with two brokers');
        assert.equal(topics.get('__transaction_state'), undefined, 'not created with two brokers');

        await start(3);
        await eventually('a group coordinator', async () =>
          (await findCoordinator(port, GROUP, 'g')) === ErrorCode.NONE ? true : undefined,
        );
        await eventually('a transaction coordinator', async () =>
          (await findCoordinator(port, TRANSACTION, 't')) === ErrorCode.NONE ? true : undefined,
        );
        for (const name of ['__consumer_offsets', '__transaction_state']) {
          const record = await eventually(`${name} in the test's view`, async () => topics.get(name));
          assert.equal(record.partitions.length, 3);
          for (const p of record.partitions) assert.deepEqual([...p.replicas].sort(), [1, 2, 3]);
        }
      } finally {
        topics.close();
        await store.close();
        for (const b of brokers) await b.stop();
      }
    }),
);

test(
  'a single broker on the embedded store (the default) creates the internal topics with one replica, whatever ' +
    'the configured factors (default 3): groups and transactions work out of the box',
  async () => {
    const broker = await startBroker({
      groups: { offsetsTopicNumPartitions: 2 },
      transactions: { stateLogNumPartitions: 2 },
    });
    try {
      assert.equal(broker.settings.groups.offsetsTopicReplicationFactor, 3);
      assert.equal(await findCoordinator(broker.port, GROUP, 'g'), ErrorCode.COORDINATOR_NOT_AVAILABLE, 'creating it');
      await eventually('a group coordinator', async () =>
        (await findCoordinator(broker.port, GROUP, 'g')) === ErrorCode.NONE ? true : undefined,
      );
      await eventually('a transaction coordinator', async () =>
        (await findCoordinator(broker.port, TRANSACTION, 't')) === ErrorCode.NONE ? true : undefined,
      );
      const c = await RawClient.connect(broker.port);
      try {
        const md = await c.request(apis.Metadata, 12, {
          topics: [
            { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: '__consumer_offsets' },
            { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: '__transaction_state' },
          ],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        });
        for (const t of md.topics) {
          assert.equal(t.errorCode, ErrorCode.NONE);
          for (const p of t.partitions) assert.deepEqual(p.replicaNodes, [broker.settings.nodeId]);
        }
      } finally {
        c.close();
      }
    } finally {
      await broker.stop();
    }
  },
);
