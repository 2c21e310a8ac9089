/**
 * The live brokers of the cluster and its controller, as the metadata store says: the registrations under
 * `/brokers/ids/` (each put under its broker's lease, so a dead broker's goes when its session ends) and the
 * `/controller` key, loaded once and then followed through watches. Metadata, DescribeCluster, FindCoordinator and
 * replica placement read it synchronously.
 *
 * The broker answering is always counted as live: its own registration is written at the end of its start-up,
 * and until the watch brings it the view would otherwise leave it out of its own answers. On the embedded store
 * (one broker, no registration) the view holds that broker alone, and it is its own controller.
 */
import { BROKER_REGISTRATIONS_PREFIX, type BrokerRegistration } from './etcd-broker-registration.js';
import type { MetadataStore, WatchEvent } from './metadata-store.js';

/** The key holding the elected controller's id (see controller-election.ts). */
export const CONTROLLER_KEY = '/controller';

/** The value of `/controller`. */
export interface ControllerRecord {
  brokerId: number;
}

/** Kafka's "no such node" id (no leader, no controller). */
export const NO_NODE = -1;

export class LiveBrokers {
  private readonly brokers = new Map<number, BrokerRegistration>();
  private sorted: BrokerRegistration[] | null = null;
  private controller = NO_NODE;
  private readonly stopWatches: Array<() => void> = [];
  private readonly listeners = new Set<() => void>();

  private constructor(readonly self: BrokerRegistration) {
    this.brokers.set(self.nodeId, self);
  }

  /** One broker with no cluster around it (the embedded store): it is the only live broker and the controller. */
  static single(self: BrokerRegistration): LiveBrokers {
    const view = new LiveBrokers(self);
    view.controller = self.nodeId;
    return view;
  }

  /** The registrations and the controller in `store`, kept current by watches until close(). */
  static async load(
    store: MetadataStore,
    self: BrokerRegistration,
    onWatchError?: (error: Error) => void,
  ): Promise<LiveBrokers> {
    const view = new LiveBrokers(self);
    const revision = await store.revision();
    for (const kv of await store.list(BROKER_REGISTRATIONS_PREFIX)) {
      const registration = JSON.parse(kv.value) as BrokerRegistration;
      view.brokers.set(registration.nodeId, registration);
    }
    view.brokers.set(self.nodeId, self);
    const controller = await store.get(CONTROLLER_KEY);
    if (controller) view.controller = (JSON.parse(controller.value) as ControllerRecord).brokerId;
    view.stopWatches.push(
      store.watch(BROKER_REGISTRATIONS_PREFIX, revision, (events) => view.onRegistrations(events), onWatchError),
      store.watch(CONTROLLER_KEY, revision, (events) => view.onController(events), onWatchError),
    );
    return view;
  }

  /** Called after every change of the live brokers or of the controller. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The id of the elected controller, or NO_NODE while there is none. */
  get controllerId(): number {
    return this.controller;
  }

  isLive(nodeId: number): boolean {
    return this.brokers.has(nodeId);
  }

  get(nodeId: number): BrokerRegistration | undefined {
    return this.brokers.get(nodeId);
  }

  /** The live brokers by node id. */
  all(): readonly BrokerRegistration[] {
    this.sorted ??= [...this.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
    return this.sorted;
  }

  ids(): ReadonlySet<number> {
    return new Set(this.brokers.keys());
  }

  /**
   * Where clients reach `nodeId` on the listener named `listenerName` (the one their connection came in on, as
   * Kafka answers), or null when the broker is not live or has no such listener.
   */
  endpoint(nodeId: number, listenerName: string): { host: string; port: number } | null {
    const endpoint = this.brokers.get(nodeId)?.endpoints.find((e) => e.name === listenerName);
    return endpoint ? { host: endpoint.host, port: endpoint.port } : null;
  }

  /**
   * This broker's registration lease is lost: the cluster no longer counts it as live, so neither does its own
   * view (its partitions answer without a leader, as the other brokers answer them), until rejoinSelf().
   */
  loseSelf(): void {
    this.brokers.delete(this.self.nodeId);
    this.sorted = null;
    if (this.controller === this.self.nodeId) this.controller = NO_NODE;
    this.changed();
  }

  /** This broker registered again. */
  rejoinSelf(): void {
    this.brokers.set(this.self.nodeId, this.self);
    this.sorted = null;
    this.changed();
  }

  close(): void {
    for (const stop of this.stopWatches) stop();
    this.stopWatches.length = 0;
  }

  private onRegistrations(events: WatchEvent[]): void {
    for (const e of events) {
      if (e.type === 'put') {
        const registration = JSON.parse(e.kv.value) as BrokerRegistration;
        if (registration.nodeId !== this.self.nodeId) this.brokers.set(registration.nodeId, registration);
      } else {
        const nodeId = Number(e.key.slice(BROKER_REGISTRATIONS_PREFIX.length));
        if (nodeId !== this.self.nodeId) this.brokers.delete(nodeId);
      }
    }
    this.sorted = null;
    this.changed();
  }

  private onController(events: WatchEvent[]): void {
    for (const e of events) {
      if (e.type === 'put') this.controller = (JSON.parse(e.kv.value) as ControllerRecord).brokerId;
      else this.controller = NO_NODE;
    }
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
