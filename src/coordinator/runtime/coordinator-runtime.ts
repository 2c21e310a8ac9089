import type { Logger } from '../../observability/logger.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { CoordinatorClock, TimerHandle } from './coordinator-clock.js';
import type { CoordinatorBatchInfo, CoordinatorLog, CoordinatorTransactionalAppend } from './coordinator-log.js';

/**
 * A coordinator's state machine for one partition of its topic (Kafka's CoordinatorShard): the state is what
 * replaying the partition's records made it, and nothing else changes it.
 */
export interface CoordinatorShard<R> {
  replay(record: R): void;
}

/** What a write operation produces: records to append (possibly none) and the answer to give once they are. */
export interface CoordinatorResult<R, T> {
  records: R[];
  response: T;
  /** Appends the records as a transactional batch of this producer (TxnOffsetCommit). */
  transactional?: CoordinatorTransactionalAppend;
}

/** A write operation: reads the shard, decides, and returns records; it never changes the shard itself. */
export type CoordinatorWrite<S, R, T> = (shard: S) => CoordinatorResult<R, T> | Promise<CoordinatorResult<R, T>>;

/** A coordinator's records as the bytes of its topic (Kafka's CoordinatorLoader/Serde). */
export interface CoordinatorSerde<R> {
  serialize(record: R): { key: Buffer; value: Buffer | null };
  /** The record, or null for one this version does not read (an unknown key version). May throw DecodeError. */
  deserialize(key: Buffer, value: Buffer | null, batch?: CoordinatorBatchInfo): R | null;
  /** Whether control records (transaction markers) are handed to `deserialize`; they are skipped otherwise. */
  readsControlRecords?: boolean;
}

export interface CoordinatorRuntimeOptions<S extends CoordinatorShard<R>, R> {
  /** Names the coordinator in logs. */
  name: string;
  newShard(partition: number): S;
  serde: CoordinatorSerde<R>;
  /** The log of a partition led here, or the error code saying why there is none. */
  logFor(partition: number): CoordinatorLog | number;
  clock: CoordinatorClock;
  logger: Logger;
  /** Called once a partition is loaded and serving, e.g. to resume work its records left half done. */
  onLoaded?(partition: number, shard: S): void;
  /**
   * Called when a loaded partition is dropped (unload, a reload after a failed append, close), so that what
   * the coordinator holds beside the shard (parked requests) goes with it.
   */
  onUnloaded?(partition: number): void;
}

type PartitionStatus = 'loading' | 'active' | 'closed';

interface PartitionContext<S> {
  readonly partition: number;
  status: PartitionStatus;
  readonly shard: S;
  readonly log: CoordinatorLog;
  /** The end of the partition's queue of operations. */
  tail: Promise<unknown>;
  readonly loaded: Promise<void>;
  readonly timers: Map<string, TimerHandle>;
}

/**
 * Runs a coordinator as one replayed state machine per partition of its topic (`__transaction_state`,
 * `__consumer_offsets`), after Kafka's CoordinatorRuntime (KIP-848) without its threads: Node's event loop
 * already runs one thing at a time, so a partition needs only a queue.
 *
 * - load: a fresh shard replays the partition's log; operations meanwhile fail COORDINATOR_LOAD_IN_PROGRESS.
 * - unload: the shard and its timers are dropped; operations fail NOT_COORDINATOR.
 * - write: operations on a partition run one at a time, in order. Each returns records and a response; the
 *   records are appended, and once the append is committed (written, and synced per the fsync policy) they are
 *   applied by the same `replay` the load uses, then the response is released. Applying at commit means reads
 *   outside the queue (produce's verification, Describe) see only committed state, which Kafka gets from its
 *   snapshot at the last committed offset. A failed append, or a replay that throws, unloads the partition and
 *   loads it again from its log, the same path as a failover: the state is whatever the log holds, never an
 *   undo. The operation fails NOT_COORDINATOR (Kafka's answer to a storage error), which clients retry.
 * - timers (transaction timeouts, later session timeouts and offset expiry) are write operations put on the
 *   partition's queue when they fire; they go with the partition when it is unloaded.
 *
 * The clock and the log are injected, so a coordinator's unit tests run on a mock clock and an in-memory log.
 */
export class CoordinatorRuntime<S extends CoordinatorShard<R>, R> {
  private readonly partitions = new Map<number, PartitionContext<S>>();
  private closed = false;

  constructor(private readonly options: CoordinatorRuntimeOptions<S, R>) {}

  get clock(): CoordinatorClock {
    return this.options.clock;
  }

  /**
   * Loads the partition (once: a load in progress or done is shared). Resolves when it is serving, or when the
   * load failed (logged; the partition stays unloaded and the next `load` tries again).
   */
  load(partition: number): Promise<void> {
    const existing = this.partitions.get(partition);
    if (existing) return existing.loaded;
    if (this.closed) return Promise.resolve();
    const log = this.options.logFor(partition);
    if (typeof log === 'number') return Promise.resolve();
    const shard = this.options.newShard(partition);
    let resolveLoaded!: () => void;
    const ctx: PartitionContext<S> = {
      partition,
      status: 'loading',
      shard,
      log,
      tail: Promise.resolve(),
      loaded: new Promise<void>((resolve) => {
        resolveLoaded = resolve;
      }),
      timers: new Map(),
    };
    this.partitions.set(partition, ctx);
    const { serde, logger, name } = this.options;
    const started = this.clock.now();
    void log
      .replay((key, value, batch) => {
        if (ctx.status !== 'loading') return;
        if (batch.isControl && !serde.readsControlRecords) return;
        const record = serde.deserialize(key, value, batch);
        if (record !== null) shard.replay(record);
      })
      .then(
        () => {
          if (ctx.status !== 'loading') return;
          ctx.status = 'active';
          logger.debug('coordinator partition loaded', {
            coordinator: name,
            partition,
            ms: this.clock.now() - started,
          });
          this.options.onLoaded?.(partition, shard);
        },
        (error: unknown) => {
          // A KafkaError is the log saying it cannot be loaded yet (no longer led here, or its high watermark not
          // caught up): the next request or leadership change loads it again.
          if (error instanceof KafkaError)
            logger.info('coordinator partition not loaded', { coordinator: name, partition, reason: error.message });
          else
            logger.error('loading a coordinator partition failed', {
              coordinator: name,
              partition,
              error: error as Error,
            });
          this.drop(ctx);
        },
      )
      .finally(resolveLoaded);
    return ctx.loaded;
  }

  /** Drops the partition's state and timers: its queued operations fail NOT_COORDINATOR. */
  unload(partition: number): void {
    const ctx = this.partitions.get(partition);
    if (ctx) this.drop(ctx);
  }

  private drop(ctx: PartitionContext<S>): void {
    const wasActive = ctx.status === 'active';
    ctx.status = 'closed';
    for (const handle of ctx.timers.values()) this.clock.clearTimeout(handle);
    ctx.timers.clear();
    if (this.partitions.get(ctx.partition) === ctx) this.partitions.delete(ctx.partition);
    if (wasActive) this.options.onUnloaded?.(ctx.partition);
  }

  /** A failover in place: the state is rebuilt from what the log holds. */
  private reload(ctx: PartitionContext<S>): void {
    if (this.partitions.get(ctx.partition) !== ctx) return;
    this.drop(ctx);
    void this.load(ctx.partition);
  }

  /** NONE when the partition serves, else the error an operation on it gets. */
  status(partition: number): number {
    const ctx = this.partitions.get(partition);
    if (!ctx) return ErrorCode.NOT_COORDINATOR;
    return ctx.status === 'active' ? ErrorCode.NONE : ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  isKnown(partition: number): boolean {
    return this.partitions.has(partition);
  }

  /** The partition's committed state, for reads; undefined unless it serves. */
  shard(partition: number): S | undefined {
    const ctx = this.partitions.get(partition);
    return ctx?.status === 'active' ? ctx.shard : undefined;
  }

  /** The shards of every partition serving. */
  *shards(): IterableIterator<S> {
    for (const ctx of this.partitions.values()) if (ctx.status === 'active') yield ctx.shard;
  }

  /**
   * Queues `op` on the partition. Resolves with its response once its records are committed and applied;
   * rejects with a KafkaError (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) when the partition does not
   * serve or the append failed, or with what `op` threw.
   */
  write<T>(partition: number, name: string, op: CoordinatorWrite<S, R, T>): Promise<T> {
    const ctx = this.partitions.get(partition);
    if (this.closed || !ctx || ctx.status === 'closed')
      return Promise.reject(new KafkaError(ErrorCode.NOT_COORDINATOR));
    if (ctx.status === 'loading') return Promise.reject(new KafkaError(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS));
    const run = () => this.run(ctx, name, op);
    const result = ctx.tail.then(run, run);
    // The queue only orders operations: each outcome goes to its own caller.
    ctx.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  private async run<T>(ctx: PartitionContext<S>, name: string, op: CoordinatorWrite<S, R, T>): Promise<T> {
    if (ctx.status !== 'active') throw new KafkaError(ErrorCode.NOT_COORDINATOR);
    const { records, response, transactional } = await op(ctx.shard);
    // Unloaded while the operation awaited something (a producer id block): its decision is stale.
    if (ctx.status !== 'active') throw new KafkaError(ErrorCode.NOT_COORDINATOR);
    if (records.length === 0) return response;
    const { serde, logger } = this.options;
    const where = { coordinator: this.options.name, partition: ctx.partition, operation: name };
    try {
      await ctx.log.append(
        records.map((r) => serde.serialize(r)),
        transactional,
      );
    } catch (error) {
      // The log refused the records before writing anything (a fenced producer): the state is still the log's.
      if (error instanceof KafkaError) throw error;
      logger.error('coordinator append failed: reloading the partition from its log', {
        ...where,
        error: error as Error,
      });
      this.reload(ctx);
      throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'the coordinator append failed');
    }
    if (ctx.status !== 'active') throw new KafkaError(ErrorCode.NOT_COORDINATOR);
    try {
      for (const record of records) ctx.shard.replay(record);
    } catch (error) {
      // A record the live path wrote but replay refuses is a bug; the log, not this state, is the truth.
      logger.error('replaying a written record failed: reloading the partition from its log', {
        ...where,
        error: error as Error,
      });
      this.reload(ctx);
      throw new KafkaError(ErrorCode.NOT_COORDINATOR, 'replaying a written record failed');
    }
    return response;
  }

  /**
   * Applies, in the partition's queue order, records that were appended to its log by another writer (the
   * transaction markers the transaction coordinator writes to `__consumer_offsets`): the same `replay` a load
   * would apply them with. A partition still loading applies them once loaded (replaying a marker twice
   * finds nothing left to complete); one not loaded here finds them in its log when it loads.
   */
  async replayWritten(partition: number, name: string, records: R[]): Promise<void> {
    const ctx = this.partitions.get(partition);
    if (!ctx) return;
    await ctx.loaded;
    if (ctx.status !== 'active' || this.partitions.get(partition) !== ctx) return;
    const run = () => this.applyWritten(ctx, name, records);
    const result = ctx.tail.then(run, run);
    ctx.tail = result;
    await result;
  }

  private applyWritten(ctx: PartitionContext<S>, name: string, records: R[]): void {
    if (ctx.status !== 'active') return;
    try {
      for (const record of records) ctx.shard.replay(record);
    } catch (error) {
      this.options.logger.error('replaying a written record failed: reloading the partition from its log', {
        coordinator: this.options.name,
        partition: ctx.partition,
        operation: name,
        error: error as Error,
      });
      this.reload(ctx);
    }
  }

  /**
   * Runs `op` as a write on the partition's queue after `delayMs` (replacing a timer of the same key), then
   * hands its response to `onDone`, or its failure to `onFailed` (a failure is logged unless it is
   * NOT_COORDINATOR). It goes with the partition on unload.
   */
  scheduleTimer<T>(
    partition: number,
    key: string,
    delayMs: number,
    op: CoordinatorWrite<S, R, T>,
    onDone?: (response: T) => void,
    onFailed?: (error: unknown) => void,
  ): void {
    const ctx = this.partitions.get(partition);
    if (!ctx || ctx.status === 'closed') return;
    const previous = ctx.timers.get(key);
    if (previous !== undefined) this.clock.clearTimeout(previous);
    const handle = this.clock.setTimeout(() => {
      if (ctx.timers.get(key) !== handle) return;
      ctx.timers.delete(key);
      if (ctx.status !== 'active') return;
      this.write(partition, `timer ${key}`, op).then(
        (response) => onDone?.(response),
        (error: unknown) => {
          onFailed?.(error);
          if (error instanceof KafkaError && error.code === ErrorCode.NOT_COORDINATOR) return;
          this.options.logger.error('coordinator timer failed', {
            coordinator: this.options.name,
            partition,
            timer: key,
            error: error as Error,
          });
        },
      );
    }, delayMs);
    ctx.timers.set(key, handle);
  }

  cancelTimer(partition: number, key: string): void {
    const ctx = this.partitions.get(partition);
    const handle = ctx?.timers.get(key);
    if (ctx && handle !== undefined) {
      this.clock.clearTimeout(handle);
      ctx.timers.delete(key);
    }
  }

  /**
   * Resolves once no partition is loading and no operation is queued, including operations that finishing
   * ones queued in turn (a timer's follow-up, a completion after a prepare).
   */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.partitions.values()].flatMap((ctx) => [ctx.loaded, ctx.tail]);
      await Promise.all(pending);
      // Callbacks of what just settled may queue more: let them run before looking again.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const now = [...this.partitions.values()].flatMap((ctx) => [ctx.loaded, ctx.tail]);
      if (now.length === pending.length && now.every((p, i) => p === pending[i])) return;
    }
  }

  /** Lets queued operations finish, then unloads every partition; later operations fail NOT_COORDINATOR. */
  async close(): Promise<void> {
    this.closed = true;
    const contexts = [...this.partitions.values()];
    for (const ctx of contexts) {
      for (const handle of ctx.timers.values()) this.clock.clearTimeout(handle);
      ctx.timers.clear();
    }
    await Promise.all(contexts.map((ctx) => Promise.all([ctx.loaded, ctx.tail])));
    for (const ctx of contexts) this.drop(ctx);
  }
}
