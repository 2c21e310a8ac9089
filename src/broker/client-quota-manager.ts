/**
 * Produce and fetch byte-rate quotas, as Kafka's ClientQuotaManager enforces them: each client's bytes are counted
 * in a rate over `QUOTA_WINDOW_NUM` samples of `QUOTA_WINDOW_SIZE_MS`; when a request takes the rate over the
 * quota, its answer carries the time the client must wait (throttle_time_ms) and the broker reads nothing more
 * from the connection for that long (KIP-219). Which quota applies, and which clients share a rate, follows
 * Kafka's precedence of user and client-id entities, defaults included.
 */
import type { ClientQuotaMetadata, QuotaEntity } from '../cluster/client-quotas.js';

/** Kafka's quota.window.num and quota.window.size.seconds defaults. */
export const QUOTA_WINDOW_NUM = 11;
export const QUOTA_WINDOW_SIZE_MS = 1_000;

export const PRODUCER_BYTE_RATE = 'producer_byte_rate';
export const CONSUMER_BYTE_RATE = 'consumer_byte_rate';
export type ByteRateQuota = typeof PRODUCER_BYTE_RATE | typeof CONSUMER_BYTE_RATE;

/** A user name: the principal's name after `User:` (ANONYMOUS for unauthenticated connections, as in Kafka). */
export function quotaUser(principal: string): string {
  return principal.startsWith('User:') ? principal.slice('User:'.length) : principal;
}

/**
 * A rate over a sliding window of samples (Kafka's Rate over a SampledStat): the sum of the samples divided by
 * the time they cover, counted as at least all but one full sample so that a first burst is not measured over
 * a few milliseconds.
 */
export class SampledRate {
  private readonly starts: number[];
  private readonly values: number[];
  private current = 0;

  constructor(
    private readonly samples = QUOTA_WINDOW_NUM,
    private readonly sampleMs = QUOTA_WINDOW_SIZE_MS,
  ) {
    this.starts = new Array<number>(samples).fill(Number.NEGATIVE_INFINITY);
    this.values = new Array<number>(samples).fill(0);
  }

  record(value: number, nowMs: number): void {
    if (nowMs >= this.starts[this.current]! + this.sampleMs) {
      this.current = (this.current + 1) % this.samples;
      this.starts[this.current] = nowMs;
      this.values[this.current] = 0;
    }
    this.values[this.current]! += value;
  }

  /** Takes back what `record` added (a throttled fetch sends no data, so its bytes do not count). */
  unrecord(value: number): void {
    this.values[this.current]! -= value;
  }

  /** Per second. */
  rate(nowMs: number): number {
    return (this.total(nowMs) * 1000) / this.windowMs(nowMs);
  }

  /** The time the samples cover, as the rate counts it. */
  windowMs(nowMs: number): number {
    let oldest = nowMs;
    for (let i = 0; i < this.samples; i++) {
      if (this.isLive(i, nowMs)) oldest = Math.min(oldest, this.starts[i]!);
    }
    let elapsed = nowMs - oldest;
    const fullWindows = Math.floor(elapsed / this.sampleMs);
    const minFullWindows = this.samples - 1;
    if (fullWindows < minFullWindows) elapsed += (minFullWindows - fullWindows) * this.sampleMs;
    return elapsed;
  }

  private total(nowMs: number): number {
    let sum = 0;
    for (let i = 0; i < this.samples; i++) if (this.isLive(i, nowMs)) sum += this.values[i]!;
    return sum;
  }

  /** Samples older than the whole window no longer count. */
  private isLive(i: number, nowMs: number): boolean {
    return this.starts[i]! > nowMs - this.samples * this.sampleMs;
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
  private readonly resolved = new Map<string, ResolvedQuota | null>();
  private resolvedVersion = -1;
  private lastSweepMs = 0;

  constructor(private readonly quotas: ClientQuotaMetadata) {}

  /**
   * Counts `bytes` for the client and returns how long it must wait, in ms (0 within its quota). With
   * `onlyIfWithin`, bytes that would exceed the quota are not counted (a fetch over quota is answered empty).
   */
  record(quota: ByteRateQuota, user: string, clientId: string, bytes: number, nowMs: number, onlyIfWithin = false) {
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
    return Math.round(((rate - resolved.bound) / resolved.bound) * entry.rate.windowMs(nowMs));
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
  private resolve(quota: ByteRateQuota, user: string, clientId: string): ResolvedQuota | null {
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
  }
}
