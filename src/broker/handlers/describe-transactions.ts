import { TRANSACTION_STATE_NAMES } from '../../coordinator/transaction/transaction-log-records.js';
import { ErrorCode } from '../../protocol/errors.js';
import { describeTransactionsApi } from '../../protocol/generated/apis/describe-transactions.js';
import type { DescribeTransactionsRequest } from '../../protocol/generated/messages/describe-transactions-request.js';
import type { DescribeTransactionsResponse } from '../../protocol/generated/messages/describe-transactions-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';

/** DescribeTransactions (KIP-664): state, producer, timeout, start time and partitions of transactional ids. */
export const describeTransactionsHandler = defineHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>({
  api: describeTransactionsApi,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const { broker } = ctx;
    const transactionStates = [];
    for (const transactionalId of request.transactionalIds) {
      // Kafka's check: DESCRIBE on each transactional id.
      const { errorCode, metadata: md } = authorize(
        ctx,
        AclOperation.DESCRIBE,
        ResourceType.TRANSACTIONAL_ID,
        transactionalId,
      )
        ? await broker.transactions.describe(transactionalId)
        : { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, metadata: null };
      transactionStates.push({
        errorCode,
        transactionalId,
        transactionState: md ? TRANSACTION_STATE_NAMES[md.state] : '',
        transactionTimeoutMs: md?.timeoutMs ?? 0,
        transactionStartTimeMs: BigInt(md?.startTimestamp ?? -1),
        producerId: md?.producerId ?? -1n,
        producerEpoch: md?.producerEpoch ?? -1,
        topics: md ? [...md.partitions].map(([topic, ids]) => ({ topic, partitions: [...ids] })) : [],
      });
    }
    return { throttleTimeMs: 0, transactionStates };
  },
});
