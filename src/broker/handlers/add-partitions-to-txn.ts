import { ErrorCode } from '../../protocol/errors.js';
import { addPartitionsToTxnApi } from '../../protocol/generated/apis/add-partitions-to-txn.js';
import type { AddPartitionsToTxnRequest } from '../../protocol/generated/messages/add-partitions-to-txn-request.js';
import type {
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/generated/messages/add-partitions-to-txn-response.js';
import { defineHandler } from '../api-handler.js';
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
  async handle({ apiVersion, broker }, request) {
    const partitions = request.v3AndBelowTopics.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.name, partition: p })),
    );
    // Known to the metadata, wherever it is led (the coordinator has the markers sent to its leader).
    const unknown = new Set(
      partitions
        .filter((p) => broker.topics.get(p.topic)?.partitions[p.partition]?.partition !== p.partition)
        .map((p) => `${p.topic}:${p.partition}`),
    );
    let errorCode = ErrorCode.OPERATION_NOT_ATTEMPTED as number;
    if (unknown.size === 0) {
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
        partitionErrorCode: unknown.has(`${t.name}:${p}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : errorCode,
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
