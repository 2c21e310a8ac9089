import { ErrorCode } from '../../protocol/errors.js';
import { describeProducersApi } from '../../protocol/generated/apis/describe-producers.js';
import type { DescribeProducersRequest } from '../../protocol/generated/messages/describe-producers-request.js';
import type { DescribeProducersResponse } from '../../protocol/generated/messages/describe-producers-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, ResourceType } from '../authorization.js';

/**
 * DescribeProducers (KIP-664): the idempotent and transactional producers a partition knows: epoch, last
 * sequence and timestamp, coordinator epoch, and the first offset of an open transaction (for finding hanging
 * transactions).
 */
export const describeProducersHandler = defineHandler<DescribeProducersRequest, DescribeProducersResponse>({
  api: describeProducersApi,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's check: READ on each topic.
    const readable = authorizedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          if (!readable.has(t.name))
            return {
              partitionIndex,
              errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
              errorMessage: null,
              activeProducers: [],
            };
          const found = broker.replicas.lookup(t.name, partitionIndex);
          if ('errorCode' in found) {
            return { partitionIndex, errorCode: found.errorCode, errorMessage: null, activeProducers: [] };
          }
          const activeProducers = [...found.log.producerState.activeProducers()].map((p) => ({
            producerId: p.producerId,
            producerEpoch: p.producerEpoch,
            lastSequence: p.batches.at(-1)?.lastSeq ?? -1,
            lastTimestamp: BigInt(p.lastTimestamp),
            coordinatorEpoch: p.coordinatorEpoch,
            currentTxnStartOffset: BigInt(p.currentTxnFirstOffset),
          }));
          return { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers };
        }),
      })),
    };
  },
});
