import { ErrorCode } from '../../protocol/errors.js';
import { createAclsApi } from '../../protocol/generated/apis/create-acls.js';
import type { CreateAclsRequest } from '../../protocol/generated/messages/create-acls-request.js';
import type { CreateAclsResponse } from '../../protocol/generated/messages/create-acls-response.js';
import { defineHandler } from '../api-handler.js';

/** Kafka's message when CreateAcls or DeleteAcls reaches a broker without an authorizer. */
export const NO_AUTHORIZER_MESSAGE = 'No Authorizer is configured.';

/**
 * CreateAcls: Samsa has no authorizer (a configuration asking for one stops start-up), so, as Kafka without one,
 * every creation fails with SECURITY_DISABLED and nothing is stored.
 */
export const createAclsHandler = defineHandler<CreateAclsRequest, CreateAclsResponse>({
  api: createAclsApi,
  minVersion: 0,
  maxVersion: 3,
  handle(_ctx, request) {
    return {
      throttleTimeMs: 0,
      results: request.creations.map(() => ({
        errorCode: ErrorCode.SECURITY_DISABLED,
        errorMessage: NO_AUTHORIZER_MESSAGE,
      })),
    };
  },
});
