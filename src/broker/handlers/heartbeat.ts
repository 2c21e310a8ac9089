import { heartbeatApi } from '../../protocol/generated/apis/heartbeat.js';
import type { HeartbeatRequest } from '../../protocol/generated/messages/heartbeat-request.js';
import type { HeartbeatResponse } from '../../protocol/generated/messages/heartbeat-response.js';
import { defineHandler } from '../api-handler.js';

/** Heartbeat: keeps a member's session alive and tells it when a rebalance has begun. */
export const heartbeatHandler = defineHandler<HeartbeatRequest, HeartbeatResponse>({
  api: heartbeatApi,
  minVersion: 0,
  maxVersion: 4,
  async handle({ apiVersion, broker }, request) {
    const errorCode = await broker.groups.heartbeat(
      request.groupId,
      request.generationId,
      request.memberId,
      apiVersion >= 3 ? request.groupInstanceId : null,
    );
    return { throttleTimeMs: 0, errorCode };
  },
});
