import {
  RACK_AWARE_REPLICA_SELECTOR,
  type ReplicaSelectorClass,
  type ReplicaView,
  selectReadReplica,
} from '../../cluster/replica-selector.js';
import { listenerNameFor } from '../../config/broker-settings.js';
import { ErrorCode } from '../../protocol/errors.js';
import { fetchApi } from '../../protocol/generated/apis/fetch.js';
import type { FetchRequest } from '../../protocol/generated/messages/fetch-request.js';
import type {
  FetchResponse,
  FetchResponseFetchableTopicResponse,
  FetchResponsePartitionData,
} from '../../protocol/generated/messages/fetch-response.js';
import { DecodeError } from '../../protocol/primitives/decode-error.js';
import {
  BASE_OFFSET_OFFSET,
  batchSize,
  LAST_OFFSET_DELTA_OFFSET,
  RECORD_BATCH_OVERHEAD,
} from '../../protocol/records/batch-header.js';
import { CompressionError } from '../../protocol/records/compression/index.js';
import { downConvertFromV2 } from '../../protocol/records/conversion.js';
import type { Connection } from '../../server/connection.js';
import { CorruptBatchError } from '../../storage/log-segment.js';
import { OffsetOutOfRangeError, type PartitionLog } from '../../storage/partition-log.js';
import type { BrokerServices, RequestContext } from '../api-handler.js';
import { defineHandler } from '../api-handler.js';
import {
  AclOperation,
  type AuthorizedNames,
  authorizeCluster,
  authorizedNames,
  ResourceType,
} from '../authorization.js';
import { CONSUMER_BYTE_RATE, quotaUser } from '../client-quota-manager.js';
import type { FetchPartitionOutcome, FetchPartitionRequest } from '../fetch-session.js';
import { LeaderHints } from '../leader-hints.js';
import { partitionWaitKey, ReplicaManager } from '../replica-manager.js';

const READ_COMMITTED = 1;
/** Kafka answers an empty read with an empty record set, never null (librdkafka rejects null). */
const NO_RECORDS = Buffer.alloc(0);

interface PartitionRead {
  data: FetchResponsePartitionData;
  outcome: FetchPartitionOutcome;
  /** The log read and its high watermark then: unchanged, a long poll's next round keeps this read. */
  log: PartitionLog | null;
  highWatermark: number;
  /** The byte limit of the read, the batches it returned (as stored) and the end it could have read to. */
  limit: number;
  stored: Buffer | null;
  readableEnd: number;
  fetchOffset: number;
  /** A follower's read: up to the log end offset. */
  replica: boolean;
  /** A follower's read of a partition in this broker's leader-throttled replicas (KIP-73): its bytes count. */
  leaderThrottled: boolean;
}

/** Whether the read stopped short of the readable end for want of room (or had no room at all). */
function cutByLimit(r: PartitionRead): boolean {
  if (r.stored) return nextOffsetAfter(r.stored) < r.readableEnd;
  return r.limit === 0 && r.fetchOffset < r.readableEnd;
}

/** The offset after the last of `records`' whole v2 batches. */
function nextOffsetAfter(records: Buffer): number {
  let next = -1;
  for (let at = 0; at + RECORD_BATCH_OVERHEAD <= records.length; at += batchSize(records, at)) {
    next =
      Number(records.readBigInt64BE(at + BASE_OFFSET_OFFSET)) + records.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1;
  }
  return next;
}

function emptyPartition(partitionIndex: number, errorCode: number): FetchResponsePartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: NO_RECORDS,
  };
}

/**
 * Batches in a legacy format. A batch that cannot be decoded (damaged while its header is intact: reads check
 * headers, not CRCs) ends the answer before it; null when it is the first, so that the client gets
 * CORRUPT_MESSAGE rather than a closed connection.
 */
function downConvert(records: Buffer, magic: 0 | 1): Buffer | null {
  try {
    return downConvertFromV2(records, magic);
  } catch (e) {
    if (!(e instanceof DecodeError || e instanceof CompressionError)) throw e;
  }
  // Rare: batch by batch, to keep those before the damaged one.
  const parts: Buffer[] = [];
  for (let at = 0; at + RECORD_BATCH_OVERHEAD <= records.length; ) {
    const size = batchSize(records, at);
    try {
      parts.push(downConvertFromV2(records.subarray(at, at + size), magic));
    } catch (e) {
      if (!(e instanceof DecodeError || e instanceof CompressionError)) throw e;
      break;
    }
    at += size;
  }
  const out = Buffer.concat(parts);
  return out.length > 0 ? out : null;
}

/**
 * True when the partition of a read has been appended to since: its high watermark moved, or for a follower's read
 * (which goes to the log end) its log end.
 */
function moved(read: PartitionRead): boolean {
  if (read.log === null) return false;
  return read.replica ? read.log.logEndOffset !== read.readableEnd : read.log.highWatermark !== read.highWatermark;
}

/**
 * Reads every partition, within the request's byte limits. With `previous` (a long poll woken up), keeps the
 * reads of partitions that did not move, re-reading only those that did (and, as the byte limits are shared in
 * order, those holding records behind one that was re-read).
 */
async function readPartitions(
  broker: BrokerServices,
  replicaId: number,
  apiVersion: number,
  partitions: FetchPartitionRequest[],
  maxBytes: number,
  readCommitted: boolean,
  readable: AuthorizedNames | null,
  hints: LeaderHints | null,
  readReplicas: ReadReplicaChoice | null,
  previous?: PartitionRead[],
): Promise<PartitionRead[]> {
  const usesTopicIds = apiVersion >= 13;
  let bytes = 0;
  let reread = false;
  const reads: PartitionRead[] = [];
  // KIP-73: a follower's fetch leaves out the leader-throttled partitions it is not in the ISR of while this
  // broker's leader quota is exceeded (Kafka's shouldLeaderThrottle), checked once per read.
  const leaderQuota = broker.replicationQuotas.leader;
  let leaderQuotaExceeded: boolean | undefined;
  for (let i = 0; i < partitions.length; i++) {
    const p = partitions[i]!;
    const before = previous?.[i];
    if (before && !moved(before) && !(reread && before.outcome.recordsBytes > 0)) {
      reads.push(before);
      bytes += before.outcome.recordsBytes;
      continue;
    }
    if (before) reread = true;
    let found = !p.topic
      ? { errorCode: usesTopicIds ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
      : readable !== null && !readable.has(p.topic)
        ? { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }
        : replicaId < 0 && apiVersion >= FIRST_VERSION_FROM_FOLLOWERS
          ? broker.replicas.lookupForConsumer(p.topic, p.partition)
          : broker.replicas.lookup(p.topic, p.partition);
    if (!('errorCode' in found)) {
      // Kafka's check of the epoch the client or follower knows (v9+ carries it; -1: no check).
      const epochError = ReplicaManager.leaderEpochError(found.assignment, p.currentLeaderEpoch);
      if (epochError !== ErrorCode.NONE) found = { errorCode: epochError };
      else if (replicaId >= 0) {
        // A follower's fetch offset says what it holds: its state (and maybe the high watermark) moves first, so
        // that the answer carries the high watermark it made.
        const followerError = broker.replicas.updateFollowerFetchState(
          found.log,
          replicaId,
          Number(p.fetchOffset),
          Number(p.logStartOffset),
        );
        if (followerError !== ErrorCode.NONE) found = { errorCode: followerError };
      }
    }
    if ('errorCode' in found) {
      const data = emptyPartition(p.partition, found.errorCode);
      if (found.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER && hints) {
        data.currentLeader = hints.leaderOf(p.topic, p.partition);
      }
      reads.push({
        data,
        outcome: { errorCode: found.errorCode, highWatermark: -1n, logStartOffset: -1n, recordsBytes: 0 },
        log: null,
        highWatermark: -1,
        limit: 0,
        stored: null,
        readableEnd: -1,
        fetchOffset: -1,
        replica: false,
        leaderThrottled: false,
      });
      continue;
    }
    const { log } = found;
    const logEndOffset = log.logEndOffset;
    const highWatermark = log.highWatermark;
    const lastStableOffset = log.lastStableOffset;
    const data = emptyPartition(p.partition, ErrorCode.NONE);
    if (apiVersion >= 4) data.abortedTransactions = readCommitted ? [] : null;
    // KIP-392: a follower closer to the consumer is named, and nothing read here (Kafka's answer).
    const readReplica = readReplicas && !('follower' in found) ? readReplicas.choose(log, Number(p.fetchOffset)) : -1;
    const leaderThrottled = replicaId >= 0 && leaderQuota.isThrottled(p.topic, p.partition);
    let throttled = false;
    if (leaderThrottled && !found.assignment.isr.includes(replicaId)) {
      leaderQuotaExceeded ??= leaderQuota.isQuotaExceeded();
      throttled = leaderQuotaExceeded;
      if (throttled) leaderQuota.recordThrottled();
    }
    const limit = readReplica >= 0 || throttled ? 0 : Math.max(Math.min(p.maxBytes, maxBytes - bytes), 0);
    data.preferredReadReplica = readReplica;
    let stored: Buffer | null = null;
    try {
      // KIP-74: the first partition with data returns at least one whole batch, even past the limits.
      const result =
        readReplica < 0 && !throttled && (limit > 0 || bytes === 0)
          ? replicaId >= 0
            ? await log.readForFollower(Number(p.fetchOffset), limit, bytes === 0)
            : await log.read(Number(p.fetchOffset), limit, bytes === 0, readCommitted)
          : null;
      if (result && result.records.length > 0) {
        stored = result.records;
        if (apiVersion >= 4 && result.abortedTransactions) {
          data.abortedTransactions = result.abortedTransactions.map((t) => ({
            producerId: t.producerId,
            firstOffset: BigInt(t.firstOffset),
          }));
        }
        // Fetch v0-3 consumers read message format v0 (v0-1) or v1 (v2-3).
        data.records = apiVersion >= 4 ? result.records : downConvert(result.records, apiVersion >= 2 ? 1 : 0);
        if (data.records === null) {
          data.errorCode = ErrorCode.CORRUPT_MESSAGE;
          data.records = NO_RECORDS;
        }
        bytes += result.records.length;
      }
    } catch (e) {
      // A damaged batch where the read starts (logged by the log): as Kafka's CorruptRecordException, the
      // partition gets CORRUPT_MESSAGE and the rest of the response and the connection go on.
      if (e instanceof CorruptBatchError) data.errorCode = ErrorCode.CORRUPT_MESSAGE;
      else if (e instanceof OffsetOutOfRangeError) data.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      else throw e;
    }
    data.highWatermark = BigInt(highWatermark);
    if (apiVersion >= 4) data.lastStableOffset = BigInt(lastStableOffset);
    if (apiVersion >= 5) data.logStartOffset = BigInt(log.logStartOffset);
    reads.push({
      data,
      outcome: {
        errorCode: data.errorCode,
        highWatermark: data.highWatermark,
        logStartOffset: data.logStartOffset,
        recordsBytes: data.records?.length ?? 0,
      },
      log,
      highWatermark,
      limit,
      stored,
      readableEnd: replicaId >= 0 ? logEndOffset : readCommitted ? lastStableOffset : highWatermark,
      fetchOffset: Number(p.fetchOffset),
      replica: replicaId >= 0,
      leaderThrottled,
    });
  }
  return reads;
}

/** Per connection, the Fetch read last (settled once it is done). */
const fetchesInProgress = new WeakMap<Connection, Promise<void>>();

/**
 * Fetch: returns byte ranges of the logs, as stored, from each partition's fetch offset. Waits up to
 * max_wait_ms for min_bytes, woken by appends to the partitions asked for. Incremental fetch sessions
 * (KIP-227) let the response carry only the partitions with news.
 *
 * Versions 0-3 are answered in the legacy message formats their consumers read (down-converted).
 */
export const fetchHandler = defineHandler<FetchRequest, FetchResponse>({
  api: fetchApi,
  minVersion: 0,
  maxVersion: 16,
  async handle(ctx, request) {
    const { connection } = ctx;
    // One Fetch of a connection reads at a time, once the answers before it were written: Kafka's clients
    // send one Fetch at a time per broker, and a client pipelining many without reading their answers would
    // otherwise get fetch.max.bytes of memory each (now at most two: one written, one being built).
    const previous = fetchesInProgress.get(connection);
    let done!: () => void;
    fetchesInProgress.set(connection, new Promise<void>((resolve) => (done = resolve)));
    try {
      if (previous) {
        await previous;
        await connection.whenResponsesWritten();
      }
      return await answerFetch(ctx, request);
    } finally {
      done();
    }
  },
});

/** The first Fetch version that carries the consumer's rack, and so may be answered by a follower (KIP-392). */
const FIRST_VERSION_FROM_FOLLOWERS = 11;

/**
 * The leader's choice of replica for a consumer's fetches (KIP-392), with `replica.selector.class` and the rack
 * the consumer gave: built only when the selector could pick a follower.
 */
class ReadReplicaChoice {
  private constructor(
    private readonly broker: BrokerServices,
    private readonly selector: ReplicaSelectorClass,
    private readonly clientRack: string,
    private readonly listenerName: string,
  ) {}

  static forRequest(
    broker: BrokerServices,
    replicaId: number,
    apiVersion: number,
    clientRack: string,
    connection: Connection,
  ): ReadReplicaChoice | null {
    const selector = broker.settings.replication.replicaSelector;
    if (replicaId >= 0 || apiVersion < FIRST_VERSION_FROM_FOLLOWERS || selector !== RACK_AWARE_REPLICA_SELECTOR) {
      return null;
    }
    if (clientRack === '') return null;
    const listenerName = listenerNameFor(broker.settings, connection.socket.localPort);
    return new ReadReplicaChoice(broker, selector, clientRack, listenerName);
  }

  /**
   * The follower the consumer should read `log` from at `fetchOffset`, or -1 for this broker (the leader). Only
   * followers in the ISR holding that offset, and reachable on the consumer's listener, are candidates.
   */
  choose(log: PartitionLog, fetchOffset: number): number {
    const { broker } = this;
    const rackOf = (nodeId: number) => broker.cluster.get(nodeId)?.rack ?? null;
    const leader: ReplicaView = {
      nodeId: broker.settings.nodeId,
      rack: rackOf(broker.settings.nodeId),
      logEndOffset: log.logEndOffset,
      timeSinceLastCaughtUpMs: 0,
    };
    const replicas: ReplicaView[] = [leader];
    for (const c of broker.replicas.readReplicaCandidates(log, fetchOffset)) {
      if (broker.cluster.endpoint(c.nodeId, this.listenerName) === null) continue;
      replicas.push({ ...c, rack: rackOf(c.nodeId) });
    }
    const chosen = selectReadReplica(this.selector, this.clientRack, leader, replicas);
    return chosen === leader ? -1 : chosen.nodeId;
  }
}

/** The first Fetch version whose partitions carry CurrentLeader (KIP-951); NodeEndpoints come in v16. */
const FIRST_VERSION_WITH_CURRENT_LEADER = 12;

/**
 * The topics the request may read, null for all (no authorizer): Kafka's READ on each topic for consumers, and
 * CLUSTER_ACTION for a replica's fetch (which reads every topic or none).
 */
function readableTopics(
  ctx: RequestContext,
  request: FetchRequest,
  partitions: FetchPartitionRequest[],
): AuthorizedNames | null {
  if (ctx.broker.authorizer === null) return null;
  const replicaId = ctx.apiVersion >= 15 ? request.replicaState.replicaId : request.replicaId;
  const names = partitions.map((p) => p.topic);
  if (replicaId >= 0) return authorizeCluster(ctx, AclOperation.CLUSTER_ACTION) ? new Set(names) : new Set();
  return authorizedNames(ctx, AclOperation.READ, ResourceType.TOPIC, names);
}

async function answerFetch(ctx: RequestContext, request: FetchRequest): Promise<FetchResponse> {
  const { apiVersion, broker, connection } = ctx;
  const clientId = ctx.header.clientId ?? '';
  const replicaId = apiVersion >= 15 ? request.replicaState.replicaId : request.replicaId;
  const usesTopicIds = apiVersion >= 13;
  const requested: FetchPartitionRequest[] = [];
  for (const t of request.topics) {
    const topic = usesTopicIds ? (broker.topics.getById(t.topicId)?.name ?? '') : t.topic;
    for (const p of t.partitions) {
      requested.push({
        topic,
        topicId: t.topicId,
        partition: p.partition,
        fetchOffset: p.fetchOffset,
        logStartOffset: p.logStartOffset,
        maxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: p.currentLeaderEpoch,
        lastFetchedEpoch: p.lastFetchedEpoch,
      });
    }
  }
  const forgotten = request.forgottenTopicsData.flatMap((t) => {
    const topic = usesTopicIds ? (broker.topics.getById(t.topicId)?.name ?? '') : t.topic;
    return t.partitions.map((partition) => ({ topic, topicId: t.topicId, partition }));
  });
  const context = broker.fetchSessions.newContext(
    apiVersion,
    request.sessionId,
    request.sessionEpoch,
    requested,
    forgotten,
  );
  if (context.kind === 'error') {
    return { throttleTimeMs: 0, errorCode: context.errorCode, sessionId: 0, responses: [], nodeEndpoints: [] };
  }
  const partitions = context.partitions;
  const readCommitted = request.isolationLevel === READ_COMMITTED;
  // As in Kafka, fetch.max.bytes bounds every response (v0-2 carry no limit of their own), and min_bytes
  // cannot ask for more than that.
  const maxBytes = Math.min(
    apiVersion >= 3 ? request.maxBytes : Number.MAX_SAFE_INTEGER,
    broker.settings.fetchMaxBytes,
    // Without any quota (the usual case) nothing is resolved per fetch.
    replicaId < 0 && !broker.quotas.isEmpty
      ? broker.quotaManager.maxBytesInWindow(CONSUMER_BYTE_RATE, quotaUser(connection.principal), clientId)
      : Number.POSITIVE_INFINITY,
  );
  const minBytes = Math.min(request.minBytes, maxBytes);
  const deadline = Date.now() + request.maxWaitMs;

  const readable = readableTopics(ctx, request, partitions);
  // KIP-951: the current leader of a partition led elsewhere (v12+), and its endpoint (v16+).
  const hints =
    apiVersion >= FIRST_VERSION_WITH_CURRENT_LEADER ? new LeaderHints(broker, connection.socket.localPort) : null;
  const readReplicas = ReadReplicaChoice.forRequest(broker, replicaId, apiVersion, request.rackId, connection);
  let reads = await readPartitions(
    broker,
    replicaId,
    apiVersion,
    partitions,
    maxBytes,
    readCommitted,
    readable,
    hints,
    readReplicas,
  );
  // As in Kafka, min_bytes counts what the logs hold up to each partition's limit: a read that its limit cut
  // short counts as its whole limit (else min_bytes near max_bytes could wait out max_wait_ms, data there).
  const enough = (rs: PartitionRead[]) => {
    let bytes = 0;
    for (const r of rs) {
      // A consumer sent to another replica is answered at once, not after max_wait_ms (KAFKA-13767).
      if (r.outcome.errorCode !== ErrorCode.NONE || r.data.preferredReadReplica >= 0) return true;
      bytes += r.outcome.recordsBytes;
    }
    if (bytes >= minBytes) return true;
    // Rarely reached (min_bytes is usually 1): only then are the batch headers walked.
    for (const r of rs) if (cutByLimit(r)) bytes += Math.max(r.limit - r.outcome.recordsBytes, 0);
    return bytes >= minBytes;
  };
  // Long poll: wait for appends to one of these partitions, re-read those, until min_bytes or the deadline.
  // With no partitions nothing can wake the wait, and Kafka answers at once.
  let keys: string[] | null = null;
  while (partitions.length > 0 && !enough(reads) && Date.now() < deadline) {
    keys ??= partitions.map((p) => partitionWaitKey(p.topic, p.partition));
    const current = reads;
    // An append may have landed while the reads awaited the disk: check every partition once. After that,
    // a notify for one of the keys means its high watermark moved, so there is nothing more to check.
    let checked = false;
    const woken = await broker.replicas.delayedFetches.wait(keys, deadline - Date.now(), () => {
      if (checked) return true;
      checked = true;
      return current.some(moved);
    });
    if (!woken) break;
    reads = await readPartitions(
      broker,
      replicaId,
      apiVersion,
      partitions,
      maxBytes,
      readCommitted,
      readable,
      hints,
      readReplicas,
      current,
    );
  }

  // Consumers' byte rate (consumer_byte_rate): a fetch that takes the client over its quota is answered empty
  // with the time to wait, its bytes not counted, and its session left as it was (Kafka's throttled response).
  // So is a fetch of a client over its request_percentage (the dispatcher counts this request's time after).
  if (replicaId < 0 && !broker.quotas.isEmpty) {
    const user = quotaUser(connection.principal);
    const nowMs = Date.now();
    let throttleTimeMs = broker.quotaManager.requestThrottleTimeMs(user, clientId, nowMs);
    if (throttleTimeMs === 0) {
      let bytes = 0;
      for (const r of reads) bytes += r.outcome.recordsBytes;
      throttleTimeMs = broker.quotaManager.record(CONSUMER_BYTE_RATE, user, clientId, bytes, nowMs, true);
    }
    if (throttleTimeMs > 0) {
      connection.throttle(throttleTimeMs);
      const sessionId = context.kind === 'incremental' ? context.session.id : 0;
      return { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId, responses: [], nodeEndpoints: [] };
    }
  }
  const { sessionId, send } = broker.fetchSessions.complete(
    context,
    reads.map((r) => r.outcome),
  );
  const responses: FetchResponseFetchableTopicResponse[] = [];
  let current: FetchResponseFetchableTopicResponse | null = null;
  for (const i of send) {
    const p = partitions[i]!;
    if (!current || current.topic !== p.topic || current.topicId !== p.topicId) {
      current = { topic: p.topic, topicId: p.topicId, partitions: [] };
      responses.push(current);
    }
    const read = reads[i]!;
    current.partitions.push(read.data);
    // Kafka keeps the followers' fetches out of BytesOutPerSec (ReplicationBytesOutPerSec).
    const bytes = read.data.records?.length ?? 0;
    if (replicaId >= 0) {
      broker.metrics.replicationBytesOut(bytes);
      // Kafka counts the throttled partitions' bytes sent to followers against the leader quota.
      if (read.leaderThrottled) broker.replicationQuotas.leader.record(bytes);
    } else broker.metrics.bytesOut(p.topic, bytes);
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId,
    responses,
    nodeEndpoints: hints?.nodeEndpoints() ?? [],
  };
}
