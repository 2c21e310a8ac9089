import { ErrorCode } from '../../protocol/errors.js';
import type { TransactionWriteCheck } from '../../storage/partition-log.js';
import { TransactionState } from './transaction-log-records.js';
import type { TransactionMetadata } from './transaction-shard.js';

/**
 * Kafka's transaction verification (KIP-890): before a partition's leader takes the first transactional batch of a
 * producer, the transaction coordinator says whether the partition is in that producer's open transaction. A batch
 * the coordinator does not know of would open a transaction in the partition that nobody ends, holding its last
 * stable offset back forever (a hanging transaction).
 */

/** The answer for a batch that may be written; shared, so that the produce path allocates nothing for it. */
const VERIFIED: TransactionWriteCheck = Object.freeze({ errorCode: ErrorCode.NONE, message: null });

/**
 * The coordinator's answer for one partition (Kafka's handleVerifyPartitionsInTransaction): the producer must be
 * the id's current one, at its epoch, with the partition added to a transaction not being completed. The codes are
 * the coordinator's (AddPartitionsToTxn v4+); `produceErrorOf` turns them into a produce error.
 */
export function verifyPartitionInTransaction(
  md: TransactionMetadata | undefined,
  producerId: bigint,
  producerEpoch: number,
  topic: string,
  partition: number,
): number {
  if (!md || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
  if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
  if (md.state === TransactionState.PrepareCommit || md.state === TransactionState.PrepareAbort)
    return ErrorCode.CONCURRENT_TRANSACTIONS;
  // Partitions are in the metadata from their AddPartitions record until the transaction's Complete record.
  return md.partitions.get(topic)?.has(partition) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE;
}

/** Errors of a verification that could not be made: the producer retries the batch (NOT_ENOUGH_REPLICAS). */
const NOT_VERIFIED = new Map<number, string>([
  [ErrorCode.NETWORK_EXCEPTION, 'NETWORK_EXCEPTION'],
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, 'COORDINATOR_LOAD_IN_PROGRESS'],
  [ErrorCode.COORDINATOR_NOT_AVAILABLE, 'COORDINATOR_NOT_AVAILABLE'],
  [ErrorCode.NOT_COORDINATOR, 'NOT_COORDINATOR'],
  [ErrorCode.CONCURRENT_TRANSACTIONS, 'CONCURRENT_TRANSACTIONS'],
]);

/**
 * A verification's outcome as the producer gets it (Kafka's ReplicaManager translation, for produce versions
 * before KIP-890's second part): a fenced producer INVALID_PRODUCER_EPOCH, a partition outside the transaction
 * INVALID_TXN_STATE, and a verification that could not be made NOT_ENOUGH_REPLICAS, which every client retries
 * without refreshing its metadata.
 */
export function produceErrorOf(code: number): TransactionWriteCheck {
  if (code === ErrorCode.NONE) return VERIFIED;
  const underlying = NOT_VERIFIED.get(code);
  if (underlying !== undefined) {
    return {
      errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
      message: `Unable to verify the partition has been added to the transaction. Underlying error: ${underlying}`,
    };
  }
  if (code === ErrorCode.PRODUCER_FENCED) return { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: null };
  if (code === ErrorCode.TRANSACTION_ABORTABLE || code === ErrorCode.INVALID_TXN_STATE)
    return { errorCode: ErrorCode.INVALID_TXN_STATE, message: 'Partition was not added to the transaction' };
  return { errorCode: code, message: null };
}

/**
 * A verification's outcome as a TxnOffsetCommit answers it: one that could not be made COORDINATOR_NOT_AVAILABLE
 * (Kafka's group coordinator turns its NOT_ENOUGH_REPLICAS into that; clients look the coordinator up again and
 * retry), a partition outside the transaction INVALID_TXN_STATE; the others as the coordinator gave them.
 */
export function offsetCommitErrorOf(code: number): number {
  if (NOT_VERIFIED.has(code) && code !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
    return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (code === ErrorCode.TRANSACTION_ABORTABLE) return ErrorCode.INVALID_TXN_STATE;
  return code;
}
