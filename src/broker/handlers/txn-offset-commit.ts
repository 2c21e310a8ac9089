import { ErrorCode } from '../../protocol/errors.js';
import { txnOffsetCommitApi } from '../../protocol/generated/apis/txn-offset-commit.js';
import type { TxnOffsetCommitRequest } from '../../protocol/generated/messages/txn-offset-commit-request.js';
import type { TxnOffsetCommitResponse } from '../../protocol/generated/messages/txn-offset-commit-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizedNames, ResourceType } from '../authorization.js';
import { commitAnswer, commitPartitions, errorsWithRefusals } from './offset-commit.js';
import { fencedForVersion } from './transaction-errors.js';

/** TxnOffsetCommit v3 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 3;

/**
 * TxnOffsetCommit: a transactional producer commits a group's offsets as part of its transaction (the
 * consume-transform-produce loop); they take effect when the transaction commits. The producer must be the
 * current one of an open transaction (checked with the transaction coordinator, so that no pending offsets are
 * left behind by a fenced producer). v3+ (KIP-447) names the consumer's member and generation.
 */
export const txnOffsetCommitHandler = defineHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse>({
  api: txnOffsetCommitApi,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    const answer = (errorOf: (i: number) => number): TxnOffsetCommitResponse =>
      commitAnswer(request.topics, (i) => fencedForVersion(errorOf(i), apiVersion, FIRST_VERSION_WITH_PRODUCER_FENCED));
    // Kafka's checks: WRITE on the transactional id, READ on the group (each refusing every partition), READ on
    // each topic (a refused topic's partitions are not committed).
    if (!authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
      return answer(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return answer(() => ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const readable = authorizedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const committed = request.topics.filter((t) => readable.has(t.name));
    if (committed.length === 0 && request.topics.length > 0) return answer(() => ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const txnError = await broker.transactions.offsetCommitError(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      broker.groups.partitionFor(request.groupId),
    );
    if (txnError !== ErrorCode.NONE) return answer(() => txnError);
    const member =
      apiVersion >= 3
        ? { generationId: request.generationId, memberId: request.memberId, groupInstanceId: request.groupInstanceId }
        : { generationId: -1, memberId: '', groupInstanceId: null };
    const result = await broker.groups.commitTransactionalOffsets(
      request.groupId,
      request.producerId,
      request.producerEpoch,
      member,
      commitPartitions(committed, true),
    );
    return answer(errorsWithRefusals(request.topics, readable, result));
  },
});
