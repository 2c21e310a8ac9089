import { CONSUMER_OFFSETS_TOPIC } from '../../cluster/topic-name.js';
import { ErrorCode } from '../../protocol/errors.js';
import { writeTxnMarkersApi } from '../../protocol/generated/apis/write-txn-markers.js';
import type { WriteTxnMarkersRequest } from '../../protocol/generated/messages/write-txn-markers-request.js';
import type { WriteTxnMarkersResponse } from '../../protocol/generated/messages/write-txn-markers-response.js';
import { LogOfflineError } from '../../storage/partition-log.js';
import { ProducerStateError } from '../../storage/producer-state.js';
import { type BrokerServices, defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';

/**
 * WriteTxnMarkers: writes COMMIT or ABORT markers for a producer's transaction in partitions led here. It comes
 * from a transaction coordinator on another broker of the cluster (as Kafka's TransactionMarkerChannelManager
 * sends it), or from an operator aborting a hanging transaction (`kafka-transactions.sh abort`, KIP-664); a
 * coordinator's markers for partitions led here are written in-process. A marker from an older producer epoch or
 * coordinator epoch than the partition has seen is refused, as in Kafka. Under an authorizer the sender needs
 * CLUSTER_ACTION on the cluster (brokers are usually super users), else CLUSTER_AUTHORIZATION_FAILED.
 */
export const writeTxnMarkersHandler = defineHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>({
  api: writeTxnMarkersApi,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const { broker } = ctx;
    // With an authorizer, only principals with CLUSTER_ACTION (brokers, operators) may write markers.
    const allowed = authorizeCluster(ctx, AclOperation.CLUSTER_ACTION);
    const markers = [];
    for (const marker of request.markers) {
      const topics = [];
      for (const t of marker.topics) {
        const partitions = [];
        for (const partitionIndex of t.partitionIndexes) {
          const errorCode = allowed
            ? await writeMarker(broker, marker, t.name, partitionIndex)
            : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
          partitions.push({ partitionIndex, errorCode });
        }
        topics.push({ name: t.name, partitions });
      }
      markers.push({ producerId: marker.producerId, topics });
    }
    return { markers };
  },
});

/** Kafka's request.timeout.ms: how long a marker waits for the in-sync replicas. */
const MARKER_REPLICATION_TIMEOUT_MS = 30_000;

async function writeMarker(
  broker: BrokerServices,
  marker: WriteTxnMarkersRequest['markers'][number],
  topic: string,
  partition: number,
): Promise<number> {
  const found = broker.replicas.lookup(topic, partition);
  if ('errorCode' in found) return found.errorCode;
  let endOffset: number;
  try {
    // The log refuses a marker from an older producer or coordinator epoch (ProducerStateError).
    const result = await found.log.appendMarker(
      {
        producerId: marker.producerId,
        producerEpoch: marker.producerEpoch,
        coordinatorEpoch: marker.coordinatorEpoch,
        aborted: !marker.transactionResult,
      },
      { sync: broker.settings.flushOnAcksAll },
    );
    endOffset = result.lastOffset + 1;
  } catch (error) {
    if (error instanceof ProducerStateError) return error.errorCode;
    if (!(error instanceof LogOfflineError))
      broker.logger.error('could not write a transaction marker', { topic, partition, error: error as Error });
    return ErrorCode.KAFKA_STORAGE_ERROR;
  }
  // Kafka writes markers with acks=all: on a replicated partition the answer waits for the ISR (the coordinator
  // retries a marker not acknowledged).
  if (found.log.isReplicated) {
    const errorCode = await broker.replicas.waitForHighWatermark(
      found.log,
      endOffset,
      1,
      MARKER_REPLICATION_TIMEOUT_MS,
    );
    if (errorCode !== ErrorCode.NONE) return errorCode;
  }
  // Transactional offsets of a group settle with the marker, as after the coordinator's own markers.
  if (topic === CONSUMER_OFFSETS_TOPIC)
    broker.groups.completeTransaction(partition, marker.producerId, marker.transactionResult);
  return ErrorCode.NONE;
}
