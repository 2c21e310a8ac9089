import { CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC } from '../../cluster/topic-name.js';
import { listenerNameFor } from '../../config/broker-settings.js';
import { ErrorCode } from '../../protocol/errors.js';
import { findCoordinatorApi } from '../../protocol/generated/apis/find-coordinator.js';
import type { FindCoordinatorRequest } from '../../protocol/generated/messages/find-coordinator-request.js';
import type {
  FindCoordinatorResponse,
  FindCoordinatorResponseCoordinator,
} from '../../protocol/generated/messages/find-coordinator-response.js';
import { type BrokerServices, defineHandler, type RequestContext } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/** FindCoordinatorRequest.KeyType codes. */
const KeyType = { GROUP: 0, TRANSACTION: 1, SHARE: 2 } as const;

async function findOne(ctx: RequestContext, key: string, keyType: number): Promise<FindCoordinatorResponseCoordinator> {
  const { broker, connection } = ctx;
  const found: FindCoordinatorResponseCoordinator = {
    key,
    nodeId: -1,
    host: '',
    port: -1,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
  };
  let coordinator = broker.settings.nodeId;
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
    if (found.errorCode === ErrorCode.NOT_COORDINATOR) {
      coordinator = leaderOf(broker, CONSUMER_OFFSETS_TOPIC, broker.groups.partitionFor(key));
    }
  } else if (keyType === KeyType.TRANSACTION) {
    found.errorCode = await broker.transactions.findCoordinator(key);
    if (found.errorCode === ErrorCode.NOT_COORDINATOR) {
      coordinator = leaderOf(broker, TRANSACTION_STATE_TOPIC, broker.transactions.partitionFor(key));
    }
  } else {
    found.errorCode = ErrorCode.INVALID_REQUEST;
    found.errorMessage = `Unsupported key type ${keyType}`;
  }
  if (found.errorCode === ErrorCode.NOT_COORDINATOR) {
    // Another broker leads the key's partition: the client is sent there, if it is live.
    found.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (coordinator !== broker.settings.nodeId) found.errorCode = ErrorCode.NONE;
  }
  if (found.errorCode === ErrorCode.NONE) {
    const endpoint = broker.cluster.endpoint(
      coordinator,
      listenerNameFor(broker.settings, connection.socket.localPort),
    );
    if (!endpoint) {
      found.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return found;
    }
    found.nodeId = coordinator;
    found.host = endpoint.host;
    found.port = endpoint.port;
  }
  return found;
}

/** The leader of an internal topic's partition as the metadata says, or this broker's id when it is unknown. */
function leaderOf(broker: BrokerServices, topic: string, partition: number): number {
  return broker.topics.get(topic)?.partitions[partition]?.leader ?? broker.settings.nodeId;
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
