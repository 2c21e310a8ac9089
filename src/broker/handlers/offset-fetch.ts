import { ErrorCode } from '../../protocol/errors.js';
import {
  apis,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type OffsetFetchResponsePartition,
} from '../../protocol/generated/index.js';
import { type BrokerServices, defineHandler } from '../api-handler.js';

/** The partitions of one group's answer, in the v0-7 shape (v8+ has the same fields per group). */
function fetchGroup(
  broker: BrokerServices,
  groupId: string,
  topics: Array<{ name: string; partitionIndexes: number[] }> | null,
  apiVersion: number,
  member?: { memberId: string | null; memberEpoch: number },
): { errorCode: number; topics: Array<{ name: string; partitions: OffsetFetchResponsePartition[] }> } {
  const result = broker.groups.fetchOffsets(
    groupId,
    topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })),
    member,
  );
  if (result.errorCode !== ErrorCode.NONE && topics !== null && apiVersion < 2) {
    // v0-1 have no group-level error: it goes on every partition.
    return {
      errorCode: result.errorCode,
      topics: topics.map((t) => ({
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
    topics: result.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: p.offset?.offset ?? -1n,
        committedLeaderEpoch: apiVersion >= 5 ? (p.offset?.leaderEpoch ?? -1) : -1,
        metadata: p.offset?.metadata ?? '',
        errorCode: ErrorCode.NONE,
      })),
    })),
  };
}

/**
 * OffsetFetch: a group's committed offsets, for the partitions asked (-1 where none) or all of them (topics
 * null, v2+). v8+ asks for several groups at once. Without transactions no offset is ever pending, so
 * require_stable needs no wait.
 */
export const offsetFetchHandler = defineHandler<OffsetFetchRequest, OffsetFetchResponse>({
  api: apis.OffsetFetch,
  minVersion: 0,
  maxVersion: 9,
  handle({ apiVersion, broker }, request) {
    if (apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        topics: [],
        errorCode: ErrorCode.NONE,
        groups: request.groups.map((g) => {
          // v9+: a KIP-848 member names itself and its epoch; others send null and -1.
          const member = apiVersion >= 9 ? { memberId: g.memberId, memberEpoch: g.memberEpoch } : undefined;
          const one = fetchGroup(broker, g.groupId, g.topics, apiVersion, member);
          return { groupId: g.groupId, errorCode: one.errorCode, topics: one.topics };
        }),
      };
    }
    const one = fetchGroup(broker, request.groupId, request.topics, apiVersion);
    return {
      throttleTimeMs: 0,
      topics: one.topics,
      errorCode: apiVersion >= 2 ? one.errorCode : ErrorCode.NONE,
      groups: [],
    };
  },
});
