import { ErrorCode } from '../../protocol/errors.js';
import {
  apis,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../protocol/generated/index.js';
import { validateProducedBatches } from '../../storage/log-validator.js';
import { LogOfflineError } from '../../storage/partition-log.js';
import { defineHandler } from '../api-handler.js';
import { produceSettings } from '../topic-settings.js';

const VALID_ACKS = new Set([-1, 0, 1]);

/**
 * Produce: validates each partition's batches, appends them (the log assigns offsets), and answers with
 * the base offset of each append. Appends are started before the handler's first await, so a client's
 * pipelined requests reach each log in order and share its group commit. With acks=all and the durable
 * policy, the answer waits for fsync; with acks=0 no answer is sent.
 *
 * Versions 0-2 carry legacy message sets (magic 0/1) and are not implemented yet.
 */
export const produceHandler = defineHandler<ProduceRequest, ProduceResponse>({
  api: apis.Produce,
  minVersion: 3,
  maxVersion: 11,
  async handle({ broker }, request) {
    const nowMs = Date.now();
    const acksValid = VALID_ACKS.has(request.acks);
    const sync = request.acks === -1 && broker.settings.flushOnAcksAll;
    const pending: Promise<void>[] = [];
    const responses = request.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => {
        const response: ProduceResponsePartitionProduceResponse = {
          index: p.index,
          errorCode: ErrorCode.NONE,
          baseOffset: -1n,
          logAppendTimeMs: -1n,
          logStartOffset: -1n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        };
        if (!acksValid) {
          response.errorCode = ErrorCode.INVALID_REQUIRED_ACKS;
          return response;
        }
        const found = broker.replicas.lookup(t.name, p.index);
        if ('errorCode' in found) {
          response.errorCode = found.errorCode;
          return response;
        }
        if (!p.records || p.records.length === 0) {
          response.errorCode = ErrorCode.CORRUPT_MESSAGE;
          response.errorMessage = 'no records';
          return response;
        }
        const validation = validateProducedBatches(p.records, {
          ...produceSettings(found.topic, broker.settings),
          nowMs,
        });
        if (validation.errorCode !== ErrorCode.NONE) {
          response.errorCode = validation.errorCode;
          response.errorMessage = 'message' in validation ? validation.message : null;
          return response;
        }
        const { recordCount, logAppendTimeMs } = validation as { recordCount: number; logAppendTimeMs: number };
        pending.push(
          found.log.append(p.records, { sync, recordCount }).then(
            (result) => {
              response.baseOffset = BigInt(result.baseOffset);
              response.logStartOffset = BigInt(result.logStartOffset);
              response.logAppendTimeMs = BigInt(logAppendTimeMs);
            },
            (error: unknown) => {
              response.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
              if (!(error instanceof LogOfflineError))
                broker.logger.error('append failed', { topic: t.name, partition: p.index, error: error as Error });
            },
          ),
        );
        return response;
      }),
    }));
    await Promise.all(pending);
    if (request.acks === 0) return null;
    return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
  },
});
