import { ErrorCode } from '../../protocol/errors.js';
import { describeAclsApi } from '../../protocol/generated/apis/describe-acls.js';
import type { DescribeAclsRequest } from '../../protocol/generated/messages/describe-acls-request.js';
import type { DescribeAclsResponse } from '../../protocol/generated/messages/describe-acls-response.js';
import { defineHandler } from '../api-handler.js';

/** Kafka's message when DescribeAcls reaches a broker without an authorizer. */
export const NO_AUTHORIZER_DESCRIBE_MESSAGE = 'No Authorizer is configured on the broker';

/**
 * DescribeAcls: Samsa has no authorizer (a configuration asking for one stops start-up), so it answers as Kafka
 * does without one: SECURITY_DISABLED and no resources. Clients use it to tell that ACLs are off (kafka-python
 * also infers the broker version from its presence).
 */
export const describeAclsHandler = defineHandler<DescribeAclsRequest, DescribeAclsResponse>({
  api: describeAclsApi,
  minVersion: 0,
  maxVersion: 3,
  handle() {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.SECURITY_DISABLED,
      errorMessage: NO_AUTHORIZER_DESCRIBE_MESSAGE,
      resources: [],
    };
  },
});
