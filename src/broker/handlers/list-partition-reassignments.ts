import { isReassigning } from '../../cluster/partition-reassignment.js';
import type { TopicRecord } from '../../cluster/topic-metadata.js';
import { ErrorCode } from '../../protocol/errors.js';
import { listPartitionReassignmentsApi } from '../../protocol/generated/apis/list-partition-reassignments.js';
import type { ListPartitionReassignmentsRequest } from '../../protocol/generated/messages/list-partition-reassignments-request.js';
import type {
  ListPartitionReassignmentsResponse,
  ListPartitionReassignmentsResponseOngoingTopicReassignment,
} from '../../protocol/generated/messages/list-partition-reassignments-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';

/**
 * ListPartitionReassignments (KIP-455): the reassignments in progress, from the topic records; all of them for a
 * null topic list, else those of the partitions named (topics and partitions that do not exist are left out, as
 * Kafka does).
 */
export const listPartitionReassignmentsHandler = defineHandler<
  ListPartitionReassignmentsRequest,
  ListPartitionReassignmentsResponse
>({
  api: listPartitionReassignmentsApi,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx, request) {
    const { broker } = ctx;
    const response: ListPartitionReassignmentsResponse = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      topics: [],
    };
    // Kafka's check: DESCRIBE on the cluster.
    if (!authorizeCluster(ctx, AclOperation.DESCRIBE)) {
      response.errorCode = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
      response.errorMessage = 'Cluster authorization failed.';
      return response;
    }
    const asked: Array<{ topic: TopicRecord; partitions: number[] | null }> = [];
    if (request.topics === null) {
      for (const topic of broker.topics.all()) asked.push({ topic, partitions: null });
    } else {
      for (const t of request.topics) {
        const topic = broker.topics.get(t.name);
        if (topic) asked.push({ topic, partitions: t.partitionIndexes });
      }
    }
    for (const { topic, partitions } of asked) {
      const entry: ListPartitionReassignmentsResponseOngoingTopicReassignment = { name: topic.name, partitions: [] };
      for (const p of topic.partitions) {
        if (!isReassigning(p) || (partitions !== null && !partitions.includes(p.partition))) continue;
        entry.partitions.push({
          partitionIndex: p.partition,
          replicas: p.replicas,
          addingReplicas: p.addingReplicas ?? [],
          removingReplicas: p.removingReplicas ?? [],
        });
      }
      if (entry.partitions.length > 0) response.topics.push(entry);
    }
    return response;
  },
});
