import { ErrorCode } from '../../protocol/errors.js';
import { syncGroupApi } from '../../protocol/generated/apis/sync-group.js';
import type { SyncGroupRequest } from '../../protocol/generated/messages/sync-group-request.js';
import type { SyncGroupResponse } from '../../protocol/generated/messages/sync-group-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/** SyncGroup: the leader hands in the assignment; every member waits here for its share. */
export const syncGroupHandler = defineHandler<SyncGroupRequest, SyncGroupResponse>({
  api: syncGroupApi,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        protocolType: null,
        protocolName: null,
        assignment: Buffer.alloc(0),
      };
    const outcome = await broker.groups.syncGroup({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: apiVersion >= 3 ? request.groupInstanceId : null,
      protocolType: apiVersion >= 5 ? request.protocolType : null,
      protocolName: apiVersion >= 5 ? request.protocolName : null,
      assignments: request.assignments,
    });
    return {
      throttleTimeMs: 0,
      errorCode: outcome.errorCode,
      protocolType: apiVersion >= 5 ? outcome.protocolType : null,
      protocolName: apiVersion >= 5 ? outcome.protocolName : null,
      assignment: outcome.assignment,
    };
  },
});
