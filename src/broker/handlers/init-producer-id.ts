import { ErrorCode } from '../../protocol/errors.js';
import { initProducerIdApi } from '../../protocol/generated/apis/init-producer-id.js';
import type { InitProducerIdRequest } from '../../protocol/generated/messages/init-producer-id-request.js';
import type { InitProducerIdResponse } from '../../protocol/generated/messages/init-producer-id-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizeCluster, identityOf, ResourceType } from '../authorization.js';
import { metadataStoreError } from '../metadata-errors.js';
import { fencedForVersion } from './transaction-errors.js';

/** InitProducerId v4 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 4;

/**
 * InitProducerId: an idempotent producer (no transactional id) gets a new producer id at epoch 0, whatever id
 * and epoch the request carries, as in Kafka. A transactional producer is answered by the transaction
 * coordinator: its id's producer id with a new epoch, fencing older instances.
 */
export const initProducerIdHandler = defineHandler<InitProducerIdRequest, InitProducerIdResponse>({
  api: initProducerIdApi,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    const answer = (errorCode: number, producerId = -1n, producerEpoch = -1): InitProducerIdResponse => ({
      throttleTimeMs: 0,
      errorCode: fencedForVersion(errorCode, apiVersion, FIRST_VERSION_WITH_PRODUCER_FENCED),
      producerId,
      producerEpoch,
    });
    // Kafka's checks: WRITE on the transactional id; an idempotent producer needs IDEMPOTENT_WRITE on the cluster
    // or WRITE on some topic (KIP-679).
    if (broker.authorizer !== null) {
      if (request.transactionalId !== null) {
        if (!authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
          return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      } else if (
        !authorizeCluster(ctx, AclOperation.IDEMPOTENT_WRITE) &&
        !broker.authorizer.authorizeByResourceType(identityOf(ctx.connection), AclOperation.WRITE, ResourceType.TOPIC)
      )
        return answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    }
    if (request.transactionalId === null) {
      try {
        return answer(ErrorCode.NONE, await broker.producerIds.nextProducerId(), 0);
      } catch (e) {
        // No block of ids to hand out while etcd is out of reach: retriable, as Kafka's broker answers while its
        // producer id block has not come from the controller yet.
        if (metadataStoreError(e)) return answer(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
        throw e;
      }
    }
    if (request.transactionalId === '') return answer(ErrorCode.INVALID_REQUEST);
    const expected =
      apiVersion >= 3
        ? { producerId: request.producerId, producerEpoch: request.producerEpoch }
        : { producerId: -1n, producerEpoch: -1 };
    const result = await broker.transactions.initProducerId(
      request.transactionalId,
      request.transactionTimeoutMs,
      expected,
    );
    return answer(result.errorCode, result.producerId, result.producerEpoch);
  },
});
