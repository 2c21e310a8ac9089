import { CONSUMER_OFFSETS_TOPIC } from '../../cluster/topic-name.js';
import { ErrorCode } from '../../protocol/errors.js';
import { writeTxnMarkersApi } from '../../protocol/generated/apis/write-txn-markers.js';
import type { WriteTxnMarkersRequest } from '../../protocol/generated/messages/write-txn-markers-request.js';
import type {
  WriteTxnMarkersResponse,
  WriteTxnMarkersResponseWritableTxnMarkerPartitionResult,
} from '../../protocol/generated/messages/write-txn-markers-response.js';
import { ProducerStateError } from '../../storage/producer-state.js';
import { defineHandler } from '../api-handler.js';

/**
 * WriteTxnMarkers (broker to broker): a transaction coordinator on another broker has the commit or abort marker
 * of a transaction written to the partitions led here, as Kafka's TransactionMarkerChannelManager does. Each
 * marker is appended by the partition's log (which checks the producer's epoch and the coordinator epoch); a
 * marker in `__consumer_offsets` also settles the transaction's offsets in the group coordinator.
 */
export const writeTxnMarkersHandler = defineHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>({
  api: writeTxnMarkersApi,
  minVersion: 0,
  maxVersion: 1,
  async handle({ broker }, request) {
    const sync = broker.settings.flushOnAcksAll;
    const markers = await Promise.all(
      request.markers.map(async (marker) => ({
        producerId: marker.producerId,
        topics: await Promise.all(
          marker.topics.map(async (t) => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitionIndexes.map(async (partitionIndex) => {
                const result: WriteTxnMarkersResponseWritableTxnMarkerPartitionResult = {
                  partitionIndex,
                  errorCode: ErrorCode.NONE,
                };
                const found = broker.replicas.lookup(t.name, partitionIndex);
                if ('errorCode' in found) {
                  result.errorCode = found.errorCode;
                  return result;
                }
                try {
                  await found.log.appendMarker(
                    {
                      producerId: marker.producerId,
                      producerEpoch: marker.producerEpoch,
                      coordinatorEpoch: marker.coordinatorEpoch,
                      aborted: !marker.transactionResult,
                    },
                    { sync },
                  );
                  if (t.name === CONSUMER_OFFSETS_TOPIC) {
                    broker.groups.completeTransaction(partitionIndex, marker.producerId, marker.transactionResult);
                  }
                } catch (error) {
                  if (error instanceof ProducerStateError) result.errorCode = error.errorCode;
                  else {
                    broker.logger.error('transaction marker not written', {
                      topic: t.name,
                      partition: partitionIndex,
                      error: error as Error,
                    });
                    result.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
                  }
                }
                return result;
              }),
            ),
          })),
        ),
      })),
    );
    return { markers };
  },
});
