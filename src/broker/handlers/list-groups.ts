import { ErrorCode } from '../../protocol/errors.js';
import { listGroupsApi } from '../../protocol/generated/apis/list-groups.js';
import type { ListGroupsRequest } from '../../protocol/generated/messages/list-groups-request.js';
import type { ListGroupsResponse } from '../../protocol/generated/messages/list-groups-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizeCluster, ResourceType } from '../authorization.js';

/**
 * ListGroups: the groups this broker coordinates, filtered by state (v4+) and by type (v5+: `classic` or
 * `consumer` for KIP-848 groups), case-insensitively.
 */
export const listGroupsHandler = defineHandler<ListGroupsRequest, ListGroupsResponse>({
  api: listGroupsApi,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's check: DESCRIBE on the cluster lists every group, else those the principal may describe.
    const all = broker.authorizer === null || authorizeCluster(ctx, AclOperation.DESCRIBE);
    const states = apiVersion >= 4 ? new Set(request.statesFilter.map((s) => s.toLowerCase())) : new Set<string>();
    const types = apiVersion >= 5 ? new Set(request.typesFilter.map((s) => s.toLowerCase())) : new Set<string>();
    const groups = (await broker.groups.listGroups())
      .filter((g) => states.size === 0 || states.has(g.state.toLowerCase()))
      .filter((g) => types.size === 0 || types.has(g.type))
      .filter((g) => all || authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId))
      .map((g) => ({
        groupId: g.groupId,
        protocolType: g.protocolType,
        groupState: apiVersion >= 4 ? g.state : '',
        groupType: apiVersion >= 5 ? g.type : '',
      }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
});
