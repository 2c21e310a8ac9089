import { partitionAssignmentError } from '../../cluster/replica-assignment.js';
import { type PlacementBroker, placeReplicas } from '../../cluster/replica-placement.js';
import { assignedPartition, MAX_PARTITIONS_PER_TOPIC, type TopicRecord } from '../../cluster/topic-metadata.js';
import { ErrorCode } from '../../protocol/errors.js';
import { createPartitionsApi } from '../../protocol/generated/apis/create-partitions.js';
import type { CreatePartitionsRequest } from '../../protocol/generated/messages/create-partitions-request.js';
import type {
  CreatePartitionsResponse,
  CreatePartitionsResponseCreatePartitionsTopicResult,
} from '../../protocol/generated/messages/create-partitions-response.js';
import { defineHandler, markRepeats } from '../api-handler.js';
import { AclOperation, authorizedNames, ResourceType } from '../authorization.js';
import { controllerMutationQuota, THROTTLING_QUOTA_EXCEEDED_MESSAGE } from '../controller-mutation-quota.js';
import { metadataStoreError } from '../metadata-errors.js';
import { type PartitionReservation, reservePartitions } from '../partition-limit.js';
import { liveBrokers } from './create-topics.js';

/**
 * Why the replicas given for the new partitions are refused, or null. Each list is checked as Kafka's controller
 * does, against the live brokers and the topic's replication factor (the replica count of its partition 0).
 */
function newPartitionsAssignmentError(
  assignments: ReadonlyArray<{ brokerIds: readonly number[] }>,
  topic: TopicRecord,
  brokers: ReadonlySet<number>,
): string | null {
  const replicationFactor = topic.partitions[0]?.replicas.length ?? null;
  for (const { brokerIds } of assignments) {
    const error = partitionAssignmentError(brokerIds, brokers, replicationFactor);
    if (error) return error;
  }
  return null;
}

/**
 * Replicas for `count` partitions added to `topic`, as Kafka's controller places them: the assignor continuing the
 * round-robin from the broker that leads partition 0, with as many replicas as partition 0 has.
 */
function placeAfter(live: readonly PlacementBroker[], topic: TopicRecord, count: number): number[][] {
  const sorted = [...live].sort((a, b) => a.nodeId - b.nodeId);
  const partition0 = topic.partitions[0]?.replicas ?? [];
  const start = Math.max(
    0,
    sorted.findIndex((b) => b.nodeId >= (partition0[0] ?? 0)),
  );
  const replicationFactor = Math.min(Math.max(1, partition0.length), sorted.length);
  return placeReplicas(sorted, count, replicationFactor, {
    firstPartition: topic.partitions.length,
    startIndex: start,
    replicaShift: start,
  });
}

/** The first CreatePartitions version whose clients know THROTTLING_QUOTA_EXCEEDED. */
const CONTROLLER_MUTATION_STRICT_SINCE_VERSION = 3;

/**
 * CreatePartitions: raises a topic's partition count (it never shrinks), on the replicas given for each new
 * partition or placed over the live brokers. New partitions start empty; keyed producers will map some keys to them, as in Kafka.
 */
export const createPartitionsHandler = defineHandler<CreatePartitionsRequest, CreatePartitionsResponse>({
  api: createPartitionsApi,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's check: ALTER on each topic.
    const alterable = authorizedNames(
      ctx,
      AclOperation.ALTER,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const results: CreatePartitionsResponseCreatePartitionsTopicResult[] = [];
    // KIP-599: the partitions added count against controller_mutation_rate, refused from v3 once it is spent.
    const quota = controllerMutationQuota(ctx, CONTROLLER_MUTATION_STRICT_SINCE_VERSION);
    const brokers = liveBrokers(broker);
    for (const { item: t, repeated } of markRepeats(request.topics, (t) => t.name)) {
      const result: CreatePartitionsResponseCreatePartitionsTopicResult = {
        name: t.name,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
      };
      const fail = (errorCode: number, errorMessage: string) => {
        result.errorCode = errorCode;
        result.errorMessage = errorMessage;
      };
      results.push(result);
      if (repeated) {
        fail(ErrorCode.INVALID_REQUEST, 'Duplicate topic in request.');
        continue;
      }
      if (!alterable.has(t.name)) {
        fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.');
        continue;
      }
      let error: [number, string] | null = null;
      let previousCount = 0;
      let reservation: PartitionReservation | null = null;
      // The change may be tried again on a newer version of the topic: its partitions are counted once.
      let counted = false;
      let outcome: Awaited<ReturnType<typeof broker.topics.modify>>;
      try {
        outcome = await broker.topics.modify(t.name, (topic) => {
          // The change may be tried again on a newer version of the topic.
          reservation?.release();
          reservation = null;
          const current = topic.partitions.length;
          previousCount = current;
          const assignmentError = t.assignments && newPartitionsAssignmentError(t.assignments, topic, brokers);
          if (t.count === current) {
            error = [ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partitions.`];
          } else if (t.count < current) {
            error = [
              ErrorCode.INVALID_PARTITIONS,
              `Topic currently has ${current} partitions, which is higher than the requested ${t.count}.`,
            ];
          } else if (t.count > MAX_PARTITIONS_PER_TOPIC) {
            error = [
              ErrorCode.INVALID_PARTITIONS,
              `Topic cannot have more than ${MAX_PARTITIONS_PER_TOPIC} partitions.`,
            ];
          } else if (t.assignments !== null && t.assignments.length !== t.count - current) {
            error = [
              ErrorCode.INVALID_REPLICA_ASSIGNMENT,
              `Attempted to add ${t.count - current} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`,
            ];
          } else if (assignmentError) {
            error = [ErrorCode.INVALID_REPLICA_ASSIGNMENT, assignmentError];
          } else if (!counted && !quota.record(t.count - current)) {
            error = [ErrorCode.THROTTLING_QUOTA_EXCEEDED, THROTTLING_QUOTA_EXCEEDED_MESSAGE];
          } else {
            counted = true;
            const reserved = reservePartitions(broker, t.name, t.count);
            if (typeof reserved === 'string') error = [ErrorCode.POLICY_VIOLATION, reserved];
            else {
              reservation = reserved;
              error = null;
            }
          }
          if (error || request.validateOnly) return null;
          const placed =
            t.assignments?.map((a) => a.brokerIds) ?? placeAfter(broker.cluster.all(), topic, t.count - current);
          const added = placed.map((replicas, i) => assignedPartition(current + i, replicas));
          return { ...topic, partitions: [...topic.partitions, ...added] };
        });
      } catch (e) {
        const unreachable = metadataStoreError(e);
        if (!unreachable) throw e;
        fail(unreachable.errorCode, unreachable.errorMessage);
        continue;
      } finally {
        (reservation as PartitionReservation | null)?.release();
      }
      if (outcome === 'missing') fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`);
      else if (error) fail(...(error as [number, string]));
      else if (outcome === 'busy') fail(ErrorCode.REASSIGNMENT_IN_PROGRESS, 'The topic kept changing; try again.');
      else if (outcome === 'updated') {
        await broker.replicas.settled();
        const missing = broker.replicas.logsMissing(t.name);
        if (!missing) {
          broker.logger.info('partitions added', { topic: t.name, count: t.count });
          continue;
        }
        // The new partitions' logs could not be created (a full disk): take them back rather than leave
        // partitions that answer LEADER_NOT_AVAILABLE until a restart.
        broker.logger.error('partitions not added: their logs could not be created', { topic: t.name, error: missing });
        await broker.topics
          .modify(t.name, (topic) =>
            topic.partitions.length > previousCount
              ? { ...topic, partitions: topic.partitions.slice(0, previousCount) }
              : null,
          )
          .catch((e: unknown) =>
            broker.logger.error('could not take back the partitions', { topic: t.name, error: e as Error }),
          );
        fail(ErrorCode.KAFKA_STORAGE_ERROR, 'The logs of the new partitions could not be created.');
      }
    }
    await broker.replicas.settled();
    return { throttleTimeMs: quota.throttle(ctx), results };
  },
});
