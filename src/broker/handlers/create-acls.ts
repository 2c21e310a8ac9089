import { ErrorCode } from '../../protocol/errors.js';
import { createAclsApi } from '../../protocol/generated/apis/create-acls.js';
import type { CreateAclsRequest } from '../../protocol/generated/messages/create-acls-request.js';
import type {
  CreateAclsResponse,
  CreateAclsResponseAclCreationResult,
} from '../../protocol/generated/messages/create-acls-response.js';
import { type AclBinding, describeBinding, invalidBindingReason } from '../../security/acl.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import { metadataStoreError } from '../metadata-errors.js';

/** Kafka's message when CreateAcls or DeleteAcls reaches a broker without an authorizer. */
export const NO_AUTHORIZER_MESSAGE = 'No Authorizer is configured.';

/**
 * CreateAcls: needs ALTER on the cluster. Each creation is checked as Kafka checks it (INVALID_REQUEST with
 * Kafka's message); the valid ones are stored in one transaction of the metadata store and enforced at once. An
 * ACL that exists already is left as it is and answered as created. Without an authorizer every creation fails
 * with SECURITY_DISABLED and nothing is stored, as in Kafka.
 */
export const createAclsHandler = defineHandler<CreateAclsRequest, CreateAclsResponse>({
  api: createAclsApi,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request) {
    const acls = ctx.broker.acls;
    const allFail = (errorCode: number, errorMessage: string): CreateAclsResponse => ({
      throttleTimeMs: 0,
      results: request.creations.map(() => ({ errorCode, errorMessage })),
    });
    if (acls === null) return allFail(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER_MESSAGE);
    if (!authorizeCluster(ctx, AclOperation.ALTER))
      return allFail(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
    const results: CreateAclsResponseAclCreationResult[] = [];
    const valid: Array<{ binding: AclBinding; result: CreateAclsResponseAclCreationResult }> = [];
    for (const c of request.creations) {
      const binding: AclBinding = {
        resourceType: c.resourceType as AclBinding['resourceType'],
        resourceName: c.resourceName,
        patternType: c.resourcePatternType as AclBinding['patternType'],
        principal: c.principal,
        host: c.host,
        operation: c.operation as AclBinding['operation'],
        permissionType: c.permissionType as AclBinding['permissionType'],
      };
      const invalid = invalidBindingReason(binding);
      const result = invalid
        ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid }
        : { errorCode: ErrorCode.NONE, errorMessage: null };
      results.push(result);
      if (!invalid) valid.push({ binding, result });
    }
    try {
      await acls.create(valid.map((v) => v.binding));
      for (const { binding } of valid)
        ctx.broker.logger.info('ACL created', { acl: describeBinding(binding), by: ctx.connection.principal });
    } catch (error) {
      const unreachable = metadataStoreError(error);
      if (!unreachable) ctx.broker.logger.error('storing ACLs failed', { error: error as Error });
      for (const { result } of valid) {
        result.errorCode = unreachable?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        result.errorMessage = unreachable?.errorMessage ?? 'The ACLs could not be stored.';
      }
    }
    return { throttleTimeMs: 0, results };
  },
});
