/**
 * Client quotas, as Kafka's quota managers enforce them. Produce and fetch byte rates (ClientQuotaManager) and
 * the request time (ClientRequestQuotaManager, KIP-124) are counted in a rate over `QUOTA_WINDOW_NUM` samples of
 * `QUOTA_WINDOW_SIZE_MS`; when a request takes the rate over the quota, its answer carries the time the client
 * must wait (throttle_time_ms) and the broker reads nothing more from the connection for that long (KIP-219).
 * Controller mutations (KIP-599: partitions created or deleted) are counted in a token bucket instead, which
 * lets a burst through and then refuses or throttles until it has refilled. Which quota applies, and which
 * clients share a rate, follows Kafka's precedence of user and client-id entities, defaults included.
 */
import type { ClientQuotaMetadata, QuotaEntity } from '../cluster/client-quotas.js';

import { QUOTA_WINDOW_NUM, QUOTA_WINDOW_SIZE_MS, rateThrottleTimeMs, SampledRate } from '../security/sampled-rate.js';

export { QUOTA_WINDOW_NUM, QUOTA_WINDOW_SIZE_MS, SampledRate };

export const PRODUCER_BYTE_RATE = 'producer_byte_rate';
export const CONSUMER_BYTE_RATE = 'consumer_byte_rate';
export type ByteRateQuota = typeof PRODUCER_BYTE_RATE | typeof CONSUMER_BYTE_RATE;
/** The share of one request-handling thread's time, in percent per second (KIP-124). */
export const REQUEST_PERCENTAGE = 'request_percentage';
/** New connections per second from an address (KIP-612), on `ip` entities only. */
export const CONNECTION_CREATION_RATE = 'connection_creation_rate';
/** Partitions created or deleted per second (KIP-599). */
export const CONTROLLER_MUTATION_RATE = 'controller_mutation_rate';
/** The quotas counted in a sampled rate. */
export type RateQuota = ByteRateQuota | typeof REQUEST_PERCENTAGE;
export type ClientQuotaType = RateQuota | typeof CONTROLLER_MUTATION_RATE;

/**
 * The longest a request quota throttles a client, one sample window (Kafka's ClientRequestQuotaManager): request
 * time is spent in small amounts, so one expensive request should not mute a client for the whole window.
 */
export const MAX_REQUEST_THROTTLE_MS = QUOTA_WINDOW_SIZE_MS;

/** Request time is counted as percent-seconds: 1 ms of handler time is 0.1% of one second. */
export function requestTimeToPercentage(ms: number): number {
  return ms / 10;
}

/** A user name: the principal's name after `User:` (ANONYMOUS for unauthenticated connections, as in Kafka). */
export function quotaUser(principal: string): string {
  return principal.startsWith('User:') ? principal.slice('User:'.length) : principal;
}

/**
 * Kafka's TokenBucket: credits refill at the quota's rate up to a burst of the quota over the whole window
 * (`QUOTA_WINDOW_NUM` samples of `QUOTA_WINDOW_SIZE_MS`); a mutation takes its partitions from the credits, and
 * the quota is exhausted while they are below zero. A fresh bucket is full.
 */
export class TokenBucket {
  private tokens = Number.POSITIVE_INFINITY;
  private lastMs = 0;

  constructor(private ratePerSecond: number) {}

  /** A changed quota changes the refill rate and keeps the credits, as Kafka's sensor does. */
  set rate(ratePerSecond: number) {
    this.measure(Date.now());
    this.ratePerSecond = ratePerSecond;
  }

  private get burst(): number {
    return (QUOTA_WINDOW_NUM * QUOTA_WINDOW_SIZE_MS * this.ratePerSecond) / 1000;
  }

  /** The credits left now (negative once exhausted). */
  measure(nowMs: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) * this.ratePerSecond) / 1000);
    this.lastMs = nowMs;
    return this.tokens;
  }

  record(value: number, nowMs: number): void {
    this.tokens = Math.min(this.burst, this.measure(nowMs) - value);
  }

  /** The time for `tokens` below zero to come back to zero (Kafka's ControllerMutationQuotaManager.throttleTimeMs). */
  throttleTimeMs(tokens: number): number {
    return tokens >= 0 ? 0 : Math.round((-tokens / this.ratePerSecond) * 1000);
  }
}

/**
 * The controller mutation quota of one request (Kafka's ControllerMutationQuota). Strict (CreateTopics v6+,
 * CreatePartitions v3+, DeleteTopics v5+): a mutation is refused once the bucket is already exhausted, and the
 * one that exhausts it still passes. Permissive (older versions, whose clients know no THROTTLING_QUOTA_EXCEEDED):
 * every mutation passes, and the answer carries the time to wait.
 */
export class ControllerMutationQuota {
  private lastThrottleTimeMs = 0;
  private lastRecordedMs = 0;

  constructor(
    private readonly bucket: TokenBucket | null,
    private readonly strict: boolean,
  ) {}

  /** Counts `partitions`; false when a strict quota refuses them (the topic gets THROTTLING_QUOTA_EXCEEDED). */
  record(partitions: number, nowMs = Date.now()): boolean {
    if (!this.bucket) return true;
    if (this.strict) {
      const tokens = this.bucket.measure(nowMs);
      if (tokens < 0) {
        this.lastThrottleTimeMs = this.bucket.throttleTimeMs(tokens);
        this.lastRecordedMs = nowMs;
        return false;
      }
      this.bucket.record(partitions, nowMs);
      return true;
    }
    this.bucket.record(partitions, nowMs);
    const tokens = this.bucket.measure(nowMs);
    if (tokens < 0) {
      this.lastThrottleTimeMs = this.bucket.throttleTimeMs(tokens);
      this.lastRecordedMs = nowMs;
    }
    return true;
  }

  /** The time to wait, less what has passed since it was found (the request may have waited on the store). */
  throttleTimeMs(nowMs = Date.now()): number {
    return Math.max(0, this.lastThrottleTimeMs - (nowMs - this.lastRecordedMs));
  }
}

/** The quota that applies to a client, and the key of the rate it is counted in. */
interface ResolvedQuota {
  bound: number;
  sensorKey: string;
}

/** Rates of clients idle this long are dropped (Kafka expires its quota sensors after an hour). */
const IDLE_RATE_EXPIRY_MS = 3_600_000;
/** How often idle rates are looked for. */
const IDLE_RATE_SWEEP_INTERVAL_MS = 60_000;
/** Resolved (user, client id) pairs kept; past this the cache starts again (client ids are the client's to pick). */
const MAX_RESOLVED_CLIENTS = 10_000;

export class ClientQuotaManager {
  private readonly rates = new Map<string, { rate: SampledRate; lastMs: number }>();
  private readonly buckets = new Map<string, { bucket: TokenBucket; bound: number; lastMs: number }>();
  private readonly resolved = new Map<string, ResolvedQuota | null>();
  private resolvedVersion = -1;
  private lastSweepMs = 0;

  constructor(private readonly quotas: ClientQuotaMetadata) {}

  /**
   * Counts `bytes` for the client and returns how long it must wait, in ms (0 within its quota). With
   * `onlyIfWithin`, bytes that would exceed the quota are not counted (a fetch over quota is answered empty).
   */
  record(quota: RateQuota, user: string, clientId: string, bytes: number, nowMs: number, onlyIfWithin = false) {
    if (this.quotas.isEmpty) return 0;
    const resolved = this.resolve(quota, user, clientId);
    if (!resolved) return 0;
    this.sweep(nowMs);
    let entry = this.rates.get(resolved.sensorKey);
    if (!entry) {
      entry = { rate: new SampledRate(), lastMs: nowMs };
      this.rates.set(resolved.sensorKey, entry);
    }
    entry.lastMs = nowMs;
    entry.rate.record(bytes, nowMs);
    const rate = entry.rate.rate(nowMs);
    if (rate <= resolved.bound) return 0;
    if (onlyIfWithin) entry.rate.unrecord(bytes);
    // Kafka's QuotaUtils.throttleTime: the wait that brings the rate back to the bound over the same window.
    const throttleMs = Math.round(((rate - resolved.bound) / resolved.bound) * entry.rate.windowMs(nowMs));
    return quota === REQUEST_PERCENTAGE ? Math.min(throttleMs, MAX_REQUEST_THROTTLE_MS) : throttleMs;
  }

  /**
   * Whether the client has a request quota: the dispatcher measures handler time only then. The quotas' version
   * is checked first, so that a broker without quotas pays one property read per request.
   */
  hasRequestQuota(user: string, clientId: string): boolean {
    return !this.quotas.isEmpty && this.resolve(REQUEST_PERCENTAGE, user, clientId) !== null;
  }

  /**
   * The wait the client's request_percentage asks for now, counting nothing: a fetch of a client already over it
   * is answered empty, as Kafka answers it.
   */
  requestThrottleTimeMs(user: string, clientId: string, nowMs: number): number {
    if (this.quotas.isEmpty) return 0;
    const resolved = this.resolve(REQUEST_PERCENTAGE, user, clientId);
    const entry = resolved && this.rates.get(resolved.sensorKey);
    if (!resolved || !entry) return 0;
    return Math.min(rateThrottleTimeMs(entry.rate, resolved.bound, nowMs), MAX_REQUEST_THROTTLE_MS);
  }

  /** Counts time spent after the answer was made (encoding it): it weighs on the next requests, as in Kafka. */
  recordNoThrottle(quota: RateQuota, user: string, clientId: string, value: number, nowMs: number): void {
    if (this.quotas.isEmpty) return;
    const resolved = this.resolve(quota, user, clientId);
    if (!resolved) return;
    const entry = this.rates.get(resolved.sensorKey);
    if (entry) entry.rate.record(value, nowMs);
  }

  /**
   * The controller mutation quota for one request, strict or permissive by its version. Clients without a
   * controller_mutation_rate get one that lets everything through.
   */
  controllerMutationQuota(
    user: string,
    clientId: string,
    strict: boolean,
    nowMs = Date.now(),
  ): ControllerMutationQuota {
    if (this.quotas.isEmpty) return new ControllerMutationQuota(null, strict);
    const resolved = this.resolve(CONTROLLER_MUTATION_RATE, user, clientId);
    if (!resolved) return new ControllerMutationQuota(null, strict);
    this.sweep(nowMs);
    let entry = this.buckets.get(resolved.sensorKey);
    if (!entry) {
      entry = { bucket: new TokenBucket(resolved.bound), bound: resolved.bound, lastMs: nowMs };
      this.buckets.set(resolved.sensorKey, entry);
    } else if (entry.bound !== resolved.bound) {
      entry.bucket.rate = resolved.bound;
      entry.bound = resolved.bound;
    }
    entry.lastMs = nowMs;
    return new ControllerMutationQuota(entry.bucket, strict);
  }

  /**
   * The most bytes one request may take within the client's quota: the quota over all but one sample window
   * (Kafka's getMaxValueInQuotaWindow). A fetch is cut to it, so that one response alone never breaks the quota
   * and a throttled consumer can still make progress.
   */
  maxBytesInWindow(quota: ByteRateQuota, user: string, clientId: string): number {
    if (this.quotas.isEmpty) return Number.POSITIVE_INFINITY;
    const resolved = this.resolve(quota, user, clientId);
    if (!resolved) return Number.POSITIVE_INFINITY;
    return Math.floor((resolved.bound * (QUOTA_WINDOW_NUM - 1) * QUOTA_WINDOW_SIZE_MS) / 1000);
  }

  /** The quota of this type for the client, by Kafka's precedence (DefaultQuotaCallback), cached per version. */
  private resolve(quota: ClientQuotaType, user: string, clientId: string): ResolvedQuota | null {
    if (this.resolvedVersion !== this.quotas.version || this.resolved.size >= MAX_RESOLVED_CLIENTS) {
      this.resolved.clear();
      this.resolvedVersion = this.quotas.version;
    }
    const cacheKey = `${quota}\u0000${user}\u0000${clientId}`;
    const cached = this.resolved.get(cacheKey);
    if (cached !== undefined) return cached;
    const u = (name: string | null) => ({ entityType: 'user' as const, entityName: name });
    const c = (name: string | null) => ({ entityType: 'client-id' as const, entityName: name });
    // Each level, and the rate its clients share: per (user, client id), per user, or per client id.
    const levels: Array<[QuotaEntity, string]> = [
      [[u(user), c(clientId)], `${user}\u0000${clientId}`],
      [[u(user), c(null)], `${user}\u0000${clientId}`],
      [[u(user)], `${user}\u0000`],
      [[u(null), c(clientId)], `${user}\u0000${clientId}`],
      [[u(null), c(null)], `${user}\u0000${clientId}`],
      [[u(null)], `${user}\u0000`],
      [[c(clientId)], `\u0000${clientId}`],
      [[c(null)], `\u0000${clientId}`],
    ];
    let found: ResolvedQuota | null = null;
    for (const [entity, tags] of levels) {
      const bound = this.quotas.get(entity)?.get(quota);
      if (bound !== undefined) {
        found = { bound, sensorKey: `${quota}\u0000${tags}` };
        break;
      }
    }
    this.resolved.set(cacheKey, found);
    return found;
  }

  /** Drops the rates of clients gone quiet. */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < IDLE_RATE_SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = nowMs;
    for (const [key, entry] of this.rates) if (nowMs - entry.lastMs > IDLE_RATE_EXPIRY_MS) this.rates.delete(key);
    for (const [key, entry] of this.buckets) if (nowMs - entry.lastMs > IDLE_RATE_EXPIRY_MS) this.buckets.delete(key);
  }
}
