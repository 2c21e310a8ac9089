import type { ProducerIdManager } from '../../cluster/producer-ids.js';
import { CONSUMER_OFFSETS_TOPIC } from '../../cluster/topic-name.js';
import type { Logger } from '../../observability/logger.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { TransactionMarkerAppend, TransactionWriteCheck } from '../../storage/partition-log.js';
import { ProducerStateError } from '../../storage/producer-state.js';
import { partitionForGroup } from '../group/offsets-records.js';
import { type CoordinatorClock, systemClock, type TimerHandle } from '../runtime/coordinator-clock.js';
import type { CoordinatorLog } from '../runtime/coordinator-log.js';
import { CoordinatorRuntime, type CoordinatorWrite } from '../runtime/coordinator-runtime.js';
import { type MarkerPartitionResult, markerRetryBackoffMs, settleMarkerRound } from './marker-retry.js';
import { TransactionState } from './transaction-log-records.js';
import {
  type TransactionLogRecord,
  type TransactionMetadata,
  TransactionShard,
  transactionLogSerde,
} from './transaction-shard.js';
import { offsetCommitErrorOf, produceErrorOf, verifyPartitionInTransaction } from './transaction-verification.js';

export type { TransactionMetadata } from './transaction-shard.js';

/** The transaction coordinator's configs (transaction.* broker configs). */
export interface TransactionSettings {
  /** transaction.state.log.num.partitions */
  stateLogNumPartitions: number;
  /** transaction.state.log.replication.factor */
  stateLogReplicationFactor: number;
  /** transaction.max.timeout.ms: the longest transaction.timeout.ms a producer may ask for. */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms: an idle transactional id is forgotten after this long. */
  transactionalIdExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  abortTimedOutIntervalMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredIntervalMs: number;
}

export function defaultTransactionSettings(): TransactionSettings {
  return {
    stateLogNumPartitions: 50,
    stateLogReplicationFactor: 3,
    maxTimeoutMs: 900_000,
    transactionalIdExpirationMs: 604_800_000,
    abortTimedOutIntervalMs: 10_000,
    removeExpiredIntervalMs: 3_600_000,
  };
}

export interface TransactionCoordinatorDeps {
  settings: TransactionSettings;
  /** The log of a partition of `__transaction_state` led here, or Kafka's error for it. */
  stateLog(partition: number): CoordinatorLog | { errorCode: number };
  /** Partition count of `__transaction_state`, or null before it exists. */
  stateLogPartitionCount(): number | null;
  createStateTopic(numPartitions: number): Promise<number>;
  /**
   * A data partition led here (markers are written to it), or null. Its append rejects with the partition's
   * error as a KafkaError (or the log's ProducerStateError); anything else counts as KAFKA_STORAGE_ERROR.
   */
  partitionLog(
    topic: string,
    partition: number,
  ): { appendMarker(marker: TransactionMarkerAppend, options: { sync: boolean }): Promise<unknown> } | null;
  /**
   * Writes a marker to partitions that have no log here (led by another broker, or whose log here cannot take
   * it), through their leaders as the metadata names them now; resolves with each partition's error code
   * (UNKNOWN_TOPIC_OR_PARTITION: not in the metadata; LEADER_NOT_AVAILABLE: no leader yet; NETWORK_EXCEPTION: the
   * leader could not be reached or the connection was lost). Without it such partitions are skipped, as a single
   * broker skips partitions deleted since.
   */
  writeRemoteMarkers?(
    partitions: ReadonlyArray<{ topic: string; partition: number }>,
    marker: TransactionMarker,
  ): Promise<Array<{ topic: string; partition: number; errorCode: number }>>;
  /**
   * Whether the metadata still has the partition: an UNKNOWN_TOPIC_OR_PARTITION from its leader is then retried
   * (its log not created yet), else the partition is dropped from the transaction (its topic deleted). Without
   * it every such partition counts as deleted.
   */
  partitionExists?(topic: string, partition: number): boolean;
  /** Markers must wait for fsync (the broker's acks=all policy). */
  syncWrites: boolean;
  /** The coordinator epoch written into markers: the leader epoch of the transaction's state partition. */
  coordinatorEpoch(partition: number): number;
  producerIds: Pick<ProducerIdManager, 'nextProducerId'>;
  /**
   * Asks the broker leading partition `stateLogPartition` of `__transaction_state` whether a partition is in the
   * producer's open transaction, for a transactional batch or offset commit about to be written here; resolves
   * with the coordinator's code (AddPartitionsToTxn v4's: NONE, TRANSACTION_ABORTABLE, PRODUCER_FENCED, ...;
   * NETWORK_EXCEPTION or COORDINATOR_NOT_AVAILABLE when it could not be asked). Without it such writes are taken
   * unverified (a single broker coordinates every transaction itself).
   */
  verifyElsewhere?(
    stateLogPartition: number,
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    topic: string,
    partition: number,
  ): Promise<number>;
  /** Called after a marker is written, so that the group coordinator can settle transactional offsets. */
  onMarkerWritten(topic: string, partition: number, producerId: bigint, committed: boolean): void;
  logger: Logger;
  clock?: CoordinatorClock;
}

/** A transaction marker as the coordinator has it written. */
export interface TransactionMarker {
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  committed: boolean;
}

/**
 * A transaction's markers being written: one per transactional id at a time, shared by EndTxn, the load path and
 * the periodic pass that all ask for the same prepared transaction.
 */
interface Completion {
  /** The prepared metadata (replay makes a new object per record, so identity names this Prepare record). */
  readonly md: TransactionMetadata;
  readonly shard: TransactionShard;
  /**
   * How the first round went: every marker written (`written`, the Complete record follows), some to send again
   * (`pending`), or the partition no longer coordinated here before any marker went (`lost`).
   */
  readonly firstRound: Promise<'written' | 'pending' | 'lost'>;
  /** NONE once the Complete record is committed; the reason it was not otherwise. */
  done: Promise<number>;
  /** Between rounds, waiting for the backoff (`idle()` counts such a completion as idle). */
  sleeping: boolean;
}

/** A transactional batch needs its producer's transactional id in the produce request. */
const WITHOUT_TRANSACTIONAL_ID: TransactionWriteCheck = Object.freeze({
  errorCode: ErrorCode.INVALID_TXN_STATE,
  message: 'a transactional batch needs the transactional id of its producer',
});

/** The answer a local marker append failed with, as a partition's leader would answer WriteTxnMarkers. */
function markerErrorCode(error: unknown): number {
  if (error instanceof KafkaError) return error.code;
  if (error instanceof ProducerStateError) return error.errorCode;
  return ErrorCode.KAFKA_STORAGE_ERROR;
}

export type InitProducerIdResult = { errorCode: number; producerId: bigint; producerEpoch: number };

const ABORT_TIMED_OUT_TIMER = 'abort-timed-out-transactions';
const REMOVE_EXPIRED_TIMER = 'remove-expired-transactional-ids';

/** The error code a failed runtime operation answers with; anything else is a bug and goes on up. */
function errorCodeOf(error: unknown): number {
  if (error instanceof KafkaError) return error.code;
  throw error;
}

/**
 * Kafka's transaction coordinator: gives transactional producers their id and epoch (fencing older instances
 * of the same transactional id), tracks the partitions of each transaction, and ends it by writing COMMIT or
 * ABORT markers to every one of them. A transactional id belongs to partition hash(id) mod N of
 * `__transaction_state`; each partition is a `TransactionShard` run by the coordinator runtime: every state
 * change is a record of that partition, applied by the replay that also loads it (in Kafka's record format),
 * and a transaction found prepared at load (PrepareCommit/PrepareAbort) is completed then.
 *
 * Ending a transaction is three steps: the Prepare record (committed before any marker, so that a crash leaves
 * a transaction that load completes, never markers without a decision), the markers, then the Complete record.
 * The records go through the partition's queue; the markers are sent outside it, in rounds that retry each
 * partition against its current leader (`marker-retry.ts`) for as long as this broker coordinates the
 * partition at the same coordinator epoch. EndTxn is answered after the Complete record when every marker went
 * in the first round (leaving no window in which a client sees CONCURRENT_TRANSACTIONS for its next
 * transaction), otherwise as Kafka answers: NONE once the Prepare record is committed, the markers following.
 */
export class TransactionCoordinator {
  private readonly runtime: CoordinatorRuntime<TransactionShard, TransactionLogRecord>;
  private creatingTopic: Promise<number> | null = null;
  private readonly clock: CoordinatorClock;
  /** Transactions whose markers are being written, by transactional id. */
  private readonly completions = new Map<string, Completion>();
  /** Wakes the completions waiting between two rounds (close() ends them). */
  private readonly sleepers = new Set<() => void>();
  private closing = false;

  constructor(private readonly deps: TransactionCoordinatorDeps) {
    this.clock = deps.clock ?? systemClock;
    this.runtime = new CoordinatorRuntime({
      name: 'transactions',
      newShard: () => new TransactionShard(),
      serde: transactionLogSerde,
      logFor: (partition) => {
        const log = deps.stateLog(partition);
        return 'errorCode' in log ? log.errorCode : log;
      },
      clock: this.clock,
      logger: deps.logger,
      onLoaded: (partition, shard) => {
        if (shard.transactions.size > 0)
          deps.logger.info('transactions loaded', { partition, transactionalIds: shard.transactions.size });
        this.scheduleAbortTimedOut(partition);
        this.scheduleRemoveExpired(partition);
        // The markers of these may not all have been written before the broker stopped: write them (again).
        this.completePrepared(partition);
      },
    });
  }

  get settings(): TransactionSettings {
    return this.deps.settings;
  }

  /** Loads every partition of `__transaction_state` led here. */
  async start(): Promise<void> {
    const count = this.deps.stateLogPartitionCount();
    if (count !== null) for (let p = 0; p < count; p++) await this.runtime.load(p);
  }

  /** This broker became the leader of a `__transaction_state` partition: its transactions are loaded. */
  loadPartition(partition: number): Promise<void> {
    return this.runtime.load(partition);
  }

  /** This broker no longer leads a `__transaction_state` partition: its transactions go (NOT_COORDINATOR). */
  unloadPartition(partition: number): void {
    this.runtime.unload(partition);
  }

  /**
   * Stops the marker rounds (a round under way finishes; those waiting to be sent again stop), lets operations
   * in progress finish, then unloads every partition (before the logs close).
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all([...this.completions.values()].map((c) => c.done));
    await this.runtime.close();
  }

  /**
   * Resolves once no operation is queued or under way (the timers' included), and every transaction whose
   * markers are being written is waiting for its next round or done.
   */
  async idle(): Promise<void> {
    for (;;) {
      await this.runtime.idle();
      if ([...this.completions.values()].every((c) => c.sleeping)) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  partitionFor(transactionalId: string): number {
    return partitionForGroup(
      transactionalId,
      this.deps.stateLogPartitionCount() ?? this.settings.stateLogNumPartitions,
    );
  }

  /** FindCoordinator with key type TRANSACTION: creates `__transaction_state` on first use. NONE means here. */
  async findCoordinator(transactionalId: string): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    if (this.deps.stateLogPartitionCount() === null) {
      this.creatingTopic ??= this.deps.createStateTopic(this.settings.stateLogNumPartitions).finally(() => {
        this.creatingTopic = null;
      });
      const errorCode = await this.creatingTopic;
      if (errorCode !== ErrorCode.NONE && errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS)
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    const errorCode = this.logError(transactionalId);
    if (errorCode !== ErrorCode.NONE) return errorCode;
    // The coordinator is here even while its partition loads: the client's next call may meet LOAD_IN_PROGRESS.
    const partition = this.partitionFor(transactionalId);
    if (!this.runtime.isKnown(partition)) await this.runtime.load(partition);
    return ErrorCode.NONE;
  }

  /** NONE when this broker leads the id's partition of `__transaction_state`. */
  private logError(transactionalId: string): number {
    if (this.deps.stateLogPartitionCount() === null) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const log = this.deps.stateLog(this.partitionFor(transactionalId));
    if ('errorCode' in log)
      return log.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER
        ? ErrorCode.NOT_COORDINATOR
        : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return ErrorCode.NONE;
  }

  /**
   * NONE when the id's partition serves here. A partition led here but never loaded (created since start-up,
   * or whose load failed) is loaded first; one loading (a reload after a failed write) answers
   * COORDINATOR_LOAD_IN_PROGRESS.
   */
  private async coordinatorError(transactionalId: string): Promise<number> {
    const errorCode = this.logError(transactionalId);
    if (errorCode !== ErrorCode.NONE) return errorCode;
    const partition = this.partitionFor(transactionalId);
    if (!this.runtime.isKnown(partition)) await this.runtime.load(partition);
    return this.runtime.status(partition);
  }

  /** Runs `op` on the id's partition; a runtime failure (not coordinator, loading, failed append) as its code. */
  private async write<T>(
    transactionalId: string,
    name: string,
    op: CoordinatorWrite<TransactionShard, TransactionLogRecord, T>,
  ): Promise<T | { failed: number }> {
    try {
      return await this.runtime.write(this.partitionFor(transactionalId), name, op);
    } catch (error) {
      return { failed: errorCodeOf(error) };
    }
  }

  // ---- Completing transactions ----

  /**
   * Starts writing the markers of a prepared transaction, then its Complete record (or joins the completion
   * already under way for the same Prepare record). A number when there is nothing to start: NONE when the
   * transaction is not prepared under this producer id and epoch (completed already), else the partition's
   * status (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
   *
   * This is the one path that completes a transaction, whether its Prepare record was just written (EndTxn, an
   * InitProducerId or a timeout aborting) or found by replay when the partition loaded (a previous coordinator
   * died between the records): the markers are sent outside the partition's queue, so that a leader being
   * elected for one data partition holds up no other transaction of the coordinator.
   */
  private startCompletion(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch?: number,
  ): Completion | number {
    const partition = this.partitionFor(transactionalId);
    const shard = this.runtime.shard(partition);
    if (!shard) return this.runtime.status(partition);
    const md = shard.prepared(transactionalId, producerId, producerEpoch);
    if (!md) return ErrorCode.NONE;
    const running = this.completions.get(transactionalId);
    if (running && running.md === md && running.shard === shard) return running;
    let settleFirstRound!: (how: 'written' | 'pending' | 'lost') => void;
    const completion: Completion = {
      md,
      shard,
      firstRound: new Promise((resolve) => {
        settleFirstRound = resolve;
      }),
      done: Promise.resolve(ErrorCode.NONE),
      sleeping: false,
    };
    const epoch = coordinatorEpoch ?? this.deps.coordinatorEpoch(partition);
    completion.done = this.runCompletion(partition, completion, epoch, settleFirstRound).finally(() => {
      settleFirstRound('pending');
      if (this.completions.get(transactionalId) === completion) this.completions.delete(transactionalId);
    });
    this.completions.set(transactionalId, completion);
    return completion;
  }

  /**
   * What EndTxn (and InitProducerId aborting an open transaction) answers once the Prepare record is committed:
   * after the Complete record when every marker went in the first round (the client then never meets its
   * transaction half-ended); NONE as soon as a marker must be sent again (Kafka's answer once the Prepare record
   * is committed: the decision is made, the markers follow in the background); NOT_COORDINATOR when the partition
   * was lost before any marker went (the next coordinator finishes it from its load, as in Kafka).
   */
  private async completionAnswer(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    coordinatorEpoch: number,
  ): Promise<number> {
    const completion = this.startCompletion(transactionalId, producerId, producerEpoch, coordinatorEpoch);
    if (typeof completion === 'number') return completion;
    switch (await completion.firstRound) {
      case 'lost':
        return ErrorCode.NOT_COORDINATOR;
      case 'pending':
        return ErrorCode.NONE;
      case 'written':
        return completion.done;
    }
  }

  /** Whether this coordinator still owns the completion: same loaded partition, coordinator epoch and Prepare record. */
  private owns(partition: number, completion: Completion, coordinatorEpoch: number): boolean {
    return (
      !this.closing &&
      this.runtime.shard(partition) === completion.shard &&
      completion.shard.get(completion.md.transactionalId) === completion.md &&
      this.deps.coordinatorEpoch(partition) === coordinatorEpoch &&
      !('errorCode' in this.deps.stateLog(partition))
    );
  }

  /**
   * Rounds of markers until every partition has its marker (or needs none any more), then the Complete record.
   * Each round sends the partitions still pending to their current leaders; the answers are sorted by the rules
   * of `marker-retry.ts`; a round that leaves some to retry is followed, after a backoff growing from 100 ms to
   * 1 s, by another, for as long as this broker coordinates the transaction at the same coordinator epoch.
   */
  private async runCompletion(
    partition: number,
    completion: Completion,
    coordinatorEpoch: number,
    settleFirstRound: (how: 'written' | 'pending' | 'lost') => void,
  ): Promise<number> {
    const { md } = completion;
    const transactionalId = md.transactionalId;
    const marker: TransactionMarker = {
      producerId: md.producerId,
      producerEpoch: md.producerEpoch,
      coordinatorEpoch,
      committed: md.state === TransactionState.PrepareCommit,
    };
    let pending: Array<{ topic: string; partition: number }> = [];
    for (const [topic, ids] of md.partitions) for (const p of ids) pending.push({ topic, partition: p });
    let fatal = false;
    for (let round = 0; ; round++) {
      if (!this.owns(partition, completion, coordinatorEpoch)) {
        settleFirstRound(round === 0 ? 'lost' : 'pending');
        this.deps.logger.info('no longer the coordinator of the transaction: its markers are left to the next one', {
          transactionalId,
          partition,
          coordinatorEpoch,
        });
        return ErrorCode.NOT_COORDINATOR;
      }
      const results = await this.sendMarkers(pending, marker);
      const outcome = settleMarkerRound(results, (topic, p) => this.deps.partitionExists?.(topic, p) ?? false);
      for (const r of outcome.dropped)
        this.deps.logger.info('transaction marker not needed: the partition is gone or takes no transactions', {
          transactionalId,
          ...r,
        });
      for (const r of outcome.fenced)
        this.deps.logger.warn(
          'transaction marker refused: the partition has seen a newer producer or coordinator epoch',
          {
            transactionalId,
            ...r,
          },
        );
      for (const r of outcome.fatal)
        this.deps.logger.error(
          'transaction marker failed with an error a leader never gives a marker; the transaction stays prepared',
          {
            transactionalId,
            ...r,
          },
        );
      if (outcome.fatal.length > 0) fatal = true;
      pending = outcome.retry.map(({ topic, partition: p }) => ({ topic, partition: p }));
      if (pending.length === 0) break;
      settleFirstRound('pending');
      const backoffMs = markerRetryBackoffMs(round);
      for (const r of outcome.retry)
        this.deps.logger.info("transaction marker to be sent again to the partition's leader", {
          transactionalId,
          ...r,
          round,
          backoffMs,
        });
      await this.sleep(completion, backoffMs);
    }
    if (fatal) {
      settleFirstRound('pending');
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    settleFirstRound('written');
    const result = await this.write(transactionalId, 'complete transaction', (shard) => {
      // Another load of the partition, or another epoch of it, completes the transaction itself.
      if (shard !== completion.shard || this.deps.coordinatorEpoch(partition) !== coordinatorEpoch)
        return { records: [], response: ErrorCode.NOT_COORDINATOR };
      if (shard.get(transactionalId) !== md) return { records: [], response: ErrorCode.NONE };
      return { records: [shard.complete(md, this.clock.now())], response: ErrorCode.NONE };
    });
    return typeof result === 'number' ? result : result.failed;
  }

  /**
   * One round: the marker to each partition, in this broker's log if it leads it, else through its leader; all
   * at once, so that one partition waiting for its in-sync replicas holds up no other.
   */
  private async sendMarkers(
    partitions: ReadonlyArray<{ topic: string; partition: number }>,
    marker: TransactionMarker,
  ): Promise<MarkerPartitionResult[]> {
    const local: Array<Promise<MarkerPartitionResult>> = [];
    const remote: Array<{ topic: string; partition: number }> = [];
    for (const { topic, partition } of partitions) {
      const log = this.deps.partitionLog(topic, partition);
      if (log) local.push(this.appendLocalMarker(log, topic, partition, marker));
      else remote.push({ topic, partition });
    }
    let remoteResults: Promise<MarkerPartitionResult[]> = Promise.resolve([]);
    if (remote.length > 0 && this.deps.writeRemoteMarkers) remoteResults = this.deps.writeRemoteMarkers(remote, marker);
    else if (remote.length > 0)
      remoteResults = Promise.resolve(remote.map((p) => ({ ...p, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })));
    const [written, sent] = await Promise.all([Promise.all(local), remoteResults]);
    return [...written, ...sent];
  }

  private async appendLocalMarker(
    log: NonNullable<ReturnType<TransactionCoordinatorDeps['partitionLog']>>,
    topic: string,
    partition: number,
    marker: TransactionMarker,
  ): Promise<MarkerPartitionResult> {
    try {
      await log.appendMarker(
        {
          producerId: marker.producerId,
          producerEpoch: marker.producerEpoch,
          coordinatorEpoch: marker.coordinatorEpoch,
          aborted: !marker.committed,
        },
        { sync: this.deps.syncWrites },
      );
      this.deps.onMarkerWritten(topic, partition, marker.producerId, marker.committed);
      return { topic, partition, errorCode: ErrorCode.NONE };
    } catch (error) {
      if (!(error instanceof ProducerStateError || error instanceof KafkaError))
        this.deps.logger.error('could not write a transaction marker', { topic, partition, error: error as Error });
      return { topic, partition, errorCode: markerErrorCode(error) };
    }
  }

  /** Waits `ms` on the coordinator's clock between two rounds; cut short by close(). */
  private sleep(completion: Completion, ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      completion.sleeping = true;
      const wake = () => {
        this.sleepers.delete(wake);
        this.clock.clearTimeout(handle);
        completion.sleeping = false;
        resolve();
      };
      const handle: TimerHandle = this.clock.setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** Starts (or joins) the completion of every transaction of the partition left prepared. */
  private completePrepared(partition: number): void {
    const shard = this.runtime.shard(partition);
    if (!shard) return;
    for (const md of [...shard.preparedTransactions()]) {
      const completion = this.startCompletion(md.transactionalId, md.producerId, md.producerEpoch);
      if (typeof completion === 'number') continue;
      void completion.done.then((errorCode) => {
        if (errorCode !== ErrorCode.NONE && errorCode !== ErrorCode.NOT_COORDINATOR)
          this.deps.logger.warn('a prepared transaction is not complete yet', {
            transactionalId: md.transactionalId,
            errorCode,
          });
      });
    }
  }

  // ---- Timers ----

  /**
   * Every transaction.abort.timed.out.transaction.cleanup.interval.ms: aborts transactions open longer than
   * their timeout (after an epoch bump, so that the producer that let it run out is fenced), and finishes
   * those whose markers could not be written earlier.
   */
  private scheduleAbortTimedOut(partition: number): void {
    this.runtime.scheduleTimer(
      partition,
      ABORT_TIMED_OUT_TIMER,
      this.settings.abortTimedOutIntervalMs,
      async (shard) => {
        this.scheduleAbortTimedOut(partition);
        const now = this.clock.now();
        const ids = shard.timedOut(now);
        const newProducerIds = new Map<string, bigint>();
        for (const id of ids)
          if (shard.needsNewProducerId(id)) newProducerIds.set(id, await this.deps.producerIds.nextProducerId());
        for (const id of ids) this.deps.logger.info('aborting a timed out transaction', { transactionalId: id });
        return shard.abortTimedOut(ids, now, newProducerIds);
      },
      () => this.completePrepared(partition),
    );
  }

  /** Every transaction.remove.expired.transaction.cleanup.interval.ms: forgets idle ids (tombstones). */
  private scheduleRemoveExpired(partition: number): void {
    this.runtime.scheduleTimer(partition, REMOVE_EXPIRED_TIMER, this.settings.removeExpiredIntervalMs, (shard) => {
      this.scheduleRemoveExpired(partition);
      return shard.removeExpired(this.clock.now(), this.settings.transactionalIdExpirationMs);
    });
  }

  // ---- The APIs ----

  /**
   * InitProducerId with a transactional id (see `TransactionShard.initProducerId`). When it aborts an open
   * transaction, the abort is completed before the client is told CONCURRENT_TRANSACTIONS.
   */
  async initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: bigint; producerEpoch: number },
  ): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    if (timeoutMs <= 0 || timeoutMs > this.settings.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const coordinatorError = await this.coordinatorError(transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return fail(coordinatorError);
    // The coordinator epoch the Prepare record (if any) is written under: the markers go only if it still holds.
    const coordinatorEpoch = this.deps.coordinatorEpoch(this.partitionFor(transactionalId));
    const result = await this.write(transactionalId, 'init producer id', async (shard) => {
      // A producer id block may have to be taken from the metadata store; the partition's queue waits.
      const newProducerId = shard.needsNewProducerId(transactionalId)
        ? await this.deps.producerIds.nextProducerId()
        : null;
      return shard.initProducerId(transactionalId, timeoutMs, expected, this.clock.now(), newProducerId);
    });
    if ('failed' in result) return fail(result.failed);
    if (result.completeFirst) {
      const md = this.runtime.shard(this.partitionFor(transactionalId))?.get(transactionalId);
      if (md) await this.completionAnswer(transactionalId, md.producerId, md.producerEpoch, coordinatorEpoch);
    }
    return { errorCode: result.errorCode, producerId: result.producerId, producerEpoch: result.producerEpoch };
  }

  /**
   * AddPartitionsToTxn (and AddOffsetsToTxn, which adds the group's partition of `__consumer_offsets`):
   * starts the transaction if needed and records the partitions. Returns one error for all of them.
   */
  async addPartitions(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: Array<{ topic: string; partition: number }>,
  ): Promise<number> {
    const coordinatorError = await this.coordinatorError(transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return coordinatorError;
    const result = await this.write(transactionalId, 'add partitions to transaction', (shard) =>
      shard.addPartitions(transactionalId, producerId, producerEpoch, partitions, this.clock.now()),
    );
    return typeof result === 'number' ? result : result.failed;
  }

  /** EndTxn: commits or aborts the open transaction, markers included; a retry of a finished one succeeds. */
  async endTransaction(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    commit: boolean,
  ): Promise<number> {
    const coordinatorError = await this.coordinatorError(transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return coordinatorError;
    // As Kafka: the coordinator epoch before the Prepare record; lost by the time it is committed, NOT_COORDINATOR.
    const coordinatorEpoch = this.deps.coordinatorEpoch(this.partitionFor(transactionalId));
    const result = await this.write(transactionalId, 'end transaction', (shard) =>
      shard.endTransaction(transactionalId, producerId, producerEpoch, commit, this.clock.now()),
    );
    if ('failed' in result) return result.failed;
    if (!result.completeFirst) return result.errorCode;
    return this.completionAnswer(transactionalId, producerId, producerEpoch, coordinatorEpoch);
  }

  /**
   * Whether a transactional batch may be written to a partition led here (Kafka's KIP-890 verification): its
   * producer is the current one of an open transaction that holds the partition. Without this check a batch the
   * coordinator does not know of would leave a transaction open in the partition that nobody ends, holding the
   * last stable offset back forever. Coordinated here, the answer is at once (every batch is checked); coordinated
   * by another broker, that broker is asked (AddPartitionsToTxn v4, verify only) unless the producer's transaction
   * is already open in the partition (`openHere`: its marker will come), as Kafka asks for the first batch only.
   */
  checkTransactionalWrite(
    transactionalId: string | null,
    producerId: bigint,
    producerEpoch: number,
    topic: string,
    partition: number,
    openHere: boolean,
  ): TransactionWriteCheck | Promise<TransactionWriteCheck> {
    if (transactionalId === null) return WITHOUT_TRANSACTIONAL_ID;
    const code = this.verification(transactionalId, producerId, producerEpoch, topic, partition, openHere);
    return typeof code === 'number' ? produceErrorOf(code) : code.then(produceErrorOf);
  }

  /**
   * AddPartitionsToTxn v4+ with VerifyOnly, from a partition's leader about to take a producer's first batch:
   * each partition's code (Kafka's handleVerifyPartitionsInTransaction), or the id's coordinator error for all.
   */
  async verifyPartitions(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    partitions: ReadonlyArray<{ topic: string; partition: number }>,
  ): Promise<number[]> {
    const coordinatorError = await this.coordinatorError(transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return partitions.map(() => coordinatorError);
    const md = this.metadata(transactionalId);
    return partitions.map((p) => verifyPartitionInTransaction(md, producerId, producerEpoch, p.topic, p.partition));
  }

  /**
   * Whether a TxnOffsetCommit may be written (Kafka 3.6+ verifies it as a produce, KIP-890): its producer is the
   * current one of an open transaction that holds the group's partition of `__consumer_offsets`
   * (`offsetsPartition`, added by AddOffsetsToTxn). Coordinated by another broker, that broker is asked; a
   * verification that could not be made is COORDINATOR_NOT_AVAILABLE, which the client retries after looking the
   * group coordinator up again.
   */
  offsetCommitError(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    offsetsPartition: number,
  ): number | Promise<number> {
    const code = this.verification(
      transactionalId,
      producerId,
      producerEpoch,
      CONSUMER_OFFSETS_TOPIC,
      offsetsPartition,
      false,
    );
    return typeof code === 'number' ? offsetCommitErrorOf(code) : code.then(offsetCommitErrorOf);
  }

  /**
   * The coordinator's code for a write to a partition (AddPartitionsToTxn v4's codes): the id's partition loading
   * or not led yet, no coordinator (no leader for it, or no `__transaction_state`: retried, as Kafka does), the
   * answer of the broker that coordinates it, or this coordinator's own answer.
   */
  private verification(
    transactionalId: string,
    producerId: bigint,
    producerEpoch: number,
    topic: string,
    partition: number,
    openHere: boolean,
  ): number | Promise<number> {
    const status = this.serving(transactionalId);
    if (status !== ErrorCode.NONE) return status;
    const md = this.metadata(transactionalId);
    const where = md ? ErrorCode.NONE : this.logError(transactionalId);
    if (where === ErrorCode.NOT_COORDINATOR) {
      if (openHere || !this.deps.verifyElsewhere) return ErrorCode.NONE;
      return this.deps.verifyElsewhere(
        this.partitionFor(transactionalId),
        transactionalId,
        producerId,
        producerEpoch,
        topic,
        partition,
      );
    }
    if (where !== ErrorCode.NONE) return where;
    return verifyPartitionInTransaction(md, producerId, producerEpoch, topic, partition);
  }

  /**
   * NONE when the id's partition serves here, or when it is not led here at all (then the checks find no
   * metadata, as before the topic exists); else the runtime's status (loading, reloading after a failure, or
   * not loaded because its load failed).
   */
  private serving(transactionalId: string): number {
    if (this.deps.stateLogPartitionCount() === null) return ErrorCode.NONE;
    const partition = this.partitionFor(transactionalId);
    // Known to the runtime means led here when it was loaded: no lookup on produce's path.
    if (this.runtime.isKnown(partition)) return this.runtime.status(partition);
    return this.logError(transactionalId) === ErrorCode.NONE ? this.runtime.status(partition) : ErrorCode.NONE;
  }

  /** The id's committed metadata, if its partition serves here. */
  private metadata(transactionalId: string): TransactionMetadata | undefined {
    if (this.deps.stateLogPartitionCount() === null) return undefined;
    return this.runtime.shard(this.partitionFor(transactionalId))?.get(transactionalId);
  }

  // ---- Admin ----

  /** DescribeTransactions: the id's metadata, or the error Kafka gives (not coordinated here, not found). */
  async describe(transactionalId: string): Promise<{ errorCode: number; metadata?: TransactionMetadata }> {
    const errorCode = await this.coordinatorError(transactionalId);
    if (errorCode !== ErrorCode.NONE) return { errorCode };
    const metadata = this.metadata(transactionalId);
    return metadata ? { errorCode, metadata } : { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
  }

  /** Every transactional id of the partitions serving here. */
  *list(): IterableIterator<TransactionMetadata> {
    for (const shard of this.runtime.shards()) yield* shard.transactions.values();
  }
}
