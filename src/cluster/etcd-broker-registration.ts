/**
 * A broker's registration in the metadata store: `/brokers/ids/<node.id>` holding its rack and advertised
 * endpoints, put with a lease that the broker keeps alive. When the broker stops cleanly the lease is revoked and
 * the key goes at once; when the broker dies it goes when the lease expires. Written for etcd (where other brokers
 * see it) and kept store-agnostic, so the embedded store registers its one broker the same way.
 *
 * A lease lost while the broker runs means the cluster no longer counts this broker as alive: `leaseLost` turns
 * true and the handler given is called once, so that the work that must stop (leadership) can be fenced. Lost is
 * what the store says: a renewal answered that the lease is gone (expired or revoked), or the registration key
 * deleted or put again under another lease (seen by a watch on it). A store that cannot be reached says nothing
 * of the lease: the broker goes on as it is (as Kafka's brokers serve while ZooKeeper or the controller quorum is
 * away) and keeps trying; if the lease expired meanwhile, the first renewal that reaches the store says so.
 * Why that is safe is in docs/ARCHITECTURE.md (Broker registration).
 */
import { LeaseLostError, type MetadataStore, MetadataStoreUnreachableError } from './metadata-store.js';

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
  /** The store stopped answering renewals (called once per outage), with the failure. */
  onUnreachable?: (error: Error) => void;
  /** A renewal succeeded again after the store was unreachable, for `outageMs`. */
  onReachable?: (outageMs: number) => void;
}

/** A renewal failing so says nothing of the lease: the store was not reached, or did not answer in time. */
function unreachable(error: unknown): boolean {
  return error instanceof MetadataStoreUnreachableError;
}

export class BrokerRegistrar {
  leaseLost = false;
  private lease = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private lastRenewed = 0;
  /** Since when renewals fail because the store cannot be reached (0: it answers). */
  private unreachableSince = 0;
  private stopWatch: (() => void) | undefined;
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
        if (put.succeeded) {
          r.watchRegistration(key, put.revision);
          break;
        }
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
      r.renewing ??= r.renew().finally(() => {
        r.renewing = undefined;
      });
    }, sessionMs / RENEWALS_PER_SESSION);
    r.timer.unref();
    return r;
  }

  /** The time of the last successful renewal (or of the registration). */
  get lastRenewedMs(): number {
    return this.lastRenewed;
  }

  /** Whether the last renewals failed because the store could not be reached. */
  get storeUnreachable(): boolean {
    return this.unreachableSince !== 0;
  }

  /**
   * The registration key, followed from the revision that put it: deleted (its lease expired or was revoked, or
   * someone deleted it) or put again under another lease, the registration is no longer this broker's.
   */
  private watchRegistration(key: string, revision: number): void {
    const lease = this.lease;
    this.stopWatch = this.store.watch(key, revision, (events) => {
      if (this.stopped || this.leaseLost) return;
      for (const e of events) {
        if (e.type === 'delete' && e.key === key) {
          this.lose(
            new Error(`registration ${key} deleted (lease ${lease} lost: expired or revoked, or the key deleted)`),
          );
          return;
        }
        if (e.type === 'put' && e.kv.key === key && e.kv.lease !== lease) {
          this.lose(new Error(`registration ${key} replaced under another lease (lease ${lease} lost)`));
          return;
        }
      }
    });
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.leaseLost) return;
    try {
      await this.store.keepAlive(this.lease);
      this.lastRenewed = Date.now();
      if (this.unreachableSince !== 0) {
        const outageMs = this.lastRenewed - this.unreachableSince;
        this.unreachableSince = 0;
        this.options.onReachable?.(outageMs);
      }
    } catch (e) {
      if (this.stopped || this.leaseLost) return;
      if (unreachable(e)) {
        // Not a loss: the lease may well be alive (etcd paused, restarting, a slow disk). The store says when it
        // is not, at the first renewal that reaches it, or the watch on the key when it is deleted.
        if (this.unreachableSince === 0) {
          this.unreachableSince = Date.now();
          this.options.onUnreachable?.(e as Error);
        }
        return;
      }
      if (e instanceof LeaseLostError) this.lose(e);
      // Any other answer (a refused request) leaves the lease as it is until the store says it is gone.
    }
  }

  private lose(error: Error): void {
    if (this.leaseLost) return;
    this.leaseLost = true;
    clearInterval(this.timer);
    this.stopWatch?.();
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
   * it to expire. A lease etcd no longer knows is fine (the store's revoke says so); an unreachable etcd throws.
   */
  async revokeLostLease(): Promise<void> {
    await this.store.revokeLease(this.lease);
  }

  /** A clean stop: the registration goes now rather than at the end of the session. */
  async deregister(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.stopWatch?.();
    await this.renewing;
    if (!this.leaseLost) await this.store.revokeLease(this.lease);
  }
}
