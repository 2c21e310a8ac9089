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

/**
 * The requests FindCoordinator may take: the first ones on a new broker are answered COORDINATOR_NOT_AVAILABLE
 * while `__consumer_offsets` is created (as in Kafka), and the answer waits for it, so one retry is enough.
 */
const FIND_COORDINATOR_ATTEMPTS = 3;

/**
 * FindCoordinator v4 for a group, retried as clients do on COORDINATOR_NOT_AVAILABLE; it must succeed (the one
 * broker is every group's coordinator). Returns the coordinator found.
 */
export async function findCoordinator(c: RawClient, group: string) {
  for (let attempt = 1; ; attempt++) {
    const r = await c.request(apis.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [group] });
    const found = r.coordinators[0]!;
    if (found.errorCode !== ErrorCode.COORDINATOR_NOT_AVAILABLE || attempt === FIND_COORDINATOR_ATTEMPTS) {
      assert.equal(found.errorCode, ErrorCode.NONE);
      return found;
    }
  }
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
