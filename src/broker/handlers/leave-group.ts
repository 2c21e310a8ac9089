import { ErrorCode } from '../../protocol/errors.js';
import { leaveGroupApi } from '../../protocol/generated/apis/leave-group.js';
import type { LeaveGroupRequest } from '../../protocol/generated/messages/leave-group-request.js';
import type { LeaveGroupResponse } from '../../protocol/generated/messages/leave-group-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/** LeaveGroup: one member (v0-2) or a batch by member or instance id (v3+, KIP-345); the group rebalances. */
export const leaveGroupHandler = defineHandler<LeaveGroupRequest, LeaveGroupResponse>({
  api: leaveGroupApi,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const leaving =
      apiVersion >= 3
        ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: request.memberId, groupInstanceId: null }];
    const result = await broker.groups.leaveGroup(request.groupId, leaving);
    if (apiVersion < 3) {
      return { throttleTimeMs: 0, errorCode: result.members[0] ?? result.errorCode, members: [] };
    }
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      members:
        result.errorCode === ErrorCode.NONE
          ? leaving.map((m, i) => ({
              memberId: m.memberId,
              groupInstanceId: m.groupInstanceId,
              errorCode: result.members[i]!,
            }))
          : [],
    };
  },
});
