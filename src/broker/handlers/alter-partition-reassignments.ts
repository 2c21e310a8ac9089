import { writeTopic } from '../../cluster/partition-controller.js';
import { cancelReassignment, startReassignment } from '../../cluster/partition-reassignment.js';
import { partitionAssignmentError } from '../../cluster/replica-assignment.js';
import type { PartitionAssignment } from '../../cluster/topic-metadata.js';
import { ErrorCode } from '../../protocol/errors.js';
import { alterPartitionReassignmentsApi } from '../../protocol/generated/apis/alter-partition-reassignments.js';
import type { AlterPartitionReassignmentsRequest } from '../../protocol/generated/messages/alter-partition-reassignments-request.js';
import type {
  AlterPartitionReassignmentsResponse,
  AlterPartitionReassignmentsResponseReassignablePartitionResponse,
} from '../../protocol/generated/messages/alter-partition-reassignments-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import { metadataStoreError } from '../metadata-errors.js';

type PartitionResponse = AlterPartitionReassignmentsResponseReassignablePartitionResponse;

/**
 * AlterPartitionReassignments (KIP-455): starts, replaces or cancels (null replicas) the reassignment of each
 * partition, written compare-and-set by the broker receiving it into the topic record (see
 * cluster/partition-reassignment.ts); the controller completes each move once its new replicas are in the ISR.
 * Replicas are checked as Kafka's controller checks a manual assignment: not empty, no broker twice, every broker
 * registered.
 */
export const alterPartitionReassignmentsHandler = defineHandler<
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponse
>({
  api: alterPartitionReassignmentsApi,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const { broker } = ctx;
    const response: AlterPartitionReassignmentsResponse = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      responses: [],
    };
    // Kafka's check: ALTER on the cluster, else the whole request fails.
    if (!authorizeCluster(ctx, AclOperation.ALTER)) {
      response.errorCode = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
      response.errorMessage = 'Cluster authorization failed.';
      return response;
    }
    const isLive = (nodeId: number) => broker.cluster.isLive(nodeId);
    const live = broker.cluster.ids();
    const log = broker.logger.child('controller');
    for (const t of request.topics) {
      const results = new Map<number, PartitionResponse>();
      const fail = (partitionIndex: number, errorCode: number, errorMessage: string) =>
        results.set(partitionIndex, { partitionIndex, errorCode, errorMessage });
      const changes = new Map<number, number[] | null>();
      for (const p of t.partitions) {
        const error = p.replicas === null ? null : partitionAssignmentError(p.replicas, live, null);
        if (error) fail(p.partitionIndex, ErrorCode.INVALID_REPLICA_ASSIGNMENT, error);
        else changes.set(p.partitionIndex, p.replicas);
      }
      const written: PartitionAssignment[] = [];
      const write = () =>
        changes.size === 0
          ? Promise.resolve('skipped' as const)
          : writeTopic(broker.topics, t.name, (current) => {
              written.length = 0;
              const next = new Map<number, PartitionAssignment>();
              for (const [index, replicas] of changes) {
                const p = current.partitions[index];
                if (p?.partition !== index) {
                  fail(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${t.name}:${index}.`);
                  continue;
                }
                const changed =
                  replicas === null ? cancelReassignment(p, isLive) : startReassignment(p, replicas, isLive);
                if (changed === null) {
                  fail(
                    index,
                    ErrorCode.NO_REASSIGNMENT_IN_PROGRESS,
                    `Unable to find an ongoing reassignment for ${t.name}:${index}.`,
                  );
                  continue;
                }
                results.delete(index);
                next.set(index, changed);
                written.push(changed);
              }
              if (next.size === 0) return null;
              return { ...current, partitions: current.partitions.map((p) => next.get(p.partition) ?? p) };
            });
      let outcome: Awaited<ReturnType<typeof write>> | 'unreachable';
      try {
        outcome = await write();
      } catch (e) {
        const unreachable = metadataStoreError(e);
        if (!unreachable) throw e;
        outcome = 'unreachable';
        for (const index of changes.keys()) fail(index, unreachable.errorCode, unreachable.errorMessage);
      }
      for (const index of changes.keys()) {
        if (outcome === 'missing') fail(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find topic ${t.name}.`);
        else if (outcome === 'busy' && !results.has(index)) {
          fail(index, ErrorCode.REQUEST_TIMED_OUT, 'The topic record kept changing; try again.');
        }
      }
      if (outcome === 'updated') {
        for (const p of written) {
          log.info('partition reassignment changed', {
            topic: t.name,
            partition: p.partition,
            replicas: p.replicas.join(','),
            adding: (p.addingReplicas ?? []).join(','),
            removing: (p.removingReplicas ?? []).join(','),
          });
        }
      }
      response.responses.push({
        name: t.name,
        partitions: t.partitions.map(
          (p) =>
            results.get(p.partitionIndex) ?? {
              partitionIndex: p.partitionIndex,
              errorCode: ErrorCode.NONE,
              errorMessage: null,
            },
        ),
      });
    }
    return response;
  },
});
