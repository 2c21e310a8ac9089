import { ZERO_UUID } from '../../cluster/topic-metadata.js';
import { isInternalTopic } from '../../cluster/topic-name.js';
import { ErrorCode } from '../../protocol/errors.js';
import { deleteTopicsApi } from '../../protocol/generated/apis/delete-topics.js';
import type { DeleteTopicsRequest } from '../../protocol/generated/messages/delete-topics-request.js';
import type {
  DeleteTopicsResponse,
  DeleteTopicsResponseDeletableTopicResult,
} from '../../protocol/generated/messages/delete-topics-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, ResourceType } from '../authorization.js';
import { controllerMutationQuota, THROTTLING_QUOTA_EXCEEDED_MESSAGE } from '../controller-mutation-quota.js';
import {
  beforeDeadline,
  DEADLINE_PASSED,
  METADATA_STORE_UNREACHABLE_MESSAGE,
  metadataStoreError,
  requestDeadline,
} from '../metadata-errors.js';

/** The first DeleteTopics version whose clients know THROTTLING_QUOTA_EXCEEDED. */
const CONTROLLER_MUTATION_STRICT_SINCE_VERSION = 5;

/** DeleteTopics: by name (all versions) or by topic id (v6+). The logs go when the metadata change is applied. */
export const deleteTopicsHandler = defineHandler<DeleteTopicsRequest, DeleteTopicsResponse>({
  api: deleteTopicsApi,
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's checks: DESCRIBE on the topic before its existence is told (a topic asked for by id keeps its
    // id but not its name), then DELETE.
    const may = (operation: AclOperation, name: string) => authorize(ctx, operation, ResourceType.TOPIC, name);
    const wanted: Array<{ name: string | null; topicId: string }> =
      apiVersion >= 6
        ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
        : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
    // KIP-599: a deleted topic's partitions count against controller_mutation_rate.
    const quota = controllerMutationQuota(ctx, CONTROLLER_MUTATION_STRICT_SINCE_VERSION);
    const deadline = requestDeadline(request.timeoutMs);
    for (const w of wanted) {
      const topic = w.name ? broker.topics.get(w.name) : broker.topics.getById(w.topicId);
      const result: DeleteTopicsResponseDeletableTopicResult = {
        name: topic?.name ?? w.name,
        topicId: topic?.id ?? w.topicId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
      };
      responses.push(result);
      if (!broker.settings.deleteTopicEnable) {
        result.errorCode = ErrorCode.TOPIC_DELETION_DISABLED;
      } else if (w.name && !may(AclOperation.DESCRIBE, w.name)) {
        result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        result.topicId = ZERO_UUID;
      } else if (!topic) {
        result.errorCode = w.name ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
      } else if (!may(AclOperation.DESCRIBE, topic.name)) {
        result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        result.name = null;
      } else if (!may(AclOperation.DELETE, topic.name)) {
        result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      } else if (isInternalTopic(topic.name)) {
        result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        result.errorMessage = `Deletion of internal topic ${topic.name} is not allowed`;
      } else if (!quota.record(topic.partitions.length)) {
        result.errorCode = ErrorCode.THROTTLING_QUOTA_EXCEEDED;
        result.errorMessage = THROTTLING_QUOTA_EXCEEDED_MESSAGE;
      } else {
        try {
          const deleted = await beforeDeadline(broker.topics.delete(topic.name), deadline);
          if (deleted === DEADLINE_PASSED) {
            result.errorCode = ErrorCode.REQUEST_TIMED_OUT;
            result.errorMessage = METADATA_STORE_UNREACHABLE_MESSAGE;
          } else if (!deleted) result.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        } catch (e) {
          const unreachable = metadataStoreError(e);
          if (!unreachable) throw e;
          result.errorCode = unreachable.errorCode;
          result.errorMessage = unreachable.errorMessage;
        }
      }
    }
    await broker.replicas.settled();
    return { throttleTimeMs: quota.throttle(ctx), responses };
  },
});
