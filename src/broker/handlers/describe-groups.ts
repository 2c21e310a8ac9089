import { ErrorCode } from '../../protocol/errors.js';
import { describeGroupsApi } from '../../protocol/generated/apis/describe-groups.js';
import type { DescribeGroupsRequest } from '../../protocol/generated/messages/describe-groups-request.js';
import type { DescribeGroupsResponse } from '../../protocol/generated/messages/describe-groups-response.js';
import { AUTHORIZED_OPERATIONS_OMITTED, defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, authorizedOperations, ResourceType } from '../authorization.js';

/** DescribeGroups: state, protocol and members of each group; a group that does not exist is "Dead". */
export const describeGroupsHandler = defineHandler<DescribeGroupsRequest, DescribeGroupsResponse>({
  api: describeGroupsApi,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's check: DESCRIBE on each group; a refused group is answered with the error and nothing else.
    const describable = authorizedNames(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, request.groups);
    const described = await Promise.all(
      request.groups.map((groupId) => (describable.has(groupId) ? broker.groups.describeGroup(groupId) : null)),
    );
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId, i) => {
        const d = described[i];
        if (!d)
          return {
            errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
            groupId,
            groupState: '',
            protocolType: '',
            protocolData: '',
            members: [],
            authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
          };
        // v6+ would say GROUP_ID_NOT_FOUND; up to v5 an unknown group is described as Dead without error.
        return {
          errorCode: d.errorCode,
          groupId,
          groupState: d.state,
          protocolType: d.protocolType,
          protocolData: d.protocolName,
          members: d.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: apiVersion >= 4 ? m.groupInstanceId : null,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations: authorizedOperations(
            ctx,
            ResourceType.GROUP,
            groupId,
            apiVersion >= 3 && request.includeAuthorizedOperations,
          ),
        };
      }),
    };
  },
});
