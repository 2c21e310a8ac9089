import { ErrorCode } from '../../protocol/errors.js';
import { consumerGroupHeartbeatApi } from '../../protocol/generated/apis/consumer-group-heartbeat.js';
import type { ConsumerGroupHeartbeatRequest } from '../../protocol/generated/messages/consumer-group-heartbeat-request.js';
import type { ConsumerGroupHeartbeatResponse } from '../../protocol/generated/messages/consumer-group-heartbeat-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizedNames, ResourceType } from '../authorization.js';

/**
 * ConsumerGroupHeartbeat (KIP-848): one request to join (epoch 0), stay in (the current epoch, reporting the
 * partitions the member holds) and leave (-1, or -2 for a static member coming back) a consumer group; the
 * answer carries the member's epoch and, when it changed, its assignment.
 */
export const consumerGroupHeartbeatHandler = defineHandler<
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse
>({
  api: consumerGroupHeartbeatApi,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const { broker, header, connection } = ctx;
    // Kafka's checks: READ on the group, DESCRIBE on every subscribed topic (else the whole heartbeat is refused).
    const refused = (errorCode: number): ConsumerGroupHeartbeatResponse => ({
      throttleTimeMs: 0,
      errorCode,
      errorMessage: null,
      memberId: null,
      memberEpoch: 0,
      heartbeatIntervalMs: 0,
      assignment: null,
    });
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return refused(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const subscribed = request.subscribedTopicNames ?? [];
    const describable = authorizedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, subscribed);
    if (!subscribed.every((name) => describable.has(name))) return refused(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const outcome = await broker.groups.consumerGroupHeartbeat({
      groupId: request.groupId,
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames,
      // Subscription by regular expression arrives with v1 (Kafka 4.0), which the generated codecs do not have.
      subscribedTopicRegex: null,
      serverAssignor: request.serverAssignor,
      ownedPartitions: request.topicPartitions,
      clientId: header.clientId ?? '',
      clientHost: `/${connection.remoteAddress}`,
    });
    return {
      throttleTimeMs: 0,
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
      memberId: outcome.memberId,
      memberEpoch: outcome.memberEpoch,
      heartbeatIntervalMs: outcome.heartbeatIntervalMs,
      assignment: outcome.assignment && { topicPartitions: outcome.assignment },
    };
  },
});
