import { offsetCommitApi } from '../../protocol/generated/apis/offset-commit.js';
import type { OffsetCommitRequest } from '../../protocol/generated/messages/offset-commit-request.js';
import type { OffsetCommitResponse } from '../../protocol/generated/messages/offset-commit-response.js';
import { defineHandler } from '../api-handler.js';

/**
 * OffsetCommit: stores committed offsets in `__consumer_offsets`. v0 commits are "simple" ones (no generation);
 * the v1 per-partition timestamp and the v2-4 retention time are not used by Kafka any more, nor here. From v9
 * the generation field is a KIP-848 member's epoch.
 */
export const offsetCommitHandler = defineHandler<OffsetCommitRequest, OffsetCommitResponse>({
  api: offsetCommitApi,
  minVersion: 0,
  maxVersion: 9,
  async handle({ apiVersion, broker }, request) {
    const partitions = request.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: apiVersion >= 6 ? p.committedLeaderEpoch : -1,
        metadata: p.committedMetadata,
      })),
    );
    const result = await broker.groups.commitOffsets(
      request.groupId,
      apiVersion >= 1 ? request.generationIdOrMemberEpoch : -1,
      apiVersion >= 1 ? request.memberId : '',
      apiVersion >= 7 ? request.groupInstanceId : null,
      partitions,
      apiVersion,
    );
    let i = 0;
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: 'errorCode' in result ? result.errorCode : result.partitionErrors[i++]!,
        })),
      })),
    };
  },
});
