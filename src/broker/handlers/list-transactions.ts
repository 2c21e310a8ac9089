import { TRANSACTION_STATE_NAMES } from '../../coordinator/transaction/transaction-log-records.js';
import { ErrorCode } from '../../protocol/errors.js';
import { listTransactionsApi } from '../../protocol/generated/apis/list-transactions.js';
import type { ListTransactionsRequest } from '../../protocol/generated/messages/list-transactions-request.js';
import type { ListTransactionsResponse } from '../../protocol/generated/messages/list-transactions-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

const KNOWN_STATES = new Set(Object.values(TRANSACTION_STATE_NAMES));

/**
 * ListTransactions (KIP-664): the transactional ids this broker coordinates, filtered by state and producer id,
 * and (v1, KIP-994) by having run longer than duration_filter ms. Unknown state names are echoed back.
 */
export const listTransactionsHandler = defineHandler<ListTransactionsRequest, ListTransactionsResponse>({
  api: listTransactionsApi,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    const states = new Set(request.stateFilters);
    const producerIds = new Set(request.producerIdFilters);
    const minDurationMs = apiVersion >= 1 ? Number(request.durationFilter) : -1;
    const now = Date.now();
    const transactionStates = [];
    for (const md of broker.transactions.list()) {
      const state = TRANSACTION_STATE_NAMES[md.state];
      if (states.size > 0 && !states.has(state)) continue;
      if (producerIds.size > 0 && !producerIds.has(md.producerId)) continue;
      if (minDurationMs >= 0 && (md.startTimestamp < 0 || now - md.startTimestamp < minDurationMs)) continue;
      // Kafka lists only the transactional ids the principal may DESCRIBE.
      if (!authorize(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, md.transactionalId)) continue;
      transactionStates.push({
        transactionalId: md.transactionalId,
        producerId: md.producerId,
        transactionState: state,
      });
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      unknownStateFilters: request.stateFilters.filter((s) => !KNOWN_STATES.has(s)),
      transactionStates,
    };
  },
});
