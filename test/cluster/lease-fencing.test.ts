import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BROKER_REGISTRATIONS_PREFIX } from '../../src/cluster/etcd-broker-registration.js';
import { ErrorCode, startBroker } from '../../src/index.js';
import { apis } from '../../src/protocol/generated/index.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { RawClient } from '../integration/raw-client.js';
import { eventually } from './cluster-helpers.js';
import { etcdUnavailable, withEtcd } from './etcd.js';

const PREFIX = '/samsa/fencing';

async function produce(c: RawClient, topic: string) {
  const records = buildRecordBatch([{ key: null, value: Buffer.from('x'), timestamp: BigInt(Date.now()) }]);
  const r = await c.request(apis.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

async function commit(c: RawClient, groupId: string, topic: string) {
  const r = await c.request(apis.OffsetCommit, 8, {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 1n,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  return r.topics[0]!.partitions[0]!.errorCode;
}

async function findCoordinator(c: RawClient, groupId: string) {
  return eventually('the group coordinator', async () => {
    const r = await c.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [groupId] });
    return r.coordinators[0]!.errorCode === ErrorCode.NONE ? r.coordinators[0]! : undefined;
  });
}

async function metadataOf(client: RawClient) {
  return client.request(apis.Metadata, 12, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'fenced' }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
}

test(
  'a broker whose lease is lost (revoked in etcd) is fenced at once (writes and offset commits for its partitions ' +
    'refused, its own answers without it); it registers again under a new lease and serves',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const etcdSettings = { endpoints: [etcd.endpoint], prefix: PREFIX };
      // Two brokers: __consumer_offsets with one replica, as offsets.topic.replication.factor=1 in Kafka's small
      // clusters (the default 3 would leave groups without a coordinator).
      const groups = { offsetsTopicReplicationFactor: 1 };
      const first = await startBroker({ nodeId: 1, etcd: etcdSettings, groups });
      const second = await startBroker({ nodeId: 2, etcd: etcdSettings, groups });
      const c = await RawClient.connect(second.port);
      try {
        const created = await c.request(apis.CreateTopics, 7, {
          topics: [
            {
              name: 'fenced',
              numPartitions: -1,
              replicationFactor: -1,
              assignments: [{ partitionIndex: 0, brokerIds: [2] }],
              configs: [],
            },
          ],
          timeoutMs: 5000,
          validateOnly: false,
        });
        assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
        assert.equal(await produce(c, 'fenced'), ErrorCode.NONE, 'the leader takes writes while registered');
        // A group coordinated by the second broker, with a commit that works before the loss.
        let groupId = '';
        for (let i = 0; ; i++) {
          groupId = `fenced-group-${i}`;
          if ((await findCoordinator(c, groupId)).nodeId === 2) break;
        }
        await eventually('a commit', async () =>
          (await commit(c, groupId, 'fenced')) === ErrorCode.NONE ? true : undefined,
        );

        // The second broker's lease revoked in etcd behind its back, as etcd does when it expires it: its
        // registration goes, and the broker learns it from its watch on the key or its next renewal.
        const key = Buffer.from(`${PREFIX}${BROKER_REGISTRATIONS_PREFIX}2`).toString('base64');
        const range = async () =>
          (
            (await (
              await fetch(`${etcd.endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key }) })
            ).json()) as { kvs?: { lease: string }[] }
          ).kvs?.[0]?.lease;
        const lease = await range();
        assert.ok(lease);
        // Fenced before anything else may happen: the rejoin is held up by etcd paused just after the revoke.
        await fetch(`${etcd.endpoint}/v3/lease/revoke`, { method: 'POST', body: JSON.stringify({ ID: lease }) });
        await second.whenRegistrationLost;
        etcd.pause();
        try {
          assert.equal(await produce(c, 'fenced'), ErrorCode.NOT_LEADER_OR_FOLLOWER);
          assert.equal(await commit(c, groupId, 'fenced'), ErrorCode.NOT_COORDINATOR);
          const own = await metadataOf(c);
          assert.ok(!own.brokers.some((b) => b.nodeId === 2), 'the fenced broker no longer lists itself');
          assert.equal(own.topics[0]!.partitions[0]!.leaderId, -1);
          assert.equal(own.topics[0]!.partitions[0]!.errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
        } finally {
          etcd.resume();
        }

        // The broker registers again and leads its partition again, its records kept.
        await eventually('the broker registered again', async () =>
          (await produce(c, 'fenced')) === ErrorCode.NONE ? true : undefined,
        );
        await eventually('commits again', async () =>
          (await commit(c, groupId, 'fenced')) === ErrorCode.NONE ? true : undefined,
        );
        assert.notEqual(await range(), lease, 'under a new lease');
        const listed = await c.request(apis.ListOffsets, 7, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [
            {
              name: 'fenced',
              partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }],
            },
          ],
        });
        assert.equal(listed.topics[0]!.partitions[0]!.offset, 2n, 'the write before the loss and the one after');
        const other = await RawClient.connect(first.port);
        try {
          await eventually('both brokers listed and a controller elected', async () => {
            const md = await metadataOf(other);
            return md.brokers.length === 2 && md.controllerId !== -1 && md.topics[0]!.partitions[0]!.leaderId === 2
              ? true
              : undefined;
          });
        } finally {
          other.close();
        }
      } finally {
        c.close();
        await second.stop();
        await first.stop();
      }
    }),
);
