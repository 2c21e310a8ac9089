import { ErrorCode } from '../../protocol/errors.js';
import { describeUserScramCredentialsApi } from '../../protocol/generated/apis/describe-user-scram-credentials.js';
import type { DescribeUserScramCredentialsRequest } from '../../protocol/generated/messages/describe-user-scram-credentials-request.js';
import type {
  DescribeUserScramCredentialsResponse,
  DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult,
} from '../../protocol/generated/messages/describe-user-scram-credentials-response.js';
import { SCRAM_MECHANISMS } from '../../security/scram.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';

type Result = DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult;

/**
 * DescribeUserScramCredentials (KIP-554): the mechanisms and iterations of users' SCRAM credentials, never their
 * keys or salts. No users named (null or empty): every user with a credential, sorted. A named user without one
 * is RESOURCE_NOT_FOUND, an empty name too, and a name given twice DUPLICATE_RESOURCE, as Kafka answers.
 */
export const describeUserScramCredentialsHandler = defineHandler<
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponse
>({
  api: describeUserScramCredentialsApi,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's check: DESCRIBE on the cluster.
    if (!authorizeCluster(ctx, AclOperation.DESCRIBE))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        errorMessage: 'Cluster authorization failed.',
        results: [],
      };
    const all = broker.scramCredentials.users();
    const describe = (user: string): Result => {
      const infos = all.get(user);
      if (!infos)
        return {
          user,
          errorCode: ErrorCode.RESOURCE_NOT_FOUND,
          errorMessage: `Attempt to describe a user credential that does not exist: ${user}`,
          credentialInfos: [],
        };
      return {
        user,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        credentialInfos: infos.map((i) => ({
          mechanism: SCRAM_MECHANISMS[i.mechanism].type,
          iterations: i.iterations,
        })),
      };
    };
    const names = request.users?.map((u) => u.name) ?? [];
    let results: Result[];
    if (names.length === 0) {
      results = [...all.keys()].sort().map(describe);
    } else {
      const counts = new Map<string, number>();
      for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
      results = [...counts].map(([user, count]): Result => {
        if (user === '')
          return {
            user,
            errorCode: ErrorCode.RESOURCE_NOT_FOUND,
            errorMessage: 'Username must not be empty',
            credentialInfos: [],
          };
        if (count > 1)
          return {
            user,
            errorCode: ErrorCode.DUPLICATE_RESOURCE,
            errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`,
            credentialInfos: [],
          };
        return describe(user);
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
});
