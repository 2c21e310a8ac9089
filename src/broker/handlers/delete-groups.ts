import { deleteGroupsApi } from '../../protocol/generated/apis/delete-groups.js';
import type { DeleteGroupsRequest } from '../../protocol/generated/messages/delete-groups-request.js';
import type { DeleteGroupsResponse } from '../../protocol/generated/messages/delete-groups-response.js';
import { defineHandler } from '../api-handler.js';

/** DeleteGroups: groups without members go, with their committed offsets. */
export const deleteGroupsHandler = defineHandler<DeleteGroupsRequest, DeleteGroupsResponse>({
  api: deleteGroupsApi,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker }, request) {
    const results = [];
    for (const groupId of request.groupsNames)
      results.push({ groupId, errorCode: await broker.groups.deleteGroup(groupId) });
    return { throttleTimeMs: 0, results };
  },
});
