import { ErrorCode } from '../../protocol/errors.js';
import { listOffsetsApi } from '../../protocol/generated/apis/list-offsets.js';
import type { ListOffsetsRequest } from '../../protocol/generated/messages/list-offsets-request.js';
import type {
  ListOffsetsResponse,
  ListOffsetsResponseListOffsetsPartitionResponse,
} from '../../protocol/generated/messages/list-offsets-response.js';
import { DecodeError } from '../../protocol/primitives/decode-error.js';
import { CompressionError } from '../../protocol/records/compression/index.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizedNames, ResourceType } from '../authorization.js';
import { ReplicaManager } from '../replica-manager.js';

/** Special timestamps of ListOffsets. */
const LATEST_TIMESTAMP = -1n;
const EARLIEST_TIMESTAMP = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL_TIMESTAMP = -4n;
const LATEST_TIERED_TIMESTAMP = -5n;
/** ListOffsets isolation_level of read_committed consumers. */
const READ_COMMITTED = 1;

/**
 * ListOffsets: the earliest offset, the latest (the high watermark, or the last stable offset under
 * read_committed), the first record with the largest timestamp, or the first record whose timestamp is at or
 * after a given time, with that record's own timestamp. Version 0 answers in its old list form.
 */
export const listOffsetsHandler = defineHandler<ListOffsetsRequest, ListOffsetsResponse>({
  api: listOffsetsApi,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, request) {
    const { apiVersion, broker } = ctx;
    // Kafka's check: DESCRIBE on each topic.
    const describable = authorizedNames(
      ctx,
      AclOperation.DESCRIBE,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const topics = [];
    for (const t of request.topics) {
      const partitions: ListOffsetsResponseListOffsetsPartitionResponse[] = [];
      for (const p of t.partitions) {
        const response: ListOffsetsResponseListOffsetsPartitionResponse = {
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
          oldStyleOffsets: [],
          timestamp: -1n,
          offset: -1n,
          leaderEpoch: -1,
        };
        partitions.push(response);
        if (!describable.has(t.name)) {
          response.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          continue;
        }
        const found = broker.replicas.lookup(t.name, p.partitionIndex);
        if ('errorCode' in found) {
          response.errorCode = found.errorCode;
          continue;
        }
        // Kafka's check of the epoch the client knows (v4+; -1: no check).
        const epochError = ReplicaManager.leaderEpochError(found.assignment, p.currentLeaderEpoch);
        if (epochError !== ErrorCode.NONE) {
          response.errorCode = epochError;
          continue;
        }
        const { log } = found;
        // Records at or past this offset are not visible to the client (Kafka's lastFetchableOffset).
        const lastFetchableOffset =
          apiVersion >= 2 && request.isolationLevel === READ_COMMITTED ? log.lastStableOffset : log.highWatermark;
        // As in Kafka: the latest offset comes with the partition's current leader epoch, a record's offset with
        // the epoch it was written under (from the log's leader epochs, -1 when it holds none for it).
        const withEpochs = apiVersion >= 4;
        const leaderEpoch = withEpochs ? found.assignment.leaderEpoch : -1;
        switch (p.timestamp) {
          case LATEST_TIMESTAMP:
            response.offset = BigInt(lastFetchableOffset);
            response.leaderEpoch = leaderEpoch;
            break;
          case EARLIEST_TIMESTAMP:
          case EARLIEST_LOCAL_TIMESTAMP:
            // No tiered storage: the earliest local offset is the log start offset.
            response.offset = BigInt(log.logStartOffset);
            response.leaderEpoch = withEpochs ? log.epochForOffset(log.logStartOffset) : -1;
            break;
          case LATEST_TIERED_TIMESTAMP:
            // No tiered storage: nothing was ever uploaded.
            break;
          default: {
            if (p.timestamp < 0n && p.timestamp !== MAX_TIMESTAMP) {
              response.errorCode = ErrorCode.INVALID_REQUEST;
              break;
            }
            try {
              const record =
                p.timestamp === MAX_TIMESTAMP
                  ? await log.maxTimestampAndOffset()
                  : await log.offsetForTimestamp(Number(p.timestamp));
              // As in Kafka, a record the client cannot read yet is no answer (the search does not go on).
              if (record && record.offset >= 0 && record.offset < lastFetchableOffset) {
                response.offset = BigInt(record.offset);
                response.timestamp = BigInt(record.timestamp);
                response.leaderEpoch = withEpochs ? log.epochForOffset(record.offset) : -1;
              }
            } catch (e) {
              if (!(e instanceof DecodeError || e instanceof CompressionError)) throw e;
              broker.logger.error('a batch searched by timestamp could not be decoded', {
                topic: t.name,
                partition: p.partitionIndex,
                error: e,
              });
              response.errorCode = ErrorCode.CORRUPT_MESSAGE;
            }
          }
        }
        if (apiVersion === 0) {
          response.oldStyleOffsets = response.offset >= 0n ? [response.offset] : [];
          response.offset = -1n;
          response.timestamp = -1n;
        }
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
});
