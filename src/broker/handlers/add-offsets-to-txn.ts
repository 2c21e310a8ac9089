import { CONSUMER_OFFSETS_TOPIC } from '../../cluster/topic-name.js';
import { ErrorCode } from '../../protocol/errors.js';
import { addOffsetsToTxnApi } from '../../protocol/generated/apis/add-offsets-to-txn.js';
import type { AddOffsetsToTxnRequest } from '../../protocol/generated/messages/add-offsets-to-txn-request.js';
import type { AddOffsetsToTxnResponse } from '../../protocol/generated/messages/add-offsets-to-txn-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';
import { fencedForVersion } from './transaction-errors.js';

/** AddOffsetsToTxn v2 is the first whose clients know PRODUCER_FENCED. */
const FIRST_VERSION_WITH_PRODUCER_FENCED = 2;

/**
 * AddOffsetsToTxn: the transaction will commit a group's offsets (TxnOffsetCommit follows), so the group's
 * partition of `__consumer_offsets` joins the transaction and gets its marker at the end.
 */
export const addOffsetsToTxnHandler = defineHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>({
  api: addOffsetsToTxnApi,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's checks: WRITE on the transactional id, READ on the group.
    if (!authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    if (!authorize(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const partition = broker.groups.partitionFor(request.groupId);
    const errorCode = await broker.transactions.addPartitions(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      [{ topic: CONSUMER_OFFSETS_TOPIC, partition }],
    );
    return {
      throttleTimeMs: 0,
      errorCode: fencedForVersion(errorCode, apiVersion, FIRST_VERSION_WITH_PRODUCER_FENCED),
    };
  },
});
