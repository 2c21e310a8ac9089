import { MAX_PARTITIONS_PER_TOPIC, newAssignment } from '../../cluster/topic-metadata.js';
import { ErrorCode } from '../../protocol/errors.js';
import { createPartitionsApi } from '../../protocol/generated/apis/create-partitions.js';
import type { CreatePartitionsRequest } from '../../protocol/generated/messages/create-partitions-request.js';
import type {
  CreatePartitionsResponse,
  CreatePartitionsResponseCreatePartitionsTopicResult,
} from '../../protocol/generated/messages/create-partitions-response.js';
import { defineHandler, markRepeats } from '../api-handler.js';
import { type PartitionReservation, reservePartitions } from '../partition-limit.js';

/**
 * CreatePartitions: raises a topic's partition count (it never shrinks). New partitions start empty; keyed
 * producers will map some keys to them, as in Kafka.
 */
export const createPartitionsHandler = defineHandler<CreatePartitionsRequest, CreatePartitionsResponse>({
  api: createPartitionsApi,
  minVersion: 0,
  maxVersion: 3,
  async handle({ broker }, request) {
    const results: CreatePartitionsResponseCreatePartitionsTopicResult[] = [];
    const nodeId = broker.settings.nodeId;
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
      let error: [number, string] | null = null;
      let previousCount = 0;
      let reservation: PartitionReservation | null = null;
      const outcome = await broker.topics.modify(t.name, (topic) => {
        // The change may be tried again on a newer version of the topic.
        reservation?.release();
        reservation = null;
        const current = topic.partitions.length;
        previousCount = current;
        if (t.count === current) {
          error = [ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partitions.`];
        } else if (t.count < current) {
          error = [
            ErrorCode.INVALID_PARTITIONS,
            `Topic currently has ${current} partitions, which is higher than the requested ${t.count}.`,
          ];
        } else if (t.count > MAX_PARTITIONS_PER_TOPIC) {
          error = [ErrorCode.INVALID_PARTITIONS, `Topic cannot have more than ${MAX_PARTITIONS_PER_TOPIC} partitions.`];
        } else if (t.assignments !== null && t.assignments.length !== t.count - current) {
          error = [
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `Increasing the number of partitions by ${t.count - current} but ${t.assignments.length} assignments provided.`,
          ];
        } else if (t.assignments?.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== nodeId)) {
          error = [
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `Every new partition must be assigned to broker ${nodeId}, the only broker of this cluster.`,
          ];
        } else {
          const reserved = reservePartitions(broker, t.count - current);
          if (typeof reserved === 'string') error = [ErrorCode.POLICY_VIOLATION, reserved];
          else {
            reservation = reserved;
            error = null;
          }
        }
        if (error || request.validateOnly) return null;
        const added = Array.from({ length: t.count - current }, (_, i) => newAssignment(current + i, nodeId));
        return { ...topic, partitions: [...topic.partitions, ...added] };
      });
      (reservation as PartitionReservation | null)?.release();
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
    return { throttleTimeMs: 0, results };
  },
});
