import { apis, type DeleteGroupsRequest, type DeleteGroupsResponse } from '../../protocol/generated/index.js';
import { defineHandler } from '../api-handler.js';

/** DeleteGroups: groups without members go, with their committed offsets. */
export const deleteGroupsHandler = defineHandler<DeleteGroupsRequest, DeleteGroupsResponse>({
  api: apis.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker }, request) {
    const results = [];
    for (const groupId of request.groupsNames)
      results.push({ groupId, errorCode: await broker.groups.deleteGroup(groupId) });
    return { throttleTimeMs: 0, results };
  },
});
