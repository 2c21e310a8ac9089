/**
 * Controller election through the metadata store, as Kafka's ZooKeeper mode elects its controller: every broker
 * tries to create `/controller` holding its id, compare-and-set on the key not existing, under its registration
 * lease. The first to get there holds it; when its lease goes (a clean stop revokes it, a dead broker's expires
 * after the session timeout) etcd deletes the key, every broker's watch sees the deletion, and they race again.
 */
import { CONTROLLER_KEY, type ControllerRecord } from './live-brokers.js';
import type { MetadataStore } from './metadata-store.js';

export class ControllerElection {
  private stopWatch: (() => void) | null = null;
  private stopped = false;
  private attempt: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: MetadataStore,
    private readonly nodeId: number,
    private readonly lease: number,
    private readonly onError: (error: Error) => void,
  ) {}

  /**
   * Stands for election now and whenever the controller's key is deleted, until stop(). `lease` is the broker's
   * registration lease: the key goes with the broker.
   */
  static async start(
    store: MetadataStore,
    nodeId: number,
    lease: number,
    onError: (error: Error) => void,
  ): Promise<ControllerElection> {
    const election = new ControllerElection(store, nodeId, lease, onError);
    const revision = await store.revision();
    election.stopWatch = store.watch(
      CONTROLLER_KEY,
      revision,
      (events) => {
        if (events.some((e) => e.type === 'delete')) election.stand();
      },
      onError,
    );
    election.stand();
    await election.attempt;
    return election;
  }

  /** Tries to become controller (one attempt at a time; a losing attempt leaves the winner in place). */
  private stand(): void {
    this.attempt = this.attempt.then(async () => {
      if (this.stopped) return;
      const value: ControllerRecord = { brokerId: this.nodeId };
      try {
        await this.store.txn(
          [{ key: CONTROLLER_KEY, modRevision: 0 }],
          [{ type: 'put', key: CONTROLLER_KEY, value: JSON.stringify(value), lease: this.lease }],
        );
      } catch (error) {
        // The store is out of reach: the next deletion seen (or the watch's resumption) brings another attempt.
        this.onError(error as Error);
      }
    });
  }

  /** Stops standing; the key itself goes with the lease (revoked at a clean stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    await this.attempt;
  }
}
