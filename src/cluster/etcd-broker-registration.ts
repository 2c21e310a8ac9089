/**
 * A broker's registration in the metadata store: `/brokers/ids/<node.id>` holding its rack and advertised
 * endpoints, put with a lease that the broker keeps alive. When the broker stops cleanly the lease is revoked and
 * the key goes at once; when the broker dies it goes when the lease expires. Written for etcd (where other brokers
 * see it) and kept store-agnostic, so the embedded store registers its one broker the same way.
 *
 * A lease lost while the broker runs (etcd expired it: the broker could not reach etcd within the TTL, or someone
 * revoked it) means the cluster no longer counts this broker as alive: `leaseLost` turns true and the handler
 * given is called once, so that the work that must stop (leadership) can be fenced.
 */
import type { MetadataStore } from './metadata-store.js';

export const BROKER_REGISTRATIONS_PREFIX = '/brokers/ids/';
/** Kafka's broker.session.timeout.ms default: the registration outlives a broker that stops answering by this. */
export const BROKER_SESSION_TIMEOUT_MS = 9_000;
/** Renewals per session timeout: a renewal or two may fail (a slow or restarting etcd) before the lease expires. */
const RENEWALS_PER_SESSION = 3;
/** Beyond the session timeout, how long a restarting broker waits for its old registration to expire. */
const REGISTRATION_GRACE_MS = 2_000;

/** Resolves when `key` is deleted after `revision`, or at `deadline`. */
function deleted(store: MetadataStore, key: string, revision: number, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop();
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
    const stop = store.watch(
      key,
      revision,
      (events) => {
        if (events.some((e) => e.type === 'delete' && e.key === key)) done();
      },
      done,
    );
  });
}

export interface BrokerEndpoint {
  name: string;
  host: string;
  port: number;
}

/** The value of a registration key (JSON). */
export interface BrokerRegistration {
  nodeId: number;
  rack: string | null;
  endpoints: BrokerEndpoint[];
}

export interface BrokerRegistrationOptions {
  sessionTimeoutMs?: number;
  onLeaseLost: (error: Error) => void;
}

export class BrokerRegistrar {
  leaseLost = false;
  private lease = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private lastRenewed = 0;
  private stopped = false;

  /** The lease the registration is put under; keys that must go with the broker (`/controller`) use it too. */
  get leaseId(): number {
    return this.lease;
  }

  private constructor(
    private readonly store: MetadataStore,
    readonly registration: BrokerRegistration,
    private readonly options: BrokerRegistrationOptions,
  ) {}

  /** Registers the broker; a live registration of the same node.id (another broker running with it) refuses. */
  static async register(
    store: MetadataStore,
    registration: BrokerRegistration,
    options: BrokerRegistrationOptions,
  ): Promise<BrokerRegistrar> {
    const r = new BrokerRegistrar(store, registration, options);
    const sessionMs = options.sessionTimeoutMs ?? BROKER_SESSION_TIMEOUT_MS;
    const key = `${BROKER_REGISTRATIONS_PREFIX}${registration.nodeId}`;
    // A broker restarted after a crash finds its old registration until that lease expires: it waits that long.
    // Its own lease is granted once the old registration is gone: nothing renews it during the wait, so one
    // granted before would expire about when the registration is put, and the broker be counted dead again.
    const deadline = Date.now() + sessionMs + REGISTRATION_GRACE_MS;
    for (;;) {
      const existing = await store.get(key);
      if (!existing) {
        r.lease = await store.grantLease(sessionMs);
        const put = await store.txn(
          [{ key, modRevision: 0 }],
          [{ type: 'put', key, value: JSON.stringify(registration), lease: r.lease }],
        );
        if (put.succeeded) break;
        // Registered by another since the read (a second broker with this node.id): decided below.
        await store.revokeLease(r.lease);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `node.id ${registration.nodeId} is already registered by a running broker (${key} in the metadata store); each broker needs its own node.id`,
        );
      }
      await deleted(store, key, existing.modRevision, deadline);
    }
    r.lastRenewed = Date.now();
    r.timer = setInterval(() => {
      r.renewing ??= r.renew(sessionMs).finally(() => {
        r.renewing = undefined;
      });
    }, sessionMs / RENEWALS_PER_SESSION);
    r.timer.unref();
    return r;
  }

  private async renew(sessionMs: number): Promise<void> {
    if (this.stopped || this.leaseLost) return;
    try {
      await this.store.keepAlive(this.lease);
      this.lastRenewed = Date.now();
    } catch (e) {
      if (this.stopped) return;
      // Unreachable for longer than the session: etcd has expired the lease even if it cannot tell us so yet.
      const expired = Date.now() - this.lastRenewed >= sessionMs;
      if (/lost|not found/i.test((e as Error).message) || expired) this.lose(e as Error);
    }
  }

  private lose(error: Error): void {
    this.leaseLost = true;
    clearInterval(this.timer);
    this.options.onLeaseLost(error);
  }

  /** Every registered broker, by node.id. */
  static async list(store: MetadataStore): Promise<BrokerRegistration[]> {
    return (await store.list(BROKER_REGISTRATIONS_PREFIX))
      .map((kv) => JSON.parse(kv.value) as BrokerRegistration)
      .sort((a, b) => a.nodeId - b.nodeId);
  }

  /**
   * After the lease was lost: revokes it in case etcd still holds it (the broker only lost touch for a session,
   * and etcd, restarted, renewed its leases), so that its registration goes now and a new one need not wait for
   * it to expire. A lease etcd no longer knows is fine; an unreachable etcd throws.
   */
  async revokeLostLease(): Promise<void> {
    try {
      await this.store.revokeLease(this.lease);
    } catch (e) {
      if (!/lost|not found/i.test((e as Error).message)) throw e;
    }
  }

  /** A clean stop: the registration goes now rather than at the end of the session. */
  async deregister(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.renewing;
    if (!this.leaseLost) await this.store.revokeLease(this.lease);
  }
}
