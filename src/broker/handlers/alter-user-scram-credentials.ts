import type { ScramCredentialChange } from '../../cluster/scram-credentials.js';
import { ErrorCode } from '../../protocol/errors.js';
import { alterUserScramCredentialsApi } from '../../protocol/generated/apis/alter-user-scram-credentials.js';
import type { AlterUserScramCredentialsRequest } from '../../protocol/generated/messages/alter-user-scram-credentials-request.js';
import type {
  AlterUserScramCredentialsResponse,
  AlterUserScramCredentialsResponseAlterUserScramCredentialsResult,
} from '../../protocol/generated/messages/alter-user-scram-credentials-response.js';
import {
  SCRAM_MAX_ITERATIONS,
  SCRAM_MIN_ITERATIONS,
  scramCredentialOf,
  scramMechanismOfType,
} from '../../security/scram.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import { metadataStoreError } from '../metadata-errors.js';

type Result = AlterUserScramCredentialsResponseAlterUserScramCredentialsResult;

/**
 * AlterUserScramCredentials (KIP-554): upserts and deletes users' SCRAM credentials. The client sends the salted
 * password, never the password; the broker keeps only the stored key and server key derived from it. One result
 * per user, with Kafka's checks: an empty name is UNACCEPTABLE_CREDENTIAL, an unknown mechanism
 * UNSUPPORTED_SASL_MECHANISM, iterations outside 4096..16384 UNACCEPTABLE_CREDENTIAL, the same user and mechanism
 * twice DUPLICATE_RESOURCE, deleting a credential that does not exist RESOURCE_NOT_FOUND. A user's changes are
 * all made or none; every valid change is written in one transaction of the metadata store.
 */
export const alterUserScramCredentialsHandler = defineHandler<
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse
>({
  api: alterUserScramCredentialsApi,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const { broker } = ctx;
    const errors = new Map<string, { errorCode: number; errorMessage: string }>();
    const fail = (user: string, errorCode: number, errorMessage: string) => {
      if (!errors.has(user)) errors.set(user, { errorCode, errorMessage });
    };
    // Kafka's check: ALTER on the cluster, else every user named is refused and nothing changes.
    if (!authorizeCluster(ctx, AclOperation.ALTER)) {
      const named = new Set([...request.deletions, ...request.upsertions].map((c) => c.name));
      return {
        throttleTimeMs: 0,
        results: [...named].map((user) => ({
          user,
          errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
          errorMessage: 'Cluster authorization failed.',
        })),
      };
    }
    const users: string[] = [];
    const seen = new Set<string>();
    const pairs = new Map<string, number>();
    const note = (user: string, mechanism: number) => {
      if (!seen.has(user)) {
        seen.add(user);
        users.push(user);
      }
      const pair = `${mechanism}/${user}`;
      pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
    };
    for (const d of request.deletions) {
      note(d.name, d.mechanism);
      if (d.name === '') fail(d.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      else if (!scramMechanismOfType(d.mechanism))
        fail(d.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
    }
    for (const u of request.upsertions) {
      note(u.name, u.mechanism);
      if (u.name === '') fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      else if (!scramMechanismOfType(u.mechanism))
        fail(u.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      else if (u.iterations < SCRAM_MIN_ITERATIONS)
        fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations');
      else if (u.iterations > SCRAM_MAX_ITERATIONS)
        fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations');
    }
    for (const [pair, count] of pairs) {
      const user = pair.slice(pair.indexOf('/') + 1);
      if (count > 1)
        fail(user, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request');
    }
    const credentials = broker.scramCredentials;
    for (const d of request.deletions) {
      const mechanism = scramMechanismOfType(d.mechanism);
      if (mechanism && !credentials.get(d.name, mechanism))
        fail(d.name, ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist');
    }
    const changes: ScramCredentialChange[] = [];
    for (const d of request.deletions) {
      if (!errors.has(d.name))
        changes.push({ type: 'delete', user: d.name, mechanism: scramMechanismOfType(d.mechanism)! });
    }
    for (const u of request.upsertions) {
      if (errors.has(u.name)) continue;
      const mechanism = scramMechanismOfType(u.mechanism)!;
      const credential = scramCredentialOf(mechanism, u.saltedPassword, u.salt, u.iterations);
      changes.push({ type: 'upsert', user: u.name, mechanism, credential });
    }
    let unreachable: { errorCode: number; errorMessage: string } | null = null;
    try {
      await credentials.apply(changes);
    } catch (e) {
      unreachable = metadataStoreError(e);
      if (!unreachable) throw e;
    }
    const results: Result[] = users.map((user) => {
      const error = errors.get(user) ?? unreachable ?? undefined;
      return { user, errorCode: error?.errorCode ?? ErrorCode.NONE, errorMessage: error?.errorMessage ?? null };
    });
    return { throttleTimeMs: 0, results };
  },
});
