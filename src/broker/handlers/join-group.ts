import { ErrorCode } from '../../protocol/errors.js';
import { joinGroupApi } from '../../protocol/generated/apis/join-group.js';
import type { JoinGroupRequest } from '../../protocol/generated/messages/join-group-request.js';
import type { JoinGroupResponse } from '../../protocol/generated/messages/join-group-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/**
 * JoinGroup: parks the request until the group's rebalance completes (or answers at once when the member can
 * keep its place). The leader gets every member's metadata to compute the assignment.
 */
export const joinGroupHandler = defineHandler<JoinGroupRequest, JoinGroupResponse>({
  api: joinGroupApi,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, request) {
    const { apiVersion, broker, header, connection } = ctx;
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        generationId: -1,
        protocolType: null,
        protocolName: apiVersion >= 7 ? null : '',
        leader: '',
        skipAssignment: false,
        memberId: '',
        members: [],
      };
    const outcome = await broker.groups.joinGroup({
      groupId: request.groupId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout: the session timeout served for both.
      rebalanceTimeoutMs: apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      memberId: request.memberId,
      groupInstanceId: apiVersion >= 5 ? request.groupInstanceId : null,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      clientId: header.clientId ?? '',
      clientHost: `/${connection.remoteAddress}`,
      requireKnownMemberId: apiVersion >= 4,
      supportsSkipAssignment: apiVersion >= 9,
    });
    return {
      throttleTimeMs: 0,
      errorCode: outcome.errorCode,
      generationId: outcome.generationId,
      protocolType: apiVersion >= 7 ? outcome.protocolType : null,
      protocolName: outcome.protocolName ?? (apiVersion >= 7 ? null : ''),
      leader: outcome.leader,
      skipAssignment: apiVersion >= 9 ? outcome.skipAssignment : false,
      memberId: outcome.memberId,
      members: outcome.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: apiVersion >= 5 ? m.groupInstanceId : null,
        metadata: m.metadata,
      })),
    };
  },
});
