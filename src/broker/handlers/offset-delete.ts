import { ErrorCode } from '../../protocol/errors.js';
import { offsetDeleteApi } from '../../protocol/generated/apis/offset-delete.js';
import type { OffsetDeleteRequest } from '../../protocol/generated/messages/offset-delete-request.js';
import type { OffsetDeleteResponse } from '../../protocol/generated/messages/offset-delete-response.js';
import { defineHandler } from '../api-handler.js';

/** OffsetDelete (KIP-496): removes a group's committed offsets for topics it no longer consumes. */
export const offsetDeleteHandler = defineHandler<OffsetDeleteRequest, OffsetDeleteResponse>({
  api: offsetDeleteApi,
  minVersion: 0,
  maxVersion: 0,
  async handle({ broker }, request) {
    const result = await broker.groups.deleteOffsets(
      request.groupId,
      request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
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
