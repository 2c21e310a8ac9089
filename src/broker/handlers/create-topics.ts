import { readTopicAssignment } from '../../cluster/replica-assignment.js';
import { replicationFactorError } from '../../cluster/replica-placement.js';
import { MAX_PARTITIONS_PER_TOPIC, ZERO_UUID } from '../../cluster/topic-metadata.js';
import { isInternalTopic, topicNameError } from '../../cluster/topic-name.js';
import { topicConfigsError } from '../../config/topic-config.js';
import { ErrorCode } from '../../protocol/errors.js';
import { createTopicsApi } from '../../protocol/generated/apis/create-topics.js';
import type { CreateTopicsRequest } from '../../protocol/generated/messages/create-topics-request.js';
import type {
  CreateTopicsResponse,
  CreateTopicsResponseCreatableTopicResult,
} from '../../protocol/generated/messages/create-topics-response.js';
import { type BrokerServices, defineHandler, markRepeats } from '../api-handler.js';
import { AclOperation, authorize, authorizeCluster, authorizedNames, ResourceType } from '../authorization.js';
import { controllerMutationQuota, THROTTLING_QUOTA_EXCEEDED_MESSAGE } from '../controller-mutation-quota.js';
import {
  beforeDeadline,
  DEADLINE_PASSED,
  METADATA_STORE_UNREACHABLE_MESSAGE,
  requestDeadline,
} from '../metadata-errors.js';
import { reservePartitions } from '../partition-limit.js';

/** The brokers a replica assignment may name: the live brokers of the cluster. */
export function liveBrokers(broker: BrokerServices): ReadonlySet<number> {
  return broker.cluster.ids();
}

/**
 * CreateTopics: validates each topic (name, partitions and replication factor or an explicit replica assignment,
 * configs), then creates it unless validate_only. Each topic gets its own result; one bad topic does not fail the others.
 */
/** The first CreateTopics version whose clients know THROTTLING_QUOTA_EXCEEDED. */
const CONTROLLER_MUTATION_STRICT_SINCE_VERSION = 6;

export const createTopicsHandler = defineHandler<CreateTopicsRequest, CreateTopicsResponse>({
  api: createTopicsApi,
  minVersion: 0,
  maxVersion: 7,
  async handle(ctx, request) {
    const { broker } = ctx;
    const results: CreateTopicsResponseCreatableTopicResult[] = [];
    // KIP-599: each topic's partitions count against controller_mutation_rate, refused from v6 once it is spent.
    const quota = controllerMutationQuota(ctx, CONTROLLER_MUTATION_STRICT_SINCE_VERSION);
    const deadline = requestDeadline(request.timeoutMs);
    // Kafka's checks: CREATE on the cluster, else on each topic; the configs of a created topic are answered
    // only to a principal that may DESCRIBE_CONFIGS it.
    const creatable =
      broker.authorizer === null || authorizeCluster(ctx, AclOperation.CREATE)
        ? null
        : authorizedNames(
            ctx,
            AclOperation.CREATE,
            ResourceType.TOPIC,
            request.topics.map((t) => t.name),
          );
    // A name given twice gets one INVALID_REQUEST result and is not created.
    for (const { item: t, repeated } of markRepeats(request.topics, (t) => t.name)) {
      const result: CreateTopicsResponseCreatableTopicResult = {
        name: t.name,
        topicId: ZERO_UUID,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicConfigErrorCode: ErrorCode.NONE,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      };
      results.push(result);
      const fail = (errorCode: number, errorMessage: string) => {
        result.errorCode = errorCode;
        result.errorMessage = errorMessage;
      };
      if (repeated) {
        fail(ErrorCode.INVALID_REQUEST, `Create topics request from client contains duplicate topic ${t.name}`);
        continue;
      }
      if (creatable !== null && !creatable.has(t.name)) {
        fail(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.');
        continue;
      }
      const nameError = topicNameError(t.name);
      if (nameError) {
        fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
        continue;
      }
      if (broker.topics.get(t.name)) {
        fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
        continue;
      }
      const colliding = broker.topics.collidingTopic(t.name);
      if (colliding) {
        fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${t.name}' collides with existing topic: ${colliding}`);
        continue;
      }
      if (isInternalTopic(t.name)) {
        fail(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${t.name} is prohibited.`);
        continue;
      }
      let numPartitions: number;
      let replicationFactor: number;
      let replicaAssignment: number[][] | undefined;
      if (t.assignments.length > 0) {
        // KIP-464: an explicit assignment says the counts itself, so both must be left at -1.
        if (t.replicationFactor !== -1) {
          fail(
            ErrorCode.INVALID_REQUEST,
            'A manual partition assignment was specified, but replication factor was not set to -1.',
          );
          continue;
        }
        if (t.numPartitions !== -1) {
          fail(
            ErrorCode.INVALID_REQUEST,
            'A manual partition assignment was specified, but numPartitions was not set to -1.',
          );
          continue;
        }
        if (t.assignments.length > MAX_PARTITIONS_PER_TOPIC) {
          fail(ErrorCode.INVALID_PARTITIONS, `A topic cannot have more than ${MAX_PARTITIONS_PER_TOPIC} partitions.`);
          continue;
        }
        const assignment = readTopicAssignment(t.assignments, liveBrokers(broker));
        if ('error' in assignment) {
          fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, assignment.error);
          continue;
        }
        replicaAssignment = assignment.replicas;
        numPartitions = replicaAssignment.length;
        replicationFactor = replicaAssignment[0]!.length;
      } else {
        numPartitions = t.numPartitions === -1 ? broker.settings.numPartitions : t.numPartitions;
        if (numPartitions < 1 || numPartitions > MAX_PARTITIONS_PER_TOPIC) {
          fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
          continue;
        }
        replicationFactor = t.replicationFactor === -1 ? broker.settings.defaultReplicationFactor : t.replicationFactor;
        if (replicationFactor < 1) {
          fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.');
          continue;
        }
      }
      const replicationError = replicationFactorError(replicationFactor, broker.cluster.all().length);
      if (replicationError) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, replicationError);
        continue;
      }
      const configs: Record<string, string> = {};
      for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
      const configError = topicConfigsError(configs);
      if (configError) {
        fail(ErrorCode.INVALID_CONFIG, configError);
        continue;
      }
      if (!quota.record(numPartitions)) {
        fail(ErrorCode.THROTTLING_QUOTA_EXCEEDED, THROTTLING_QUOTA_EXCEEDED_MESSAGE);
        continue;
      }
      const reservation = reservePartitions(broker, t.name, numPartitions);
      if (typeof reservation === 'string') {
        fail(ErrorCode.POLICY_VIOLATION, reservation);
        continue;
      }
      result.numPartitions = numPartitions;
      result.replicationFactor = replicationFactor;
      result.configs = Object.entries(configs).map(([name, value]) => ({
        name,
        value,
        readOnly: false,
        configSource: 1, // DYNAMIC_TOPIC_CONFIG
        isSensitive: false,
      }));
      let errorCode: number;
      try {
        if (request.validateOnly) continue;
        const outcome = await beforeDeadline(
          broker.createTopic(t.name, numPartitions, replicationFactor, configs, replicaAssignment),
          deadline,
        );
        errorCode = outcome === DEADLINE_PASSED ? ErrorCode.REQUEST_TIMED_OUT : outcome;
      } finally {
        reservation.release();
      }
      if (errorCode !== ErrorCode.NONE) {
        fail(
          errorCode,
          errorCode === ErrorCode.TOPIC_ALREADY_EXISTS
            ? `Topic '${t.name}' already exists.`
            : errorCode === ErrorCode.REQUEST_TIMED_OUT
              ? METADATA_STORE_UNREACHABLE_MESSAGE
              : errorCode === ErrorCode.KAFKA_STORAGE_ERROR
                ? 'The topic could not be written to disk.'
                : 'Topic creation failed.',
        );
        continue;
      }
      result.topicId = broker.topics.get(t.name)?.id ?? result.topicId;
    }
    if (broker.authorizer !== null)
      for (const result of results)
        if (
          result.errorCode === ErrorCode.NONE &&
          !authorize(ctx, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, result.name)
        ) {
          result.topicConfigErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          result.configs = [];
        }
    return { throttleTimeMs: quota.throttle(ctx), topics: results };
  },
});
