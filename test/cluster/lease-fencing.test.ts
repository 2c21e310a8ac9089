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

test(
  'a broker whose registration lease is lost is fenced at once: writes and offset commits for the partitions it ' +
    'led are refused, and its own answers show them without a leader, as the other broker shows them',
  { skip: etcdUnavailable },
  () =>
    withEtcd(async (etcd) => {
      const etcdSettings = { endpoints: [etcd.endpoint], prefix: PREFIX };
      const first = await startBroker({ nodeId: 1, etcd: etcdSettings });
      const second = await startBroker({ nodeId: 2, etcd: etcdSettings });
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
        assert.equal(
          await eventually('a commit', async () => {
            const code = await commit(c, groupId, 'fenced');
            return code === ErrorCode.NONE ? code : undefined;
          }),
          ErrorCode.NONE,
        );

        // The lease revoked behind the broker's back, as etcd does when the broker cannot renew it in time.
        const raw = await fetch(`${etcd.endpoint}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: Buffer.from(`${PREFIX}${BROKER_REGISTRATIONS_PREFIX}2`).toString('base64') }),
        });
        const lease = ((await raw.json()) as { kvs: { lease: string }[] }).kvs[0]!.lease;
        await fetch(`${etcd.endpoint}/v3/lease/revoke`, { method: 'POST', body: JSON.stringify({ ID: lease }) });
        await second.whenRegistrationLost;

        assert.equal(await produce(c, 'fenced'), ErrorCode.NOT_LEADER_OR_FOLLOWER);
        assert.equal(await commit(c, groupId, 'fenced'), ErrorCode.NOT_COORDINATOR);
        const metadataOf = async (client: RawClient) =>
          await client.request(apis.Metadata, 12, {
            topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'fenced' }],
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
        const own = await metadataOf(c);
        assert.deepEqual(
          own.brokers.map((b) => b.nodeId),
          [1],
          'the fenced broker no longer lists itself',
        );
        assert.equal(own.topics[0]!.partitions[0]!.leaderId, -1);
        const other = await RawClient.connect(first.port);
        try {
          const seen = await eventually('the other broker sees the loss', async () => {
            const md = await metadataOf(other);
            return md.topics[0]!.partitions[0]!.leaderId === -1 ? md : undefined;
          });
          assert.equal(seen.topics[0]!.partitions[0]!.errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
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
