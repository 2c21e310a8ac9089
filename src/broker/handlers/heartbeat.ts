import { ErrorCode } from '../../protocol/errors.js';
import { heartbeatApi } from '../../protocol/generated/apis/heartbeat.js';
import type { HeartbeatRequest } from '../../protocol/generated/messages/heartbeat-request.js';
import type { HeartbeatResponse } from '../../protocol/generated/messages/heartbeat-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/** Heartbeat: keeps a member's session alive and tells it when a rebalance has begun. */
export const heartbeatHandler = defineHandler<HeartbeatRequest, HeartbeatResponse>({
  api: heartbeatApi,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const errorCode = await broker.groups.heartbeat(
      request.groupId,
      request.generationId,
      request.memberId,
      apiVersion >= 3 ? request.groupInstanceId : null,
    );
    return { throttleTimeMs: 0, errorCode };
  },
});
