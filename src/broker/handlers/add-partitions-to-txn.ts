import { ErrorCode } from '../../protocol/errors.js';
import { addPartitionsToTxnApi } from '../../protocol/generated/apis/add-partitions-to-txn.js';
import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnRequestAddPartitionsToTxnTopic,
} from '../../protocol/generated/messages/add-partitions-to-txn-request.js';
import type {
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/generated/messages/add-partitions-to-txn-response.js';
import { defineHandler, type RequestContext } from '../api-handler.js';
import { AclOperation, authorize, authorizeCluster, authorizedNames, ResourceType } from '../authorization.js';
import { fencedForVersion } from './transaction-errors.js';

/** AddPartitionsToTxn v2 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 2;
/** Versions 4+ are brokers' (KIP-890): several transactions per request, each maybe only verified. */
const FIRST_BROKER_VERSION = 4;
/** Version 5 is the first whose senders know TRANSACTION_ABORTABLE. */
const FIRST_VERSION_WITH_TRANSACTION_ABORTABLE = 5;

/** One transaction of a request: the client's (v0-3) or one of a broker's (v4+). */
interface TransactionAsked {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  verifyOnly: boolean;
  topics: AddPartitionsToTxnRequestAddPartitionsToTxnTopic[];
}

/**
 * AddPartitionsToTxn: a transactional producer names the partitions it is about to write, so that the
 * coordinator marks them at the end (versions 0-3, the clients'). Versions 4+ are the brokers' (KIP-890): a
 * partition leader about to take a producer's first transactional batch asks whether the partition is in the
 * producer's open transaction (VerifyOnly), for several transactions at once; they need CLUSTER_ACTION on the
 * cluster. A partition that does not exist fails its transaction: UNKNOWN_TOPIC_OR_PARTITION for it and
 * OPERATION_NOT_ATTEMPTED for the others, as in Kafka.
 */
export const addPartitionsToTxnHandler = defineHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>({
  api: addPartitionsToTxnApi,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, request) {
    if (ctx.apiVersion < FIRST_BROKER_VERSION) {
      const results = await answer(ctx, {
        transactionalId: request.v3AndBelowTransactionalId,
        producerId: request.v3AndBelowProducerId,
        producerEpoch: request.v3AndBelowProducerEpoch,
        verifyOnly: false,
        topics: request.v3AndBelowTopics,
      });
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        resultsByTransaction: [],
        resultsByTopicV3AndBelow: results,
      };
    }
    if (!authorizeCluster(ctx, AclOperation.CLUSTER_ACTION)) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        resultsByTransaction: [],
        resultsByTopicV3AndBelow: [],
      };
    }
    const resultsByTransaction = await Promise.all(
      request.transactions.map(async (t) => ({
        transactionalId: t.transactionalId,
        topicResults: await answer(ctx, t),
      })),
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction, resultsByTopicV3AndBelow: [] };
  },
});

/** Each partition's code for one transaction of the request. */
async function answer(
  ctx: RequestContext,
  t: TransactionAsked,
): Promise<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[]> {
  const { apiVersion, broker } = ctx;
  const fromClient = apiVersion < FIRST_BROKER_VERSION;
  const partitions = t.topics.flatMap((topic) => topic.partitions.map((p) => ({ topic: topic.name, partition: p })));
  // Kafka's checks for a client: WRITE on the transactional id (else every partition is refused), then WRITE on
  // each topic; a refused topic fails the request as an unknown partition does. A broker was allowed as a whole.
  const txnAllowed =
    !fromClient || authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, t.transactionalId);
  const writable = fromClient
    ? authorizedNames(
        ctx,
        AclOperation.WRITE,
        ResourceType.TOPIC,
        partitions.map((p) => p.topic),
      )
    : null;
  // Known to the metadata, wherever it is led (the coordinator has the markers sent to its leader).
  const known = (p: { topic: string; partition: number }) =>
    broker.topics.get(p.topic)?.partitions[p.partition]?.partition === p.partition;
  const failed = new Map<string, number>();
  for (const p of partitions) {
    const key = `${p.topic}:${p.partition}`;
    if (!txnAllowed) failed.set(key, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    else if (writable && !writable.has(p.topic)) failed.set(key, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    else if (!known(p)) failed.set(key, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
  let codeOf: (topic: string, partition: number) => number = () => ErrorCode.OPERATION_NOT_ATTEMPTED;
  if (failed.size === 0 && t.verifyOnly) {
    const codes = await broker.transactions.verifyPartitions(
      t.transactionalId,
      t.producerId,
      t.producerEpoch,
      partitions,
    );
    const byPartition = new Map(partitions.map((p, i) => [`${p.topic}:${p.partition}`, codes[i]!]));
    codeOf = (topic, partition) => {
      const code = byPartition.get(`${topic}:${partition}`)!;
      return code === ErrorCode.TRANSACTION_ABORTABLE && apiVersion < FIRST_VERSION_WITH_TRANSACTION_ABORTABLE
        ? ErrorCode.INVALID_TXN_STATE
        : code;
    };
  } else if (failed.size === 0) {
    const added = await broker.transactions.addPartitions(t.transactionalId, t.producerId, t.producerEpoch, partitions);
    const code = fencedForVersion(added, apiVersion, FIRST_VERSION_WITH_PRODUCER_FENCED);
    codeOf = () => code;
  }
  return t.topics.map((topic) => ({
    name: topic.name,
    resultsByPartition: topic.partitions.map((p) => ({
      partitionIndex: p,
      partitionErrorCode: failed.get(`${topic.name}:${p}`) ?? codeOf(topic.name, p),
    })),
  }));
}
