import { ErrorCode } from '../../protocol/errors.js';
import { deleteRecordsApi } from '../../protocol/generated/apis/delete-records.js';
import type { DeleteRecordsRequest } from '../../protocol/generated/messages/delete-records-request.js';
import type {
  DeleteRecordsResponse,
  DeleteRecordsResponseDeleteRecordsPartitionResult,
} from '../../protocol/generated/messages/delete-records-response.js';
import { OffsetOutOfRangeError } from '../../storage/partition-log.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, ResourceType } from '../authorization.js';

/** DeleteRecordsRequest offset meaning "up to the high watermark". */
const HIGH_WATERMARK = -1n;

/**
 * DeleteRecords: moves each partition's log start offset forward; whole segments below it are deleted at
 * once and the new start offset is checkpointed before the answer, so it survives a crash.
 */
export const deleteRecordsHandler = defineHandler<DeleteRecordsRequest, DeleteRecordsResponse>({
  api: deleteRecordsApi,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, request) {
    const { broker } = ctx;
    // Kafka's check: DELETE on each topic.
    const deletable = authorizedNames(
      ctx,
      AclOperation.DELETE,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    let moved = false;
    const topics = [];
    for (const t of request.topics) {
      const partitions: DeleteRecordsResponseDeleteRecordsPartitionResult[] = [];
      for (const p of t.partitions) {
        const result: DeleteRecordsResponseDeleteRecordsPartitionResult = {
          partitionIndex: p.partitionIndex,
          lowWatermark: -1n,
          errorCode: ErrorCode.NONE,
        };
        partitions.push(result);
        if (!deletable.has(t.name)) {
          result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          continue;
        }
        const found = broker.replicas.lookup(t.name, p.partitionIndex);
        if ('errorCode' in found) {
          result.errorCode = found.errorCode;
          continue;
        }
        const { log } = found;
        const offset = p.offset === HIGH_WATERMARK ? log.highWatermark : Number(p.offset);
        if (offset < 0) {
          result.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
          continue;
        }
        try {
          const before = log.logStartOffset;
          log.advanceLogStartOffset(offset);
          if (log.logStartOffset !== before) {
            moved = true;
            await log.deleteOldSegments();
          }
          result.lowWatermark = BigInt(log.logStartOffset);
        } catch (e) {
          if (!(e instanceof OffsetOutOfRangeError)) throw e;
          result.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
        }
      }
      topics.push({ name: t.name, partitions });
    }
    if (moved) await broker.logs.checkpointLogStartOffsets();
    return { throttleTimeMs: 0, topics };
  },
});
