import { ErrorCode } from '../../protocol/errors.js';
import { describeAclsApi } from '../../protocol/generated/apis/describe-acls.js';
import type { DescribeAclsRequest } from '../../protocol/generated/messages/describe-acls-request.js';
import type {
  DescribeAclsResponse,
  DescribeAclsResponseDescribeAclsResource,
} from '../../protocol/generated/messages/describe-acls-response.js';
import { type AclBindingFilter, filterIsKnown, filterMatches } from '../../security/acl.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';

/** Kafka's message when DescribeAcls reaches a broker without an authorizer. */
export const NO_AUTHORIZER_DESCRIBE_MESSAGE = 'No Authorizer is configured on the broker';

/** The filter of a DescribeAcls request or of one DeleteAcls filter (their fields have the same names). */
export function aclFilterOf(f: {
  resourceTypeFilter: number;
  resourceNameFilter: string | null;
  patternTypeFilter: number;
  principalFilter: string | null;
  hostFilter: string | null;
  operation: number;
  permissionType: number;
}): AclBindingFilter {
  return {
    resourceType: f.resourceTypeFilter as AclBindingFilter['resourceType'],
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter as AclBindingFilter['patternType'],
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation as AclBindingFilter['operation'],
    permissionType: f.permissionType as AclBindingFilter['permissionType'],
  };
}

/**
 * DescribeAcls: needs DESCRIBE on the cluster; answers the ACLs the filter matches, grouped by resource pattern.
 * A filter with codes Kafka does not know is INVALID_REQUEST. Without an authorizer it answers as Kafka does
 * without one: SECURITY_DISABLED and no resources. Clients use it to tell that ACLs are off (kafka-python also
 * infers the broker version from its presence).
 */
export const describeAclsHandler = defineHandler<DescribeAclsRequest, DescribeAclsResponse>({
  api: describeAclsApi,
  minVersion: 0,
  maxVersion: 3,
  handle(ctx, request) {
    const authorizer = ctx.broker.authorizer;
    const fail = (errorCode: number, errorMessage: string): DescribeAclsResponse => ({
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      resources: [],
    });
    if (authorizer === null) return fail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER_DESCRIBE_MESSAGE);
    if (!authorizeCluster(ctx, AclOperation.DESCRIBE))
      return fail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
    const filter = aclFilterOf(request);
    if (!filterIsKnown(filter)) return fail(ErrorCode.INVALID_REQUEST, 'The filter contains UNKNOWN elements.');
    const byPattern = new Map<string, DescribeAclsResponseDescribeAclsResource>();
    for (const b of authorizer.bindings()) {
      if (!filterMatches(filter, b)) continue;
      const key = `${b.resourceType}\u0000${b.patternType}\u0000${b.resourceName}`;
      let resource = byPattern.get(key);
      if (!resource) {
        resource = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] };
        byPattern.set(key, resource);
      }
      resource.acls.push({
        principal: b.principal,
        host: b.host,
        operation: b.operation,
        permissionType: b.permissionType,
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byPattern.values()] };
  },
});
