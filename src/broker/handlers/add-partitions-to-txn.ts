import { ErrorCode } from '../../protocol/errors.js';
import { addPartitionsToTxnApi } from '../../protocol/generated/apis/add-partitions-to-txn.js';
import type { AddPartitionsToTxnRequest } from '../../protocol/generated/messages/add-partitions-to-txn-request.js';
import type {
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/generated/messages/add-partitions-to-txn-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizedNames, ResourceType } from '../authorization.js';
import { fencedForVersion } from './transaction-errors.js';

/** AddPartitionsToTxn v2 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 2;

/**
 * AddPartitionsToTxn: a transactional producer names the partitions it is about to write, so that the
 * coordinator marks them at the end. Versions 0-3 are the clients' (v4+ are Kafka's broker-to-broker
 * verification, which a single broker does not need). A partition that does not exist fails the request:
 * UNKNOWN_TOPIC_OR_PARTITION for it and OPERATION_NOT_ATTEMPTED for the others, as in Kafka.
 */
export const addPartitionsToTxnHandler = defineHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>({
  api: addPartitionsToTxnApi,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    const partitions = request.v3AndBelowTopics.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.name, partition: p })),
    );
    // Kafka's checks: WRITE on the transactional id (else every partition is refused), then WRITE on each topic;
    // a refused topic fails the request as an unknown partition does.
    const txnAllowed = authorize(
      ctx,
      AclOperation.WRITE,
      ResourceType.TRANSACTIONAL_ID,
      request.v3AndBelowTransactionalId,
    );
    // Known to the metadata, wherever it is led (the coordinator has the markers sent to its leader).
    const unknown = new Set(
      partitions
        .filter((p) => broker.topics.get(p.topic)?.partitions[p.partition]?.partition !== p.partition)
        .map((p) => `${p.topic}:${p.partition}`),
    );
    const writable = authorizedNames(
      ctx,
      AclOperation.WRITE,
      ResourceType.TOPIC,
      partitions.map((p) => p.topic),
    );
    const failed = new Map<string, number>();
    for (const p of partitions) {
      const key = `${p.topic}:${p.partition}`;
      if (!txnAllowed) failed.set(key, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      else if (!writable.has(p.topic)) failed.set(key, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      else if (unknown.has(key)) failed.set(key, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    }
    let errorCode = ErrorCode.OPERATION_NOT_ATTEMPTED as number;
    if (failed.size === 0) {
      errorCode = fencedForVersion(
        await broker.transactions.addPartitions(
          request.v3AndBelowTransactionalId,
          request.v3AndBelowProducerId,
          request.v3AndBelowProducerEpoch,
          partitions,
        ),
        apiVersion,
        FIRST_VERSION_WITH_PRODUCER_FENCED,
      );
    }
    const results: AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[] = request.v3AndBelowTopics.map((t) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((p) => ({
        partitionIndex: p,
        partitionErrorCode: failed.get(`${t.name}:${p}`) ?? errorCode,
      })),
    }));
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      resultsByTransaction: [],
      resultsByTopicV3AndBelow: results,
    };
  },
});
