import { isIPv4 } from 'node:net';
import { QUOTA_WINDOW_SIZE_MS, rateThrottleTimeMs, SampledRate } from '../security/sampled-rate.js';

/** Kafka's "no limit" for its int connection configs (Integer.MAX_VALUE): nothing to count against. */
export const UNLIMITED_CONNECTIONS = 2_147_483_647;

/**
 * The longest a connection waits for a creation rate, one sample window, as Kafka's ConnectionQuotas bounds it:
 * a burst delays the next connections by a window at most, not by the whole window of samples.
 */
export const MAX_CONNECTION_THROTTLE_MS = QUOTA_WINDOW_SIZE_MS;

/** Rates of addresses idle this long are dropped (Kafka expires its per-IP sensors after an hour). */
const IDLE_IP_RATE_EXPIRY_MS = 3_600_000;
const IDLE_IP_RATE_SWEEP_INTERVAL_MS = 60_000;

/** The broker-wide limits, read at each new connection: they are dynamic broker configs. */
export interface BrokerConnectionLimits {
  /** max.connections, across all listeners. */
  readonly maxConnections: number;
  /** max.connection.creation.rate, across all listeners. */
  readonly maxConnectionCreationRate: number;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
}

/** A listener's own limits (listener.name.<name>.max.connections and .max.connection.creation.rate). */
export interface ListenerConnectionLimits {
  maxConnections?: number;
  maxConnectionCreationRate?: number;
}

/** Throttles a listener applied to new connections, as Kafka's socket-server metrics report them. */
export interface ConnectionThrottleStats {
  /** Connections delayed by the broker's or the listener's creation rate, and their total delay. */
  acceptThrottled: number;
  acceptThrottleMs: number;
  /** Connections closed after a delay by their address's connection_creation_rate, and their total delay. */
  ipThrottled: number;
  ipThrottleMs: number;
}

/** An address as quotas name it: IPv4 clients of a dual-stack socket come as `::ffff:a.b.c.d`. */
export function quotaAddress(remoteAddress: string | undefined): string {
  if (!remoteAddress) return '';
  const mapped = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice('::ffff:'.length) : null;
  return mapped !== null && isIPv4(mapped) ? mapped : remoteAddress;
}

/**
 * Kafka's ConnectionQuotas for all of a broker's listeners: open connections counted per broker, per listener
 * and per address (max.connections, listener.name.<l>.max.connections, max.connections.per.ip and its
 * overrides), and the creation rates of KIP-612 counted in a sampled rate each (max.connection.creation.rate per
 * broker and per listener, and the `connection_creation_rate` client quota per address).
 */
export class ConnectionQuotas {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly brokerRate = new SampledRate();
  private readonly listenerRates = new Map<string, SampledRate>();
  private readonly addressRates = new Map<string, { rate: SampledRate; lastMs: number }>();
  private lastSweepMs = 0;

  /**
   * @param ipConnectionRate the connection_creation_rate quota of an address (its own, else the default), or
   *   undefined when none is set.
   */
  /**
   * @param protectedListener the inter-broker listener of a broker with several listeners: as in Kafka, the
   *   broker-wide max.connections and max.connection.creation.rate do not hold it (its own limits do), so that
   *   clients filling the broker cannot cut the brokers off from each other.
   */
  constructor(
    private readonly limits: BrokerConnectionLimits,
    private readonly ipConnectionRate: (address: string) => number | undefined = () => undefined,
    private readonly protectedListener: string | null = null,
  ) {}

  get openConnections(): number {
    return this.total;
  }

  /** Whether the broker and the listener have room for one more connection (the listener's alone if protected). */
  slotAvailable(listenerOpen: number, listener: ListenerConnectionLimits, listenerName = ''): boolean {
    if (listenerOpen >= (listener.maxConnections ?? UNLIMITED_CONNECTIONS)) return false;
    return listenerName === this.protectedListener || this.total < this.limits.maxConnections;
  }

  /**
   * Counts a new connection in the broker's and the listener's creation rates; returns how long the listener
   * should wait before taking it (0 within both rates), the longer of the two, at most one window.
   */
  recordConnection(listenerName: string, listener: ListenerConnectionLimits, nowMs: number): number {
    let throttleMs = 0;
    const brokerBound = this.limits.maxConnectionCreationRate;
    if (brokerBound < UNLIMITED_CONNECTIONS && listenerName !== this.protectedListener) {
      this.brokerRate.record(1, nowMs);
      throttleMs = rateThrottleTimeMs(this.brokerRate, brokerBound, nowMs);
    }
    const listenerBound = listener.maxConnectionCreationRate;
    if (listenerBound !== undefined && listenerBound < UNLIMITED_CONNECTIONS) {
      let rate = this.listenerRates.get(listenerName);
      if (!rate) {
        rate = new SampledRate();
        this.listenerRates.set(listenerName, rate);
      }
      rate.record(1, nowMs);
      throttleMs = Math.max(throttleMs, rateThrottleTimeMs(rate, listenerBound, nowMs));
    }
    return Math.min(throttleMs, MAX_CONNECTION_THROTTLE_MS);
  }

  /**
   * Counts a new connection in its address's creation rate, if a connection_creation_rate applies to it. Over the
   * quota the connection is not counted (here, nor in the broker's and listener's rates) and the time after which
   * it is to be closed is returned; 0 lets it in.
   */
  recordAddress(address: string, listenerName: string, nowMs: number): number {
    const bound = this.ipConnectionRate(address);
    if (bound === undefined) return 0;
    this.sweep(nowMs);
    let entry = this.addressRates.get(address);
    if (!entry) {
      entry = { rate: new SampledRate(), lastMs: nowMs };
      this.addressRates.set(address, entry);
    }
    entry.lastMs = nowMs;
    entry.rate.record(1, nowMs);
    const throttleMs = Math.min(rateThrottleTimeMs(entry.rate, bound, nowMs), MAX_CONNECTION_THROTTLE_MS);
    if (throttleMs > 0) {
      entry.rate.unrecord(1);
      if (this.limits.maxConnectionCreationRate < UNLIMITED_CONNECTIONS && listenerName !== this.protectedListener)
        this.brokerRate.unrecord(1);
      this.listenerRates.get(listenerName)?.unrecord(1);
    }
    return throttleMs;
  }

  /**
   * Counts an open connection from `address`; false when that makes more than max.connections.per.ip (or the
   * address's override) allows, and the connection must be closed (it stays counted until `closed`).
   */
  opened(address: string): boolean {
    const count = this.perAddress.get(address) ?? 0;
    this.perAddress.set(address, count + 1);
    this.total++;
    const max = this.limits.maxConnectionsPerIpOverrides.get(address) ?? this.limits.maxConnectionsPerIp;
    return count < max;
  }

  closed(address: string): void {
    const count = this.perAddress.get(address) ?? 0;
    if (count <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, count - 1);
    this.total--;
  }

  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < IDLE_IP_RATE_SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = nowMs;
    for (const [address, entry] of this.addressRates)
      if (nowMs - entry.lastMs > IDLE_IP_RATE_EXPIRY_MS) this.addressRates.delete(address);
  }
}
