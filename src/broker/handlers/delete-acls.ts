import { ErrorCode } from '../../protocol/errors.js';
import { deleteAclsApi } from '../../protocol/generated/apis/delete-acls.js';
import type { DeleteAclsRequest } from '../../protocol/generated/messages/delete-acls-request.js';
import type { DeleteAclsResponse } from '../../protocol/generated/messages/delete-acls-response.js';
import { defineHandler } from '../api-handler.js';
import { NO_AUTHORIZER_MESSAGE } from './create-acls.js';

/**
 * DeleteAcls: Samsa has no authorizer (a configuration asking for one stops start-up), so, as Kafka without one,
 * every filter fails with SECURITY_DISABLED and matches nothing.
 */
export const deleteAclsHandler = defineHandler<DeleteAclsRequest, DeleteAclsResponse>({
  api: deleteAclsApi,
  minVersion: 0,
  maxVersion: 3,
  handle(_ctx, request) {
    return {
      throttleTimeMs: 0,
      filterResults: request.filters.map(() => ({
        errorCode: ErrorCode.SECURITY_DISABLED,
        errorMessage: NO_AUTHORIZER_MESSAGE,
        matchingAcls: [],
      })),
    };
  },
});
