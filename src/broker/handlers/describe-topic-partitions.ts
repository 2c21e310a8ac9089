import { type TopicRecord, ZERO_UUID } from '../../cluster/topic-metadata.js';
import { ErrorCode } from '../../protocol/errors.js';
import { describeTopicPartitionsApi } from '../../protocol/generated/apis/describe-topic-partitions.js';
import type { DescribeTopicPartitionsRequest } from '../../protocol/generated/messages/describe-topic-partitions-request.js';
import type {
  DescribeTopicPartitionsResponse,
  DescribeTopicPartitionsResponseCursor,
  DescribeTopicPartitionsResponseTopic,
} from '../../protocol/generated/messages/describe-topic-partitions-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, authorizedOperations, ResourceType } from '../authorization.js';
import { topicError, topicMetadata } from './metadata.js';

/** Kafka's max.request.partition.size.limit default: the most partitions one response describes. */
const MAX_PARTITIONS_PER_RESPONSE = 2000;

function unknownTopic(name: string): DescribeTopicPartitionsResponseTopic {
  return { ...topicError(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), partitions: [] };
}

/**
 * DescribeTopicPartitions (KIP-966): topics in name order, paginated by partition count with a cursor, so that
 * tools can describe topics with very many partitions. An empty topic list means every topic.
 */
export const describeTopicPartitionsHandler = defineHandler<
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponse
>({
  api: describeTopicPartitionsApi,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's check: DESCRIBE on each topic; one asked for by name is refused, the others left out of a listing.
    const asked = request.topics.length > 0;
    const all = asked
      ? [...new Set(request.topics.map((t) => t.name))].sort()
      : [...broker.topics.all()].map((t) => t.name).sort();
    const describable = authorizedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, all);
    const names = asked ? all : all.filter((name) => describable.has(name));
    const limit = Math.max(1, Math.min(request.responsePartitionLimit, MAX_PARTITIONS_PER_RESPONSE));
    const cursor = request.cursor;
    const topics: DescribeTopicPartitionsResponseTopic[] = [];
    let nextCursor: DescribeTopicPartitionsResponseCursor | null = null;
    let budget = limit;
    for (const name of names) {
      if (cursor && name < cursor.topicName) continue;
      if (!describable.has(name)) {
        topics.push({ ...topicError(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED), partitions: [] });
        continue;
      }
      const topic: TopicRecord | undefined = broker.topics.get(name);
      if (!topic) {
        topics.push(unknownTopic(name));
        continue;
      }
      if (budget === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      const first = cursor && name === cursor.topicName ? cursor.partitionIndex : 0;
      const partitions = topic.partitions.filter((p) => p.partition >= first).slice(0, budget);
      budget -= partitions.length;
      // The Metadata answer of these partitions, plus the ELR fields of KIP-966 (no ELR without replication).
      const described = topicMetadata({ ...topic, partitions }, broker.cluster);
      topics.push({
        ...described,
        name,
        partitions: described.partitions.map((p) => ({ ...p, eligibleLeaderReplicas: [], lastKnownElr: [] })),
        // Kafka answers them unasked (the request has no flag for it).
        topicAuthorizedOperations: authorizedOperations(ctx, ResourceType.TOPIC, name),
      });
      const last = partitions.at(-1);
      const remaining = topic.partitions.some((p) => p.partition > (last?.partition ?? first - 1));
      if (budget === 0 && remaining) {
        nextCursor = { topicName: name, partitionIndex: (last?.partition ?? first - 1) + 1 };
        break;
      }
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
});
