import { ErrorCode } from '../../protocol/errors.js';
import { apis, type InitProducerIdRequest, type InitProducerIdResponse } from '../../protocol/generated/index.js';
import { defineHandler } from '../api-handler.js';

/**
 * InitProducerId: gives an idempotent producer (no transactional id) a new producer id at epoch 0, as Kafka
 * does whatever id and epoch the request carries (KIP-360's fields only matter with a transactional id).
 * Transactional producers are answered by the transaction coordinator.
 */
export const initProducerIdHandler = defineHandler<InitProducerIdRequest, InitProducerIdResponse>({
  api: apis.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker }, request) {
    const answer = (errorCode: number, producerId = -1n, producerEpoch = -1): InitProducerIdResponse => ({
      throttleTimeMs: 0,
      errorCode,
      producerId,
      producerEpoch,
    });
    if (request.transactionalId === null) return answer(ErrorCode.NONE, await broker.producerIds.nextProducerId(), 0);
    if (request.transactionalId === '') return answer(ErrorCode.INVALID_REQUEST);
    return answer(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  },
});
