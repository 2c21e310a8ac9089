import { ErrorCode } from '../../protocol/errors.js';
import { consumerGroupDescribeApi } from '../../protocol/generated/apis/consumer-group-describe.js';
import type { ConsumerGroupDescribeRequest } from '../../protocol/generated/messages/consumer-group-describe-request.js';
import type { ConsumerGroupDescribeResponse } from '../../protocol/generated/messages/consumer-group-describe-response.js';
import { AUTHORIZED_OPERATIONS_OMITTED, defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, authorizedOperations, ResourceType } from '../authorization.js';

/**
 * ConsumerGroupDescribe (KIP-848): epochs, assignor and members of consumer groups, with each member's current
 * and target assignment. A group that is not a consumer group (missing, or classic) is GROUP_ID_NOT_FOUND.
 */
export const consumerGroupDescribeHandler = defineHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>({
  api: consumerGroupDescribeApi,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's check: DESCRIBE on each group.
    const describable = authorizedNames(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, request.groupIds);
    return {
      throttleTimeMs: 0,
      groups: request.groupIds.map((groupId) => {
        const failed = (errorCode: number) => ({
          errorCode,
          errorMessage: null,
          groupId,
          groupState: '',
          groupEpoch: 0,
          assignmentEpoch: 0,
          assignorName: '',
          members: [],
          authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
        });
        if (!describable.has(groupId)) return failed(ErrorCode.GROUP_AUTHORIZATION_FAILED);
        const d = broker.groups.consumerGroupDescribe(groupId);
        if (!('groupEpoch' in d)) return failed(d.errorCode);
        return {
          errorCode: d.errorCode,
          errorMessage: null,
          groupId,
          groupState: d.state,
          groupEpoch: d.groupEpoch,
          assignmentEpoch: d.assignmentEpoch,
          assignorName: d.assignorName,
          members: d.members,
          authorizedOperations: authorizedOperations(
            ctx,
            ResourceType.GROUP,
            groupId,
            request.includeAuthorizedOperations,
          ),
        };
      }),
    };
  },
});
