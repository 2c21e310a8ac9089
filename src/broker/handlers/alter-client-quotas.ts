import { isIP } from 'node:net';
import {
  type ClientQuotaChange,
  QUOTA_ENTITY_TYPES,
  type QuotaEntity,
  type QuotaEntityType,
} from '../../cluster/client-quotas.js';
import { ErrorCode } from '../../protocol/errors.js';
import { alterClientQuotasApi } from '../../protocol/generated/apis/alter-client-quotas.js';
import type {
  AlterClientQuotasRequest,
  AlterClientQuotasRequestEntryData,
} from '../../protocol/generated/messages/alter-client-quotas-request.js';
import type { AlterClientQuotasResponse } from '../../protocol/generated/messages/alter-client-quotas-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import {
  CONNECTION_CREATION_RATE,
  CONSUMER_BYTE_RATE,
  CONTROLLER_MUTATION_RATE,
  PRODUCER_BYTE_RATE,
  REQUEST_PERCENTAGE,
} from '../client-quota-manager.js';
import { metadataStoreError } from '../metadata-errors.js';

/** The quotas of users and client ids, with Kafka's types: longs and ints are whole numbers. */
const CLIENT_KEYS = new Map([
  [PRODUCER_BYTE_RATE, 'Long'],
  [CONSUMER_BYTE_RATE, 'Long'],
  [REQUEST_PERCENTAGE, 'Double'],
  [CONTROLLER_MUTATION_RATE, 'Double'],
]);
/** The quotas of addresses (KIP-612). */
const IP_KEYS = new Map([[CONNECTION_CREATION_RATE, 'Integer']]);
const MAX_INT = 2_147_483_647;

type Checked = { change: ClientQuotaChange } | { errorCode: number; errorMessage: string };

/** An entry checked as Kafka's controller checks it (ClientQuotaControlManager): entity, then each operation. */
function checkEntry(entry: AlterClientQuotasRequestEntryData): Checked {
  const invalid = (errorMessage: string): Checked => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage });
  if (entry.entity.length === 0) return invalid('Invalid empty client quota entity');
  const seen = new Set<string>();
  for (const e of entry.entity) {
    if (seen.has(e.entityType)) return invalid(`Duplicate ${e.entityType} entity type in client quota entity`);
    seen.add(e.entityType);
  }
  for (const type of seen)
    if (!(QUOTA_ENTITY_TYPES as readonly string[]).includes(type))
      return invalid(`Unhandled client quota entity type: ${type}`);
  const isIp = seen.has('ip');
  if (isIp && seen.size > 1)
    return invalid('Invalid quota entity combination, IP entity should not be combined with User or ClientId');
  const ipName = entry.entity.find((e) => e.entityType === 'ip')?.entityName;
  if (isIp && ipName != null && isIP(ipName) === 0) return invalid(`${ipName} is not a valid IP or resolvable host.`);
  const allowedKeys = isIp ? IP_KEYS : CLIENT_KEYS;
  const entity: QuotaEntity = QUOTA_ENTITY_TYPES.flatMap((type: QuotaEntityType) => {
    const e = entry.entity.find((x) => x.entityType === type);
    return e ? [{ entityType: type, entityName: e.entityName }] : [];
  });
  const set = new Map<string, number>();
  const remove: string[] = [];
  const keys = new Set<string>();
  for (const op of entry.ops) {
    if (keys.has(op.key)) return invalid(`Duplicate quota key ${op.key} not updating quota for ${describe(entity)}`);
    keys.add(op.key);
    const type = allowedKeys.get(op.key);
    if (type === undefined) return invalid(`Invalid configuration key ${op.key}`);
    if (op.remove) {
      remove.push(op.key);
      continue;
    }
    if (type !== 'Double' && !Number.isInteger(op.value))
      return invalid(`Configuration ${op.key} must be a ${type} value`);
    if (type === 'Integer' && op.value > MAX_INT)
      return invalid(`Proposed value for ${op.key} is too large for an INT.`);
    if (!Number.isFinite(op.value)) return invalid(`Configuration ${op.key} must be a ${type} value`);
    if (op.value <= 0) return invalid(`Configuration ${op.key} must be a positive value`);
    set.set(op.key, op.value);
  }
  return { change: { entity, set, remove } };
}

function describe(entity: QuotaEntity): string {
  return entity.map((e) => `${e.entityType}=${e.entityName ?? '<default>'}`).join(', ');
}

/**
 * AlterClientQuotas (KIP-546): sets or removes producer_byte_rate, consumer_byte_rate, request_percentage and
 * controller_mutation_rate on user, client-id and (user, client-id) entities, and connection_creation_rate on ip
 * entities (KIP-612), null names being the defaults. Each entry is checked on its own; the valid ones are
 * written in one change of the metadata store unless validate_only.
 */
export const alterClientQuotasHandler = defineHandler<AlterClientQuotasRequest, AlterClientQuotasResponse>({
  api: alterClientQuotasApi,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const { broker } = ctx;
    // As in Kafka: ALTER_CONFIGS on the cluster, or every entry CLUSTER_AUTHORIZATION_FAILED.
    if (!authorizeCluster(ctx, AclOperation.ALTER_CONFIGS))
      return {
        throttleTimeMs: 0,
        entries: request.entries.map((entry) => ({
          errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
          errorMessage: null,
          entity: entry.entity.map((e) => ({ entityType: e.entityType, entityName: e.entityName })),
        })),
      };
    const checked = request.entries.map(checkEntry);
    const changes = checked.flatMap((c) => ('change' in c ? [c.change] : []));
    let storeError: { errorCode: number; errorMessage: string } | null = null;
    if (!request.validateOnly && changes.length > 0) {
      try {
        await broker.quotas.apply(changes);
      } catch (e) {
        storeError = metadataStoreError(e) ?? {
          errorCode: ErrorCode.UNKNOWN_SERVER_ERROR,
          errorMessage: (e as Error).message,
        };
      }
    }
    return {
      throttleTimeMs: 0,
      entries: request.entries.map((entry, i) => {
        const c = checked[i]!;
        const entity = entry.entity.map((e) => ({ entityType: e.entityType, entityName: e.entityName }));
        if ('errorCode' in c) return { errorCode: c.errorCode, errorMessage: c.errorMessage, entity };
        if (storeError !== null) return { ...storeError, entity };
        return { errorCode: ErrorCode.NONE, errorMessage: null, entity };
      }),
    };
  },
});
