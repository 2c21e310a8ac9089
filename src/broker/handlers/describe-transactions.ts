import { TRANSACTION_STATE_NAMES } from '../../coordinator/transaction/transaction-log-records.js';
import { describeTransactionsApi } from '../../protocol/generated/apis/describe-transactions.js';
import type { DescribeTransactionsRequest } from '../../protocol/generated/messages/describe-transactions-request.js';
import type { DescribeTransactionsResponse } from '../../protocol/generated/messages/describe-transactions-response.js';
import { defineHandler } from '../api-handler.js';

/** DescribeTransactions (KIP-664): state, producer, timeout, start time and partitions of transactional ids. */
export const describeTransactionsHandler = defineHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>({
  api: describeTransactionsApi,
  minVersion: 0,
  maxVersion: 0,
  async handle({ broker }, request) {
    const transactionStates = [];
    for (const transactionalId of request.transactionalIds) {
      const { errorCode, metadata: md } = await broker.transactions.describe(transactionalId);
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
