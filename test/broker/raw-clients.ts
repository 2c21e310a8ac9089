import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apis } from '../../src/protocol/generated/index.js';
import { RawClient } from '../integration/raw-client.js';

/** Raw connections a test file opens, closed together when it ends. */
export function rawClientPool(defaultPort: () => number): {
  connect(port?: number): Promise<RawClient>;
  closeAll(): void;
} {
  const clients: RawClient[] = [];
  return {
    async connect(port = defaultPort()) {
      const c = await RawClient.connect(port);
      clients.push(c);
      return c;
    },
    closeAll() {
      for (const c of clients) c.close();
    },
  };
}

/** FindCoordinator v4 for a group, which must succeed (the one broker is every group's coordinator). */
export async function findCoordinator(c: RawClient, group: string): Promise<void> {
  const r = await c.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [group] });
  assert.equal(r.coordinators[0]!.errorCode, ErrorCode.NONE);
}

/** A simple OffsetCommit v8 (no member, no generation), as tools send: `offset` for one partition. */
export function simpleCommit(c: RawClient, group: string, topic: string, partitionIndex: number, offset: bigint) {
  return c.request(apis.OffsetCommit, 8, {
    groupId: group,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: '',
          },
        ],
      },
    ],
  });
}
