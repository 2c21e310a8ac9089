import { QUOTA_ENTITY_TYPES } from '../../cluster/client-quotas.js';
import { ErrorCode } from '../../protocol/errors.js';
import { describeClientQuotasApi } from '../../protocol/generated/apis/describe-client-quotas.js';
import type { DescribeClientQuotasRequest } from '../../protocol/generated/messages/describe-client-quotas-request.js';
import type {
  DescribeClientQuotasResponse,
  DescribeClientQuotasResponseEntryData,
} from '../../protocol/generated/messages/describe-client-quotas-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';

/** DescribeClientQuotas match types. */
const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_ANY = 2;

/**
 * DescribeClientQuotas (KIP-546): the quotas of every entity that matches all the filter's components (an exact
 * name, the default, or any name of that type); with `strict`, entities naming other types are left out.
 * INVALID_REQUEST for a type given twice, an unknown match type, or a name where none belongs, as Kafka answers.
 */
export const describeClientQuotasHandler = defineHandler<DescribeClientQuotasRequest, DescribeClientQuotasResponse>({
  api: describeClientQuotasApi,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx, request) {
    const { broker } = ctx;
    const invalid = (errorMessage: string | null, errorCode: number = ErrorCode.INVALID_REQUEST) => ({
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      entries: null,
    });
    // As in Kafka: DESCRIBE_CONFIGS on the cluster.
    if (!authorizeCluster(ctx, AclOperation.DESCRIBE_CONFIGS))
      return invalid(null, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const seen = new Set<string>();
    for (const c of request.components) {
      if (seen.has(c.entityType)) return invalid(`Duplicate entity type in filter component: ${c.entityType}`);
      seen.add(c.entityType);
      if (c.matchType === MATCH_EXACT) {
        if (c.match === null) return invalid(`Request specified an exact match with a null name for ${c.entityType}`);
      } else if (c.matchType === MATCH_DEFAULT || c.matchType === MATCH_ANY) {
        if (c.match !== null) return invalid(`Request specified a name with match type ${c.matchType}`);
      } else return invalid(`Unknown match type: ${c.matchType}`);
    }
    const entries: DescribeClientQuotasResponseEntryData[] = [];
    for (const { entity, values } of broker.quotas.entries()) {
      const matches = request.components.every((c) => {
        const part = entity.find((e) => e.entityType === c.entityType);
        if (!part) return false;
        if (c.matchType === MATCH_EXACT) return part.entityName === c.match;
        if (c.matchType === MATCH_DEFAULT) return part.entityName === null;
        return true;
      });
      if (!matches) continue;
      if (request.strict && entity.some((e) => !seen.has(e.entityType))) continue;
      entries.push({
        entity: entity.map((e) => ({ entityType: e.entityType, entityName: e.entityName })),
        values: [...values].map(([key, value]) => ({ key, value })),
      });
    }
    // Only user, client-id and ip quotas exist; filters on other types match nothing.
    if ([...seen].some((t) => !(QUOTA_ENTITY_TYPES as readonly string[]).includes(t))) entries.length = 0;
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries };
  },
});
