import { ErrorCode } from '../../protocol/errors.js';

/**
 * The rules a transaction coordinator follows for each partition's answer to a COMMIT or ABORT marker, as
 * Kafka's TransactionMarkerRequestCompletionHandler and TransactionMarkerChannelManager have them. Pure, so that
 * they are tested on their own (test/unit/coordinator/marker-retry.test.ts).
 */

/** The first wait before a marker round is sent again; it doubles each round up to the maximum. */
export const MARKER_RETRY_BACKOFF_INITIAL_MS = 100;
/** The longest wait between two rounds of a transaction's markers. */
export const MARKER_RETRY_BACKOFF_MAX_MS = 1_000;

/** The wait after the `round`-th round (0 for the first) before the next one: 100, 200, 400, 800, 1000, 1000 ms... */
export function markerRetryBackoffMs(round: number): number {
  if (round < 0) return MARKER_RETRY_BACKOFF_INITIAL_MS;
  // Past 2^4 the maximum is reached anyway; the cap keeps the shift small for long outages.
  return Math.min(MARKER_RETRY_BACKOFF_MAX_MS, MARKER_RETRY_BACKOFF_INITIAL_MS * 2 ** Math.min(round, 10));
}

/**
 * What to do with one partition after a round:
 * - `written`: the marker is in the partition (acknowledged by its in-sync replicas);
 * - `retry`: send it again in the next round, to the partition's leader as the metadata then names it (the
 *   leader moved, is not known yet, cannot be reached, or has too few in-sync replicas);
 * - `drop`: the partition no longer needs it (its topic was deleted; the partition cannot hold transactions);
 * - `fenced`: the partition has seen a newer producer epoch or coordinator epoch (an operator's marker, or a newer
 *   coordinator): this coordinator sends it no more markers (Kafka's removeMarkersForTxnId);
 * - `fatal`: an answer a leader never gives a marker (Kafka throws IllegalStateException): logged at ERROR for
 *   the operator, not retried; the transaction stays prepared.
 */
export type MarkerOutcome = 'written' | 'retry' | 'drop' | 'fenced' | 'fatal';

/** Errors after which the marker is sent again: the leader is moving, unknown, unreachable or short of replicas. */
const RETRIABLE: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.KAFKA_STORAGE_ERROR,
  // The request was lost with its connection (Kafka's wasDisconnected) or the leader is not registered.
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.BROKER_NOT_AVAILABLE,
]);

/** Errors that say the transaction's markers are another coordinator's (or producer epoch's) business now. */
const FENCED: ReadonlySet<number> = new Set([
  ErrorCode.INVALID_PRODUCER_EPOCH,
  ErrorCode.TRANSACTION_COORDINATOR_FENCED,
]);

/** Errors after which the partition is taken out of the transaction: it cannot have transactional data. */
const DROPPED: ReadonlySet<number> = new Set([ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, ErrorCode.UNSUPPORTED_VERSION]);

/**
 * The outcome of one partition's answer. `topicExists` says whether the metadata still has the partition: an
 * UNKNOWN_TOPIC_OR_PARTITION is then a leader that has not created its log yet (retried); otherwise the topic was
 * deleted and the partition is dropped, as Kafka skips partitions without a leader endpoint.
 */
export function markerOutcome(errorCode: number, topicExists: boolean): MarkerOutcome {
  if (errorCode === ErrorCode.NONE) return 'written';
  if (errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return topicExists ? 'retry' : 'drop';
  if (RETRIABLE.has(errorCode)) return 'retry';
  if (FENCED.has(errorCode)) return 'fenced';
  if (DROPPED.has(errorCode)) return 'drop';
  // CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_REQUIRED_ACKS and anything unexpected.
  return 'fatal';
}

export interface MarkerPartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
}

/** A round's answers sorted by outcome. */
export interface MarkerRoundOutcome {
  written: MarkerPartitionResult[];
  retry: MarkerPartitionResult[];
  dropped: MarkerPartitionResult[];
  fenced: MarkerPartitionResult[];
  fatal: MarkerPartitionResult[];
}

/** The list of a round's outcome each partition's outcome goes to. */
const ROUND_LIST: Record<MarkerOutcome, keyof MarkerRoundOutcome> = {
  written: 'written',
  retry: 'retry',
  drop: 'dropped',
  fenced: 'fenced',
  fatal: 'fatal',
};

/** Sorts a round's answers by outcome; `topicExists` tells whether a partition is still in the metadata. */
export function settleMarkerRound(
  results: readonly MarkerPartitionResult[],
  topicExists: (topic: string, partition: number) => boolean,
): MarkerRoundOutcome {
  const outcome: MarkerRoundOutcome = { written: [], retry: [], dropped: [], fenced: [], fatal: [] };
  for (const r of results) {
    const exists = r.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && topicExists(r.topic, r.partition);
    outcome[ROUND_LIST[markerOutcome(r.errorCode, exists)]].push(r);
  }
  return outcome;
}
