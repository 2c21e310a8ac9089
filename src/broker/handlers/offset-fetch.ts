import { ErrorCode } from '../../protocol/errors.js';
import { offsetFetchApi } from '../../protocol/generated/apis/offset-fetch.js';
import type { OffsetFetchRequest } from '../../protocol/generated/messages/offset-fetch-request.js';
import type {
  OffsetFetchResponse,
  OffsetFetchResponsePartition,
} from '../../protocol/generated/messages/offset-fetch-response.js';
import { defineHandler, type RequestContext } from '../api-handler.js';
import { AclOperation, authorize, authorizedNames, ResourceType } from '../authorization.js';

/** The partitions of one group's answer, in the v0-7 shape (v8+ has the same fields per group). */
function fetchGroup(
  ctx: RequestContext,
  groupId: string,
  asked: Array<{ name: string; partitionIndexes: number[] }> | null,
  apiVersion: number,
  requireStable: boolean,
  member?: { memberId: string | null; memberEpoch: number },
): { errorCode: number; topics: Array<{ name: string; partitions: OffsetFetchResponsePartition[] }> } {
  const { broker } = ctx;
  // Kafka's checks: DESCRIBE on the group, then on each topic: a topic asked for and refused answers
  // TOPIC_AUTHORIZATION_FAILED, one the principal may not describe is left out of an answer for all topics.
  const groupAllowed = authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId);
  const checked = broker.authorizer !== null && groupAllowed;
  const describable =
    checked && asked !== null
      ? authorizedNames(
          ctx,
          AclOperation.DESCRIBE,
          ResourceType.TOPIC,
          asked.map((t) => t.name),
        )
      : null;
  const topics = asked === null || describable === null ? asked : asked.filter((t) => describable.has(t.name));
  const result = groupAllowed
    ? broker.groups.fetchOffsets(
        groupId,
        topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })),
        member,
      )
    : { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] };
  if (checked && asked === null) {
    const shown = authorizedNames(
      ctx,
      AclOperation.DESCRIBE,
      ResourceType.TOPIC,
      result.topics.map((t) => t.name),
    );
    result.topics = result.topics.filter((t) => shown.has(t.name));
  }
  const refused = (asked ?? [])
    .filter((t) => describable !== null && !describable.has(t.name))
    .map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: -1n,
        committedLeaderEpoch: -1,
        metadata: '',
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      })),
    }));
  if (result.errorCode !== ErrorCode.NONE && asked !== null && apiVersion < 2) {
    // v0-1 have no group-level error: it goes on every partition.
    return {
      errorCode: result.errorCode,
      topics: asked.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: -1n,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: result.errorCode,
        })),
      })),
    };
  }
  return {
    errorCode: result.errorCode,
    topics: [
      ...result.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          // KIP-447: an offset an open transaction may still change is not handed to a require_stable fetch.
          const unstable = requireStable && broker.groups.hasPendingTransactionalOffset(groupId, t.name, p.partition);
          const offset = unstable ? null : p.offset;
          return {
            partitionIndex: p.partition,
            committedOffset: offset?.offset ?? -1n,
            committedLeaderEpoch: apiVersion >= 5 ? (offset?.leaderEpoch ?? -1) : -1,
            metadata: offset?.metadata ?? '',
            errorCode: unstable ? ErrorCode.UNSTABLE_OFFSET_COMMIT : ErrorCode.NONE,
          };
        }),
      })),
      ...refused,
    ],
  };
}

/**
 * OffsetFetch: a group's committed offsets, for the partitions asked (-1 where none) or all of them (topics
 * null, v2+). v8+ asks for several groups at once. With require_stable (v7+), a partition whose offset an open
 * transaction has committed answers UNSTABLE_OFFSET_COMMIT, and the client asks again.
 */
export const offsetFetchHandler = defineHandler<OffsetFetchRequest, OffsetFetchResponse>({
  api: offsetFetchApi,
  minVersion: 0,
  maxVersion: 9,
  handle(ctx, request) {
    const { apiVersion } = ctx;
    if (apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        topics: [],
        errorCode: ErrorCode.NONE,
        groups: request.groups.map((g) => {
          // v9+: a KIP-848 member names itself and its epoch; others send null and -1.
          const member = apiVersion >= 9 ? { memberId: g.memberId, memberEpoch: g.memberEpoch } : undefined;
          const one = fetchGroup(ctx, g.groupId, g.topics, apiVersion, request.requireStable, member);
          return { groupId: g.groupId, errorCode: one.errorCode, topics: one.topics };
        }),
      };
    }
    const one = fetchGroup(ctx, request.groupId, request.topics, apiVersion, apiVersion >= 7 && request.requireStable);
    return {
      throttleTimeMs: 0,
      topics: one.topics,
      errorCode: apiVersion >= 2 ? one.errorCode : ErrorCode.NONE,
      groups: [],
    };
  },
});
