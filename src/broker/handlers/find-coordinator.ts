import { advertisedFor } from '../../config/broker-settings.js';
import { ErrorCode } from '../../protocol/errors.js';
import { findCoordinatorApi } from '../../protocol/generated/apis/find-coordinator.js';
import type { FindCoordinatorRequest } from '../../protocol/generated/messages/find-coordinator-request.js';
import type {
  FindCoordinatorResponse,
  FindCoordinatorResponseCoordinator,
} from '../../protocol/generated/messages/find-coordinator-response.js';
import { defineHandler, type RequestContext } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/** FindCoordinatorRequest.KeyType codes. */
const KeyType = { GROUP: 0, TRANSACTION: 1, SHARE: 2 } as const;

async function findOne(ctx: RequestContext, key: string, keyType: number): Promise<FindCoordinatorResponseCoordinator> {
  const { broker, connection } = ctx;
  const { settings } = broker;
  const found: FindCoordinatorResponseCoordinator = {
    key,
    nodeId: -1,
    host: '',
    port: -1,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
  };
  // Kafka's checks: DESCRIBE on the group or the transactional id, before the coordinator is looked for.
  if (keyType === KeyType.GROUP && !authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, key)) {
    found.errorCode = ErrorCode.GROUP_AUTHORIZATION_FAILED;
  } else if (
    keyType === KeyType.TRANSACTION &&
    !authorize(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key)
  ) {
    found.errorCode = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  } else if (keyType === KeyType.GROUP) {
    found.errorCode = await broker.groups.findCoordinator(key);
  } else if (keyType === KeyType.TRANSACTION) {
    found.errorCode = await broker.transactions.findCoordinator(key);
  } else {
    found.errorCode = ErrorCode.INVALID_REQUEST;
    found.errorMessage = `Unsupported key type ${keyType}`;
  }
  if (found.errorCode === ErrorCode.NONE) {
    found.nodeId = settings.nodeId;
    const { host, port } = advertisedFor(settings, connection.socket.localPort);
    found.host = host;
    found.port = port;
  }
  return found;
}

/**
 * FindCoordinator: the broker that leads the group's partition of `__consumer_offsets` (created on first use).
 * v4+ answers a batch of keys (KIP-699).
 */
export const findCoordinatorHandler = defineHandler<FindCoordinatorRequest, FindCoordinatorResponse>({
  api: findCoordinatorApi,
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, request) {
    const { apiVersion } = ctx;
    const keyType = apiVersion >= 1 ? request.keyType : KeyType.GROUP;
    if (apiVersion >= 4) {
      const coordinators = [];
      for (const key of request.coordinatorKeys) coordinators.push(await findOne(ctx, key, keyType));
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        nodeId: 0,
        host: '',
        port: 0,
        coordinators,
      };
    }
    const one = await findOne(ctx, request.key, keyType);
    return {
      throttleTimeMs: 0,
      errorCode: one.errorCode,
      errorMessage: apiVersion >= 1 ? one.errorMessage : null,
      nodeId: one.nodeId,
      host: one.host,
      port: one.port,
      coordinators: [],
    };
  },
});
