import { ErrorCode } from '../../protocol/errors.js';
import { listOffsetsApi } from '../../protocol/generated/apis/list-offsets.js';
import type { ListOffsetsRequest } from '../../protocol/generated/messages/list-offsets-request.js';
import type {
  ListOffsetsResponse,
  ListOffsetsResponseListOffsetsPartitionResponse,
} from '../../protocol/generated/messages/list-offsets-response.js';
import { defineHandler } from '../api-handler.js';

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
 * read_committed), the record with the largest timestamp, or the first offset whose timestamp is at or
 * after a given time (via the time index). Version 0 answers in its old list form.
 */
export const listOffsetsHandler = defineHandler<ListOffsetsRequest, ListOffsetsResponse>({
  api: listOffsetsApi,
  minVersion: 0,
  maxVersion: 9,
  async handle({ apiVersion, broker }, request) {
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
        const found = broker.replicas.lookup(t.name, p.partitionIndex);
        if ('errorCode' in found) {
          response.errorCode = found.errorCode;
          continue;
        }
        const { log } = found;
        if (apiVersion >= 4) response.leaderEpoch = found.assignment.leaderEpoch;
        switch (p.timestamp) {
          case LATEST_TIMESTAMP:
            // Under read_committed the end is the last stable offset (v2+ carry the isolation level).
            response.offset = BigInt(
              apiVersion >= 2 && request.isolationLevel === READ_COMMITTED ? log.lastStableOffset : log.highWatermark,
            );
            break;
          case EARLIEST_TIMESTAMP:
          case EARLIEST_LOCAL_TIMESTAMP:
            response.offset = BigInt(log.logStartOffset);
            break;
          case MAX_TIMESTAMP: {
            const max = log.maxTimestampAndOffset();
            response.timestamp = BigInt(max.timestamp);
            response.offset = BigInt(max.offset);
            break;
          }
          case LATEST_TIERED_TIMESTAMP:
            // No tiered storage: nothing was ever uploaded.
            break;
          default: {
            if (p.timestamp < 0n) {
              response.errorCode = ErrorCode.INVALID_REQUEST;
              break;
            }
            const found = await log.offsetForTimestamp(Number(p.timestamp));
            if (found) {
              response.offset = BigInt(found.offset);
              response.timestamp = BigInt(found.timestamp);
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
