import { ErrorCode } from '../../protocol/errors.js';
import { offsetForLeaderEpochApi } from '../../protocol/generated/apis/offset-for-leader-epoch.js';
import type { OffsetForLeaderEpochRequest } from '../../protocol/generated/messages/offset-for-leader-epoch-request.js';
import type {
  OffsetForLeaderEpochResponse,
  OffsetForLeaderEpochResponseEpochEndOffset,
} from '../../protocol/generated/messages/offset-for-leader-epoch-response.js';
import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from '../../storage/leader-epoch-cache.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster, authorizedNames, ResourceType } from '../authorization.js';

/** currentLeaderEpoch of a request that does not ask for fencing. */
const NO_CURRENT_LEADER_EPOCH = -1;

/**
 * OffsetForLeaderEpoch (KIP-101, KIP-320): for each partition, the end offset of the requested leader epoch in
 * this log: the start of the next higher epoch, or the log end offset for the latest one (from the log's
 * leader-epoch-checkpoint). Consumers use it to check, after a leader change, that their position was not
 * truncated away. As in Kafka, a currentLeaderEpoch older than the partition's is FENCED_LEADER_EPOCH and a
 * newer one UNKNOWN_LEADER_EPOCH.
 */
export const offsetForLeaderEpochHandler = defineHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>({
  api: offsetForLeaderEpochApi,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's checks, whoever asks (a follower or, since KIP-320, a consumer): CLUSTER_ACTION on the cluster
    // answers every topic; without it, DESCRIBE on each topic, TOPIC_AUTHORIZATION_FAILED for the others.
    const names = request.topics.map((t) => t.topic);
    const describable = authorizeCluster(ctx, AclOperation.CLUSTER_ACTION)
      ? new Set(names)
      : authorizedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, names);
    const topics = request.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        const result: OffsetForLeaderEpochResponseEpochEndOffset = {
          errorCode: ErrorCode.NONE,
          partition: p.partition,
          leaderEpoch: UNDEFINED_EPOCH,
          endOffset: BigInt(UNDEFINED_EPOCH_OFFSET),
        };
        if (!describable.has(t.topic)) {
          result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          return result;
        }
        const found = broker.replicas.lookup(t.topic, p.partition);
        if ('errorCode' in found) {
          result.errorCode = found.errorCode;
          return result;
        }
        const partitionEpoch = found.assignment.leaderEpoch;
        if (p.currentLeaderEpoch !== NO_CURRENT_LEADER_EPOCH) {
          if (p.currentLeaderEpoch < partitionEpoch) {
            result.errorCode = ErrorCode.FENCED_LEADER_EPOCH;
            return result;
          }
          if (p.currentLeaderEpoch > partitionEpoch) {
            result.errorCode = ErrorCode.UNKNOWN_LEADER_EPOCH;
            return result;
          }
        }
        const answer = found.log.endOffsetForEpoch(p.leaderEpoch);
        result.leaderEpoch = answer.epoch;
        result.endOffset = BigInt(answer.endOffset);
        return result;
      }),
    }));
    return { throttleTimeMs: 0, topics };
  },
});
