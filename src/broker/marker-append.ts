import type { BrokerSettings } from '../config/broker-settings.js';
import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { LogOfflineError, type TransactionMarkerAppend } from '../storage/partition-log.js';
import { ProducerStateError } from '../storage/producer-state.js';
import type { PartitionLookup, ReplicaManager } from './replica-manager.js';
import { produceSettings } from './topic-settings.js';

/** Kafka's request.timeout.ms: how long a marker waits for the in-sync replicas. */
export const MARKER_REPLICATION_TIMEOUT_MS = 30_000;

export interface MarkerAppendContext {
  replicas: Pick<ReplicaManager, 'waitForHighWatermark'>;
  settings: BrokerSettings;
  logger: Logger;
}

/**
 * Writes a COMMIT or ABORT marker to a partition led here as Kafka writes markers (ReplicaManager.appendRecords
 * with acks=all from the coordinator): refused with NOT_ENOUGH_REPLICAS while the ISR is smaller than the
 * topic's `min.insync.replicas`, and acknowledged only once the in-sync replicas have it (the high watermark
 * passed it), NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below the minimum meanwhile, REQUEST_TIMED_OUT
 * after `MARKER_REPLICATION_TIMEOUT_MS`, NOT_LEADER_OR_FOLLOWER when the leadership moved. The coordinator
 * sends a marker again after any of them; none is acknowledged early. The log refuses a marker from an older
 * producer or coordinator epoch (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED). Returns the
 * partition's error code, as WriteTxnMarkers answers it.
 */
export async function appendMarkerAsLeader(
  context: MarkerAppendContext,
  found: Exclude<PartitionLookup, { errorCode: number }>,
  marker: TransactionMarkerAppend,
): Promise<number> {
  const { log, topic, assignment } = found;
  const minInsyncReplicas = produceSettings(topic, context.settings).minInsyncReplicas;
  if (assignment.isr.length < minInsyncReplicas) return ErrorCode.NOT_ENOUGH_REPLICAS;
  let endOffset: number;
  try {
    const result = await log.appendMarker(marker, { sync: context.settings.flushOnAcksAll });
    endOffset = result.lastOffset + 1;
  } catch (error) {
    if (error instanceof ProducerStateError) return error.errorCode;
    if (!(error instanceof LogOfflineError))
      context.logger.error('could not write a transaction marker', {
        topic: log.topic,
        partition: log.partition,
        error: error as Error,
      });
    return ErrorCode.KAFKA_STORAGE_ERROR;
  }
  if (!log.isReplicated) return ErrorCode.NONE;
  return context.replicas.waitForHighWatermark(log, endOffset, minInsyncReplicas, MARKER_REPLICATION_TIMEOUT_MS);
}
