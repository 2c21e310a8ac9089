import { ErrorCode } from '../../protocol/errors.js';
import { deleteAclsApi } from '../../protocol/generated/apis/delete-acls.js';
import type { DeleteAclsRequest } from '../../protocol/generated/messages/delete-acls-request.js';
import type {
  DeleteAclsResponse,
  DeleteAclsResponseDeleteAclsFilterResult,
} from '../../protocol/generated/messages/delete-acls-response.js';
import { type AclBinding, describeBinding, filterIsKnown, filterMatches } from '../../security/acl.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import { metadataStoreError } from '../metadata-errors.js';
import { NO_AUTHORIZER_MESSAGE } from './create-acls.js';
import { aclFilterOf } from './describe-acls.js';

/**
 * DeleteAcls: needs ALTER on the cluster. Each filter answers the ACLs it matched, all of which are removed in
 * one transaction of the metadata store (an ACL two filters match is listed by both); a filter with codes Kafka
 * does not know is INVALID_REQUEST. Without an authorizer every filter fails with SECURITY_DISABLED and matches
 * nothing, as in Kafka.
 */
export const deleteAclsHandler = defineHandler<DeleteAclsRequest, DeleteAclsResponse>({
  api: deleteAclsApi,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request) {
    const { authorizer, acls } = ctx.broker;
    const allFail = (errorCode: number, errorMessage: string): DeleteAclsResponse => ({
      throttleTimeMs: 0,
      filterResults: request.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })),
    });
    if (authorizer === null || acls === null) return allFail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER_MESSAGE);
    if (!authorizeCluster(ctx, AclOperation.ALTER))
      return allFail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
    const all = [...authorizer.bindings()];
    const doomed = new Set<AclBinding>();
    const filterResults: DeleteAclsResponseDeleteAclsFilterResult[] = request.filters.map((f) => {
      const filter = aclFilterOf(f);
      if (!filterIsKnown(filter))
        return {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'The filter contains UNKNOWN elements.',
          matchingAcls: [],
        };
      const matched = all.filter((b) => filterMatches(filter, b));
      for (const b of matched) doomed.add(b);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        matchingAcls: matched.map((b) => ({
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          resourceType: b.resourceType,
          resourceName: b.resourceName,
          patternType: b.patternType,
          principal: b.principal,
          host: b.host,
          operation: b.operation,
          permissionType: b.permissionType,
        })),
      };
    });
    try {
      await acls.delete([...doomed]);
      for (const b of doomed)
        ctx.broker.logger.info('ACL deleted', { acl: describeBinding(b), by: ctx.connection.principal });
    } catch (error) {
      const unreachable = metadataStoreError(error);
      if (!unreachable) ctx.broker.logger.error('deleting ACLs failed', { error: error as Error });
      for (const r of filterResults) {
        if (r.errorCode !== ErrorCode.NONE || r.matchingAcls.length === 0) continue;
        r.errorCode = unreachable?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        r.errorMessage = unreachable?.errorMessage ?? 'The ACLs could not be deleted.';
        r.matchingAcls = [];
      }
    }
    return { throttleTimeMs: 0, filterResults };
  },
});
