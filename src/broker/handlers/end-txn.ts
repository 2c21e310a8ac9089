import { apis, type EndTxnRequest, type EndTxnResponse } from '../../protocol/generated/index.js';
import { defineHandler } from '../api-handler.js';
import { fencedForVersion } from './transaction-errors.js';

/** EndTxn v2 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 2;

/** EndTxn: commits or aborts the producer's transaction (markers are written before the answer). */
export const endTxnHandler = defineHandler<EndTxnRequest, EndTxnResponse>({
  api: apis.EndTxn,
  minVersion: 0,
  maxVersion: 4,
  async handle({ apiVersion, broker }, request) {
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
