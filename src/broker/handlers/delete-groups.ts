import { ErrorCode } from '../../protocol/errors.js';
import { deleteGroupsApi } from '../../protocol/generated/apis/delete-groups.js';
import type { DeleteGroupsRequest } from '../../protocol/generated/messages/delete-groups-request.js';
import type { DeleteGroupsResponse } from '../../protocol/generated/messages/delete-groups-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, ResourceType } from '../authorization.js';

/** DeleteGroups: groups without members go, with their committed offsets. */
export const deleteGroupsHandler = defineHandler<DeleteGroupsRequest, DeleteGroupsResponse>({
  api: deleteGroupsApi,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, request) {
    const results = [];
    // Kafka's check: DELETE on each group.
    const deletable = authorizedNames(ctx, AclOperation.DELETE, ResourceType.GROUP, request.groupsNames);
    for (const groupId of request.groupsNames)
      results.push({
        groupId,
        errorCode: deletable.has(groupId)
          ? await ctx.broker.groups.deleteGroup(groupId)
          : ErrorCode.GROUP_AUTHORIZATION_FAILED,
      });
    return { throttleTimeMs: 0, results };
  },
});
