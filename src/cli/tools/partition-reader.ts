import type { Consumer, RecordsBatch } from '@platformatic/kafka';
import { ToolError } from './client.js';
import type { ConsumedRecord } from './message-formatter.js';

/** Where a partition's reading starts: Kafka's --offset. */
export type StartAt = 'earliest' | 'latest' | bigint;

/** ListOffsets timestamps that stand for the log start and the log end. */
const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;

/** Kafka's consumer defaults: fetch.max.wait.ms, fetch.max.bytes, max.partition.fetch.bytes. */
const FETCH_MAX_WAIT_MS = 500;
const FETCH_MAX_BYTES = 52_428_800;
const PARTITION_MAX_BYTES = 1_048_576;
/** No leader epoch known: the broker does not check it. */
const NO_EPOCH = -1;

/** Record batch attribute bits (Kafka's RecordBatch). */
const LOG_APPEND_TIME_BIT = 0x08;
const CONTROL_BIT = 0x20;
/** The Fetch error for a position before the log start or after its end. */
const OFFSET_OUT_OF_RANGE = 1;

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;

/**
 * Reads partitions of one topic by direct assignment, without a consumer group: what Kafka's console consumer
 * does with --partition (assign() and seek()), and what Samsa's does without --group as well, so that a look at
 * a topic leaves no group behind in the coordinator and starts without a rebalance. The client library consumes
 * only as a group member, so this drives its Fetch request itself: one long poll per leader, positions kept
 * here, batches walked record by record.
 */
export class PartitionReader {
  readonly #consumer: Consumer;
  readonly #topic: string;
  readonly #only: number | undefined;
  readonly #startAt: StartAt;
  /** Kafka's auto.offset.reset: where a position outside the log moves to. */
  readonly #resetTo: 'earliest' | 'latest';
  readonly #positions = new Map<number, bigint>();
  #stopped = false;

  /** `partition` undefined reads every partition of the topic. */
  constructor(
    consumer: Consumer,
    topic: string,
    partition: number | undefined,
    startAt: StartAt,
    resetTo: 'earliest' | 'latest',
    /** Fetch isolation level: 0 read_uncommitted, 1 read_committed (the library then drops aborted records). */
    private readonly isolationLevel: 0 | 1 = 0,
  ) {
    this.#consumer = consumer;
    this.#topic = topic;
    this.#only = partition;
    this.#startAt = startAt;
    this.#resetTo = resetTo;
  }

  /** Delivers records in offset order per partition until stop(); rejects when reading fails. */
  async run(onRecord: (record: ConsumedRecord) => void): Promise<void> {
    // Kafka's consumer lets the broker create a missing topic (allow.auto.create.topics), and so does this.
    const metadata = await this.#consumer.metadata({ topics: [this.#topic], autocreateTopics: true });
    const topic = metadata.topics.get(this.#topic);
    if (!topic) throw new ToolError(`topic ${this.#topic} does not exist`);
    const partitions = Array.from({ length: topic.partitionsCount }, (_, i) => i);
    if (this.#only !== undefined && !partitions.includes(this.#only))
      throw new ToolError(`partition ${this.#only} of topic ${this.#topic} does not exist`);
    const assigned = this.#only === undefined ? partitions : [this.#only];

    if (typeof this.#startAt === 'bigint') for (const p of assigned) this.#positions.set(p, this.#startAt);
    else await this.#seek(assigned, this.#startAt);

    const byLeader = new Map<number, number[]>();
    for (const p of assigned) {
      const leader = topic.partitions[p]!.leader;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    while (!this.#stopped) {
      await Promise.all([...byLeader].map(([leader, ps]) => this.#fetchFrom(leader, topic.id, ps, onRecord)));
    }
  }

  /** Ends run() after the fetch in flight, at most FETCH_MAX_WAIT_MS later; no record is delivered after this. */
  stop(): void {
    this.#stopped = true;
  }

  async #seek(partitions: number[], to: 'earliest' | 'latest'): Promise<void> {
    const offsets = await this.#consumer.listOffsetsWithTimestamps({
      topics: [this.#topic],
      partitions: { [this.#topic]: partitions },
      timestamp: to === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP,
    });
    for (const [p, { offset }] of offsets.get(this.#topic) ?? []) this.#positions.set(p, offset);
  }

  async #fetchFrom(
    leader: number,
    topicId: string,
    partitions: number[],
    onRecord: (record: ConsumedRecord) => void,
  ): Promise<void> {
    let response: FetchResponse;
    try {
      response = await this.#consumer.fetch({
        node: leader,
        topics: [
          {
            topicId,
            partitions: partitions.map((partition) => ({
              partition,
              fetchOffset: this.#positions.get(partition)!,
              partitionMaxBytes: PARTITION_MAX_BYTES,
              currentLeaderEpoch: NO_EPOCH,
              lastFetchedEpoch: NO_EPOCH,
            })),
          },
        ],
        maxWaitTime: FETCH_MAX_WAIT_MS,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        isolationLevel: this.isolationLevel,
      });
    } catch (e) {
      // The client throws on any partition error, with the parsed response attached. A position outside the log
      // moves as auto.offset.reset says; every other error ends the reading.
      const failed = (e as { response?: FetchResponse }).response;
      const errors = failed?.responses.flatMap((t) => t.partitions).filter((p) => p.errorCode !== 0) ?? [];
      if (!failed || !errors.every((p) => p.errorCode === OFFSET_OUT_OF_RANGE)) throw e;
      await this.#seek(
        errors.map((p) => p.partitionIndex),
        this.#resetTo,
      );
      response = failed;
    }
    for (const t of response.responses)
      for (const p of t.partitions) {
        if (p.errorCode !== 0) continue;
        for (const batch of p.records ?? []) this.#deliver(p.partitionIndex, batch, onRecord);
      }
  }

  #deliver(partition: number, batch: RecordsBatch, onRecord: (record: ConsumedRecord) => void): void {
    const position = this.#positions.get(partition)!;
    const next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
    // Transaction markers are not records; they only move the position.
    if ((batch.attributes & CONTROL_BIT) === 0) {
      const logAppendTime = (batch.attributes & LOG_APPEND_TIME_BIT) !== 0;
      for (const r of batch.records) {
        if (this.#stopped) return;
        const offset = batch.firstOffset + BigInt(r.offsetDelta);
        // A compressed batch is served whole, and may begin before the position.
        if (offset < position) continue;
        onRecord({
          partition,
          offset,
          timestamp: logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + r.timestampDelta,
          timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
          key: r.key,
          value: r.value,
          headers: r.headers.map(([k, v]) => [k?.toString('utf8') ?? '', v]),
        });
        this.#positions.set(partition, offset + 1n);
      }
    }
    if (!this.#stopped && next > this.#positions.get(partition)!) this.#positions.set(partition, next);
  }
}
