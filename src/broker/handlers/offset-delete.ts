import { ErrorCode } from '../../protocol/errors.js';
import { offsetDeleteApi } from '../../protocol/generated/apis/offset-delete.js';
import type { OffsetDeleteRequest } from '../../protocol/generated/messages/offset-delete-request.js';
import type { OffsetDeleteResponse } from '../../protocol/generated/messages/offset-delete-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizedNames, ResourceType } from '../authorization.js';

/** OffsetDelete (KIP-496): removes a group's committed offsets for topics it no longer consumes. */
export const offsetDeleteHandler = defineHandler<OffsetDeleteRequest, OffsetDeleteResponse>({
  api: offsetDeleteApi,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's checks: DELETE on the group, READ on each topic (a refused topic's partitions are kept).
    if (!authorize(ctx, AclOperation.DELETE, ResourceType.GROUP, request.groupId))
      return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
    const readable = authorizedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const allowed = request.topics.filter((t) => readable.has(t.name));
    const deleted = await broker.groups.deleteOffsets(
      request.groupId,
      allowed.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
    let next = 0;
    const result = {
      errorCode: deleted.errorCode,
      partitionErrors: request.topics.map((t) =>
        readable.has(t.name)
          ? (deleted.partitionErrors[next++] ?? [])
          : t.partitions.map(() => ErrorCode.TOPIC_AUTHORIZATION_FAILED),
      ),
    };
    return {
      errorCode: result.errorCode,
      throttleTimeMs: 0,
      topics:
        result.errorCode === ErrorCode.NONE
          ? request.topics.map((t, i) => ({
              name: t.name,
              partitions: t.partitions.map((p, j) => ({
                partitionIndex: p.partitionIndex,
                errorCode: result.partitionErrors[i]![j]!,
              })),
            }))
          : [],
    };
  },
});
