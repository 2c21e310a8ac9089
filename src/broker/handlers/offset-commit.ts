import type { OffsetCommitPartition } from '../../coordinator/group/group-coordinator.js';
import { offsetCommitApi } from '../../protocol/generated/apis/offset-commit.js';
import type { OffsetCommitRequest } from '../../protocol/generated/messages/offset-commit-request.js';
import type { OffsetCommitResponse } from '../../protocol/generated/messages/offset-commit-response.js';
import { defineHandler } from '../api-handler.js';

/** The topics of an OffsetCommit or TxnOffsetCommit request, as far as both carry the same fields. */
interface CommitTopics {
  name: string;
  partitions: Array<{
    partitionIndex: number;
    committedOffset: bigint;
    committedLeaderEpoch: number;
    committedMetadata: string | null;
  }>;
}

/** The partitions of a commit request as the group coordinator takes them, in request order. */
export function commitPartitions(topics: CommitTopics[], withLeaderEpoch: boolean): OffsetCommitPartition[] {
  return topics.flatMap((t) =>
    t.partitions.map((p) => ({
      topic: t.name,
      partition: p.partitionIndex,
      offset: p.committedOffset,
      leaderEpoch: withLeaderEpoch ? p.committedLeaderEpoch : -1,
      metadata: p.committedMetadata,
    })),
  );
}

/** A commit's answer: each partition of the request with the error `errorOf` gives for its place in order. */
export function commitAnswer(topics: CommitTopics[], errorOf: (i: number) => number) {
  let i = 0;
  return {
    throttleTimeMs: 0,
    topics: topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errorOf(i++) })),
    })),
  };
}

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
    const result = await broker.groups.commitOffsets(
      request.groupId,
      apiVersion >= 1 ? request.generationIdOrMemberEpoch : -1,
      apiVersion >= 1 ? request.memberId : '',
      apiVersion >= 7 ? request.groupInstanceId : null,
      commitPartitions(request.topics, apiVersion >= 6),
      apiVersion,
    );
    return commitAnswer(request.topics, (i) => ('errorCode' in result ? result.errorCode : result.partitionErrors[i]!));
  },
});
