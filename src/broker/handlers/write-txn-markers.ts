import { CONSUMER_OFFSETS_TOPIC } from '../../cluster/topic-name.js';
import { ErrorCode } from '../../protocol/errors.js';
import { writeTxnMarkersApi } from '../../protocol/generated/apis/write-txn-markers.js';
import type { WriteTxnMarkersRequest } from '../../protocol/generated/messages/write-txn-markers-request.js';
import type { WriteTxnMarkersResponse } from '../../protocol/generated/messages/write-txn-markers-response.js';
import { type BrokerServices, defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import { appendMarkerAsLeader } from '../marker-append.js';

/**
 * WriteTxnMarkers: writes COMMIT or ABORT markers for a producer's transaction in partitions led here. It comes
 * from a transaction coordinator on another broker of the cluster (as Kafka's TransactionMarkerChannelManager
 * sends it), or from an operator aborting a hanging transaction (`kafka-transactions.sh abort`, KIP-664); a
 * coordinator's markers for partitions led here are written in-process. A marker from an older producer epoch or
 * coordinator epoch than the partition has seen is refused, as in Kafka. Under an authorizer the sender needs
 * ALTER or CLUSTER_ACTION on the cluster (brokers are usually super users), else CLUSTER_AUTHORIZATION_FAILED.
 */
export const writeTxnMarkersHandler = defineHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>({
  api: writeTxnMarkersApi,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, request) {
    const { broker } = ctx;
    // With an authorizer, as Kafka: ALTER on the cluster (an operator aborting a hanging transaction, KIP-664),
    // else CLUSTER_ACTION (the brokers).
    const allowed = authorizeCluster(ctx, AclOperation.ALTER) || authorizeCluster(ctx, AclOperation.CLUSTER_ACTION);
    // Every marker is appended at once (in the request's order) and each waits for its own in-sync replicas, as
    // Kafka's appendRecords with acks=all: one partition short of replicas holds up no other.
    const markers = await Promise.all(
      request.markers.map(async (marker) => ({
        producerId: marker.producerId,
        topics: await Promise.all(
          marker.topics.map(async (t) => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitionIndexes.map(async (partitionIndex) => ({
                partitionIndex,
                errorCode: allowed
                  ? await writeMarker(broker, marker, t.name, partitionIndex)
                  : ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
              })),
            ),
          })),
        ),
      })),
    );
    return { markers };
  },
});

async function writeMarker(
  broker: BrokerServices,
  marker: WriteTxnMarkersRequest['markers'][number],
  topic: string,
  partition: number,
): Promise<number> {
  const found = broker.replicas.lookup(topic, partition);
  if ('errorCode' in found) return found.errorCode;
  // As Kafka: acks=all, honouring the topic's min.insync.replicas (the coordinator retries what is refused).
  const errorCode = await appendMarkerAsLeader(broker, found, {
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    coordinatorEpoch: marker.coordinatorEpoch,
    aborted: !marker.transactionResult,
  });
  if (errorCode !== ErrorCode.NONE) return errorCode;
  // Transactional offsets of a group settle with the marker, as after the coordinator's own markers.
  if (topic === CONSUMER_OFFSETS_TOPIC)
    broker.groups.completeTransaction(partition, marker.producerId, marker.transactionResult);
  return ErrorCode.NONE;
}
