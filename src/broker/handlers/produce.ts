import { ErrorCode } from '../../protocol/errors.js';
import { produceApi } from '../../protocol/generated/apis/produce.js';
import type { ProduceRequest } from '../../protocol/generated/messages/produce-request.js';
import type {
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
} from '../../protocol/generated/messages/produce-response.js';
import { DecodeError } from '../../protocol/primitives/index.js';
import { ATTRIBUTES_OFFSET, MAGIC_OFFSET, TRANSACTIONAL_FLAG_MASK } from '../../protocol/records/batch-header.js';
import { CompressionError } from '../../protocol/records/compression/index.js';
import { upConvertToV2 } from '../../protocol/records/conversion.js';
import { AppendValidationError, LogOfflineError } from '../../storage/partition-log.js';
import { ProducerStateError } from '../../storage/producer-state.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, type AuthorizedNames, authorize, authorizedNames, ResourceType } from '../authorization.js';
import { PRODUCER_BYTE_RATE, quotaUser } from '../client-quota-manager.js';
import { LeaderHints } from '../leader-hints.js';
import { produceSettings } from '../topic-settings.js';

const VALID_ACKS = new Set([-1, 0, 1]);

/**
 * Produce: looks up each partition's log, appends to it as a client (the log validates the batches, checks the
 * producer's transaction, re-compresses to the topic's codec and assigns offsets), and answers with the base
 * offset of each append. Appends are started before the handler's first await, so a client's pipelined
 * requests reach each log in order and share its group commit. With acks=all and the durable policy, the
 * answer waits for fsync; with acks=0 no answer is sent.
 *
 * Versions 0-2 carry legacy message sets (magic 0 and 1, the 0.10.x clients): their CRCs are checked and
 * they are converted to record batches v2 before the same append.
 */
export const produceHandler = defineHandler<ProduceRequest, ProduceResponse>({
  api: produceApi,
  minVersion: 0,
  maxVersion: 11,
  async handle(ctx, request) {
    const { apiVersion, broker, connection, header } = ctx;
    const nowMs = Date.now();
    // Kafka's checks: transactional records need WRITE on their transactional id (else every partition is
    // refused), each topic WRITE (else TOPIC_AUTHORIZATION_FAILED, before its existence is told).
    let writable: AuthorizedNames | null = null;
    const transactional = hasTransactionalRecords(request);
    if (broker.authorizer !== null) {
      if (
        transactional &&
        (request.transactionalId === null ||
          !authorize(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
      )
        return refuseAll(request, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, connection);
      const names = request.topicData.map((t) => t.name);
      writable = authorizedNames(ctx, AclOperation.WRITE, ResourceType.TOPIC, names);
    }
    const acksValid = VALID_ACKS.has(request.acks);
    const sync = request.acks === -1 && broker.settings.flushOnAcksAll;
    const pending: Promise<void>[] = [];
    let hints: LeaderHints | null = null;
    /** The partition's current leader, for a producer told NOT_LEADER_OR_FOLLOWER (KIP-951). */
    const leaderOf = (topic: string, partition: number) => {
      hints ??= new LeaderHints(broker, connection.socket.localPort);
      return hints.leaderOf(topic, partition);
    };
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
        if (writable !== null && !writable.has(t.name)) {
          response.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          return response;
        }
        const found = broker.replicas.lookup(t.name, p.index);
        if ('errorCode' in found) {
          response.errorCode = found.errorCode;
          if (found.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
            response.currentLeader = leaderOf(t.name, p.index);
          }
          return response;
        }
        if (!p.records || p.records.length === 0) {
          response.errorCode = ErrorCode.CORRUPT_MESSAGE;
          response.errorMessage = 'no records';
          return response;
        }
        const settings = produceSettings(found.topic, broker.settings);
        const isr = found.assignment.isr.length;
        if (request.acks === -1 && isr < settings.minInsyncReplicas) {
          response.errorCode = ErrorCode.NOT_ENOUGH_REPLICAS;
          response.errorMessage = `${isr} in-sync replica(s), fewer than min.insync.replicas ${settings.minInsyncReplicas}`;
          return response;
        }
        let records = p.records;
        if (apiVersion < 3) {
          if (records.length > settings.maxMessageBytes) {
            response.errorCode = ErrorCode.MESSAGE_TOO_LARGE;
            return response;
          }
          try {
            records = upConvertToV2(records).records;
          } catch (e) {
            if (!(e instanceof DecodeError || e instanceof CompressionError)) throw e;
            response.errorCode = ErrorCode.CORRUPT_MESSAGE;
            response.errorMessage = e.message;
            return response;
          }
        }
        pending.push(
          found.log
            .appendAsLeader(records, {
              origin: 'client',
              sync,
              validation: settings,
              nowMs,
              transactions: broker.transactions,
              transactionalId: request.transactionalId,
              // A transactional batch may wait for its coordinator on another broker (KIP-890's verification).
              stillLeader: transactional
                ? () => {
                    const again = broker.replicas.lookup(t.name, p.index);
                    return (
                      !('errorCode' in again) &&
                      again.log === found.log &&
                      again.assignment.leaderEpoch === found.assignment.leaderEpoch
                    );
                  }
                : undefined,
            })
            .then(
              (result) => {
                if (!result.duplicate) broker.metrics.messagesIn(t.name, result.recordCount ?? 0, p.records!.length);
                response.baseOffset = BigInt(result.baseOffset);
                if (apiVersion >= 5) response.logStartOffset = BigInt(result.logStartOffset);
                if (apiVersion >= 2 && !result.duplicate)
                  response.logAppendTimeMs = BigInt(result.logAppendTimeMs ?? -1);
                // acks=all on a replicated partition: answered once the in-sync replicas have the records (the
                // high watermark passed them), Kafka's delayed produce.
                // (A promise only then: the single-replica path stays synchronous.)
                if (request.acks === -1 && found.log.isReplicated) {
                  return broker.replicas
                    .waitForHighWatermark(
                      found.log,
                      result.lastOffset + 1,
                      settings.minInsyncReplicas,
                      request.timeoutMs,
                    )
                    .then((errorCode) => {
                      response.errorCode = errorCode;
                    });
                }
                return undefined;
              },
              (error: unknown) => {
                if (error instanceof AppendValidationError) {
                  response.errorCode = error.errorCode;
                  response.errorMessage = error.detail;
                  // The leadership moved while a transactional batch was verified: the new leader's hint (KIP-951).
                  if (error.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER)
                    response.currentLeader = leaderOf(t.name, p.index);
                  return;
                }
                if (error instanceof ProducerStateError) {
                  response.errorCode = error.errorCode;
                  response.errorMessage = error.message;
                  return;
                }
                response.errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
                if (!(error instanceof LogOfflineError))
                  broker.logger.error('append failed', { topic: t.name, partition: p.index, error: error as Error });
              },
            ),
        );
        return response;
      }),
    }));
    // acks=all waits for the appends to be durable and replicated: Kafka's produce purgatory, counted for /metrics.
    if (sync) broker.metrics.delayedProduceStarted();
    try {
      await Promise.all(pending);
    } finally {
      if (sync) broker.metrics.delayedProduceEnded();
    }
    // Producers' byte rate (producer_byte_rate), counted once the records are appended, as Kafka counts it.
    let throttleTimeMs = 0;
    if (!broker.quotas.isEmpty) {
      let bytes = 0;
      for (const t of request.topicData) for (const p of t.partitionData) bytes += p.records?.length ?? 0;
      const user = quotaUser(connection.principal);
      throttleTimeMs = broker.quotaManager.record(PRODUCER_BYTE_RATE, user, header.clientId ?? '', bytes, Date.now());
      connection.throttle(throttleTimeMs);
    }
    if (request.acks === 0) {
      // With acks=0 the client reads no answer; Kafka closes the connection on an error so that the client
      // notices, refreshes its metadata and reconnects.
      if (responses.some((t) => t.partitionResponses.some((p) => p.errorCode !== ErrorCode.NONE))) connection.close();
      return null;
    }
    // The leaders' endpoints go with the hints (the codec writes them from v10, as Kafka's KIP-951 does).
    return { responses, throttleTimeMs, nodeEndpoints: (hints as LeaderHints | null)?.nodeEndpoints() ?? [] };
  },
});

/** Whether a partition's records are a transactional batch v2 (Kafka looks at the first batch of each). */
function hasTransactionalRecords(request: ProduceRequest): boolean {
  for (const t of request.topicData)
    for (const p of t.partitionData) {
      const r = p.records;
      if (
        r &&
        r.length > ATTRIBUTES_OFFSET + 2 &&
        r[MAGIC_OFFSET] === 2 &&
        (r.readInt16BE(ATTRIBUTES_OFFSET) & TRANSACTIONAL_FLAG_MASK) !== 0
      )
        return true;
    }
  return false;
}

/** Every partition answered with `errorCode`, nothing written (acks=0: the connection is closed instead). */
function refuseAll(request: ProduceRequest, errorCode: number, connection: { close(): void }): ProduceResponse | null {
  if (request.acks === 0) {
    connection.close();
    return null;
  }
  return {
    responses: request.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({
        index: p.index,
        errorCode,
        baseOffset: -1n,
        logAppendTimeMs: -1n,
        logStartOffset: -1n,
        recordErrors: [],
        errorMessage: null,
        currentLeader: { leaderId: -1, leaderEpoch: -1 },
      })),
    })),
    throttleTimeMs: 0,
    nodeEndpoints: [],
  };
}
