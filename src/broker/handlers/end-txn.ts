import { ErrorCode } from '../../protocol/errors.js';
import { endTxnApi } from '../../protocol/generated/apis/end-txn.js';
import type { EndTxnRequest } from '../../protocol/generated/messages/end-txn-request.js';
import type { EndTxnResponse } from '../../protocol/generated/messages/end-txn-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';
import { fencedForVersion } from './transaction-errors.js';

/** EndTxn v2 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 2;

/** EndTxn: commits or aborts the producer's transaction (markers are written before the answer). */
export const endTxnHandler = defineHandler<EndTxnRequest, EndTxnResponse>({
  api: endTxnApi,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's check: WRITE on the transactional id.
    if (!authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    const errorCode = await broker.transactions.endTransaction(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.committed,
    );
    return {
      throttleTimeMs: 0,
      errorCode: fencedForVersion(errorCode, apiVersion, FIRST_VERSION_WITH_PRODUCER_FENCED),
    };
  },
});
