import type { OffsetCommitPartition } from '../../coordinator/group/group-coordinator.js';
import { ErrorCode } from '../../protocol/errors.js';
import { offsetCommitApi } from '../../protocol/generated/apis/offset-commit.js';
import type { OffsetCommitRequest } from '../../protocol/generated/messages/offset-commit-request.js';
import type { OffsetCommitResponse } from '../../protocol/generated/messages/offset-commit-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, type AuthorizedNames, authorize, authorizedNames, ResourceType } from '../authorization.js';

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
 * The error of each partition of `topics` in request order: TOPIC_AUTHORIZATION_FAILED for those of topics not in
 * `readable`, else the commit's (which was asked for the readable topics only, in the same order).
 */
export function errorsWithRefusals(
  topics: CommitTopics[],
  readable: AuthorizedNames,
  result: { errorCode: number } | { partitionErrors: number[] },
): (i: number) => number {
  const errors: number[] = [];
  let next = 0;
  for (const t of topics)
    for (const _ of t.partitions) {
      if (!readable.has(t.name)) errors.push(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      else errors.push('errorCode' in result ? result.errorCode : result.partitionErrors[next++]!);
    }
  return (i) => errors[i]!;
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
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's checks: READ on the group (else every partition is refused), then READ on each topic (the
    // partitions of a refused topic are not committed).
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return commitAnswer(request.topics, () => ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const readable = authorizedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const committed = request.topics.filter((t) => readable.has(t.name));
    // As Kafka: with no topic left to commit the coordinator is not asked (a commit of nothing could create a group).
    if (committed.length === 0 && request.topics.length > 0)
      return commitAnswer(request.topics, () => ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const result = await broker.groups.commitOffsets(
      request.groupId,
      apiVersion >= 1 ? request.generationIdOrMemberEpoch : -1,
      apiVersion >= 1 ? request.memberId : '',
      apiVersion >= 7 ? request.groupInstanceId : null,
      commitPartitions(committed, apiVersion >= 6),
      apiVersion,
    );
    return commitAnswer(request.topics, errorsWithRefusals(request.topics, readable, result));
  },
});
