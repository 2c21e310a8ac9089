import { ErrorCode } from '../protocol/errors.js';

/** Session id and epochs of KIP-227. */
export const INVALID_SESSION_ID = 0;
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;
/** max.incremental.fetch.session.cache.slots default. */
export const DEFAULT_MAX_FETCH_SESSIONS = 1000;
/** A session unused for this long may be evicted to make room for a new one (Kafka's eviction time). */
export const FETCH_SESSION_EVICTION_MS = 120_000;

/** What a fetch request asks of one partition. */
export interface FetchPartitionRequest {
  topic: string;
  /** Zero UUID before Fetch v13. */
  topicId: string;
  partition: number;
  fetchOffset: bigint;
  logStartOffset: bigint;
  maxBytes: number;
  currentLeaderEpoch: number;
  lastFetchedEpoch: number;
}

/** What was last sent for a partition in a session, to decide whether it must appear in the next response. */
interface SessionPartition extends FetchPartitionRequest {
  highWatermark: bigint;
  logStartOffsetSent: bigint;
}

/** What the response says of one partition; compared with the session's memory of it. */
export interface FetchPartitionOutcome {
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  recordsBytes: number;
}

class FetchSession {
  epoch = 1;
  lastUsedMs: number;
  /** Insertion-ordered; a partition that returned data moves to the end so others get their turn. */
  readonly partitions = new Map<string, SessionPartition>();

  constructor(
    readonly id: number,
    readonly usesTopicIds: boolean,
    nowMs: number,
  ) {
    this.lastUsedMs = nowMs;
  }
}

export type FetchContext =
  /** No session: every partition of the request, every partition in the response. */
  | { kind: 'sessionless'; partitions: FetchPartitionRequest[] }
  /** A full request that starts a new session (if the cache has room once the response is known). */
  | { kind: 'full'; partitions: FetchPartitionRequest[]; usesTopicIds: boolean }
  /** An incremental request: the session's partitions; the response holds only those that changed. */
  | { kind: 'incremental'; partitions: FetchPartitionRequest[]; session: FetchSession }
  /** The session cannot be used; the response is this error with no partitions. */
  | { kind: 'error'; errorCode: number };

export function partitionKey(topicId: string, topic: string, partition: number, usesTopicIds: boolean): string {
  return `${usesTopicIds ? topicId : topic}:${partition}`;
}

/**
 * Incremental fetch sessions (KIP-227): a consumer or follower fetching many partitions sends only what
 * changed, and the broker answers only with partitions that have news (records, a new high watermark or
 * log start offset, an error).
 */
export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();

  constructor(
    private readonly maxSessions = DEFAULT_MAX_FETCH_SESSIONS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Interprets the session fields of a fetch request. */
  newContext(
    version: number,
    sessionId: number,
    epoch: number,
    requested: FetchPartitionRequest[],
    forgotten: Array<{ topic: string; topicId: string; partition: number }>,
  ): FetchContext {
    const usesTopicIds = version >= 13;
    if (epoch === INITIAL_EPOCH || epoch === FINAL_EPOCH) {
      // A full request closes the session it names.
      if (sessionId !== INVALID_SESSION_ID) this.sessions.delete(sessionId);
      if (epoch === FINAL_EPOCH) return { kind: 'sessionless', partitions: requested };
      return { kind: 'full', partitions: requested, usesTopicIds };
    }
    const session = this.sessions.get(sessionId);
    if (!session) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    if (session.epoch !== epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    if (session.usesTopicIds !== usesTopicIds)
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR };

    for (const p of requested) {
      const key = partitionKey(p.topicId, p.topic, p.partition, usesTopicIds);
      const cached = session.partitions.get(key);
      if (cached) Object.assign(cached, p);
      else session.partitions.set(key, { ...p, highWatermark: -1n, logStartOffsetSent: -1n });
    }
    for (const f of forgotten) session.partitions.delete(partitionKey(f.topicId, f.topic, f.partition, usesTopicIds));
    if (session.partitions.size === 0) {
      this.sessions.delete(session.id);
      return { kind: 'sessionless', partitions: requested };
    }
    session.lastUsedMs = this.now();
    session.epoch = nextEpoch(session.epoch);
    return { kind: 'incremental', partitions: [...session.partitions.values()], session };
  }

  /**
   * After the partitions were read: for a full context, creates the session and returns its id (0 when the
   * cache has no room); for an incremental one, returns the indexes of the outcomes to send and remembers
   * what was sent.
   */
  complete(context: FetchContext, outcomes: FetchPartitionOutcome[]): { sessionId: number; send: number[] } {
    const all = outcomes.map((_, i) => i);
    if (context.kind === 'sessionless' || context.kind === 'error') return { sessionId: INVALID_SESSION_ID, send: all };
    if (context.kind === 'full') {
      const id = this.makeRoom() ? this.newSessionId() : INVALID_SESSION_ID;
      if (id !== INVALID_SESSION_ID) {
        const session = new FetchSession(id, context.usesTopicIds, this.now());
        context.partitions.forEach((p, i) => {
          const o = outcomes[i]!;
          session.partitions.set(partitionKey(p.topicId, p.topic, p.partition, context.usesTopicIds), {
            ...p,
            highWatermark: o.errorCode === ErrorCode.NONE ? o.highWatermark : -1n,
            logStartOffsetSent: o.logStartOffset,
          });
        });
        this.sessions.set(id, session);
      }
      return { sessionId: id, send: all };
    }
    const { session } = context;
    const send: number[] = [];
    context.partitions.forEach((p, i) => {
      const o = outcomes[i]!;
      const key = partitionKey(p.topicId, p.topic, p.partition, session.usesTopicIds);
      const cached = session.partitions.get(key);
      if (!cached) return;
      let mustRespond = o.recordsBytes > 0 || o.errorCode !== ErrorCode.NONE;
      if (cached.highWatermark !== o.highWatermark) mustRespond = true;
      if (cached.logStartOffsetSent !== o.logStartOffset) mustRespond = true;
      // After an error the partition is re-sent once it recovers.
      cached.highWatermark = o.errorCode === ErrorCode.NONE ? o.highWatermark : -1n;
      cached.logStartOffsetSent = o.logStartOffset;
      if (!mustRespond) return;
      send.push(i);
      if (o.recordsBytes > 0) {
        session.partitions.delete(key);
        session.partitions.set(key, cached);
      }
    });
    return { sessionId: session.id, send };
  }

  /** True when a new session fits, evicting the least recently used idle session if needed. */
  private makeRoom(): boolean {
    if (this.sessions.size < this.maxSessions) return true;
    let oldest: FetchSession | null = null;
    for (const s of this.sessions.values()) if (!oldest || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
    if (oldest && this.now() - oldest.lastUsedMs >= FETCH_SESSION_EVICTION_MS) {
      this.sessions.delete(oldest.id);
      return true;
    }
    return false;
  }

  private newSessionId(): number {
    for (;;) {
      const id = 1 + Math.floor(Math.random() * 0x7ffffffe);
      if (!this.sessions.has(id)) return id;
    }
  }
}

/** The epoch after `epoch`; it wraps from Int32 max to 1 (0 and -1 have meanings of their own). */
export function nextEpoch(epoch: number): number {
  return epoch >= 0x7fffffff ? 1 : epoch + 1;
}
