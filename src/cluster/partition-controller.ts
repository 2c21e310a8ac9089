/**
 * The controller's work on partition state, run by the broker holding `/controller` (see controller-election.ts):
 * it follows the live brokers and writes the topic records when they change, as Kafka's controller does on a
 * broker's loss (OfflinePartitionLeaderElection) and return. Every write is compare-and-set on the topic record
 * (leaders write their ISR changes to the same records) and on `/controller` still being this broker's, so that
 * a controller that lost its place writes nothing more (Kafka's controller epoch check).
 *
 * A controller taking over does a full pass over every topic first: the one before may have died between a
 * broker's loss and its writes.
 */
import type { Logger } from '../observability/logger.js';
import { CONTROLLER_KEY, type LiveBrokers, NO_NODE } from './live-brokers.js';
import type { Compare, MetadataStore } from './metadata-store.js';
import { afterBrokerChange, type PartitionChange } from './partition-leader-election.js';
import type { PartitionAssignment, TopicMetadata, TopicRecord } from './topic-metadata.js';

/** How often a write is tried again while other writers keep changing the record (the cache catches up between). */
const WRITE_ATTEMPTS = 50;
/** The pause between two write attempts: the watch brings the other writer's change meanwhile. */
const WRITE_RETRY_MS = 50;

export interface PartitionControllerOptions {
  store: MetadataStore;
  topics: TopicMetadata;
  cluster: LiveBrokers;
  nodeId: number;
  /** unclean.leader.election.enable for a topic: its override, else the broker's config. */
  uncleanLeaderElectionEnable(topic: TopicRecord): boolean;
  log: Logger;
}

export class PartitionController {
  private stopped = false;
  /** Passes run one at a time, in the order asked. */
  private work: Promise<void> = Promise.resolve();
  /** A pass is queued and has not started: later asks share it. */
  private passQueued = false;
  private readonly unsubscribes: Array<() => void> = [];
  /** The compare every write carries: `/controller` as it was when this broker took over. */
  private guard: Compare | null = null;

  private constructor(private readonly o: PartitionControllerOptions) {}

  /**
   * Takes over as controller, if `/controller` is this broker's: a full pass now, and one after every change of
   * the live brokers. Null when the key names another broker (the caller's view was behind).
   */
  static async start(o: PartitionControllerOptions): Promise<PartitionController | null> {
    const kv = await o.store.get(CONTROLLER_KEY);
    if (!kv || (JSON.parse(kv.value) as { brokerId: number }).brokerId !== o.nodeId) return null;
    const controller = new PartitionController(o);
    controller.guard = { key: CONTROLLER_KEY, modRevision: kv.modRevision };
    o.log.info('controller taking over: checking every partition', { nodeId: o.nodeId });
    controller.unsubscribes.push(o.cluster.onChange(() => controller.schedulePass()));
    controller.schedulePass();
    await controller.work;
    return controller;
  }

  /** Waits until every pass asked for so far is done (tests, and a stop). */
  settled(): Promise<void> {
    return this.work;
  }

  /** Runs `task` after the passes queued before it, unless stopped. */
  enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (error) {
        this.o.log.error('controller task failed', { error: error as Error });
      }
    });
    this.work = run;
    return run;
  }

  private schedulePass(): void {
    if (this.passQueued || this.stopped) return;
    this.passQueued = true;
    void this.enqueue(async () => {
      this.passQueued = false;
      await this.brokerChangePass();
    });
  }

  /** Every partition checked against the live brokers: dead brokers out of the ISR, new leaders where needed. */
  private async brokerChangePass(): Promise<void> {
    const isLive = (nodeId: number) => this.o.cluster.isLive(nodeId);
    for (const topic of [...this.o.topics.all()]) {
      if (this.stopped) return;
      const changes: PartitionChange[] = [];
      await this.write(topic.name, (current) => {
        changes.length = 0;
        const rules = { isLive, uncleanLeaderElectionEnable: this.o.uncleanLeaderElectionEnable(current) };
        let changed = false;
        const partitions = current.partitions.map((p) => {
          const change = afterBrokerChange(p, rules);
          if (!change) return p;
          changed = true;
          changes.push(change);
          return change.next;
        });
        return changed ? { ...current, partitions } : null;
      });
      for (const change of changes) this.report(topic.name, change);
    }
  }

  private report(topic: string, { next, unclean }: PartitionChange): void {
    const fields = {
      topic,
      partition: next.partition,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      isr: next.isr.join(','),
    };
    if (unclean) {
      this.o.log.warn(
        'unclean leader election: the new leader was not in the ISR, records acknowledged by the old ISR may be lost',
        fields,
      );
    } else if (next.leader === NO_NODE) {
      this.o.log.warn('partition offline: no live replica in the ISR to lead it', fields);
    } else {
      this.o.log.info('partition leader and ISR changed', fields);
    }
  }

  /**
   * Writes `change` to a topic record compare-and-set (on the record, and on `/controller` still being this
   * controller's), computed again on the newer record after each conflict. Whether it was written.
   */
  async write(name: string, change: (current: TopicRecord) => TopicRecord | null): Promise<boolean> {
    if (this.stopped) return false;
    const outcome = await writeTopic(this.o.topics, name, change, this.guard ? [this.guard] : []);
    if (outcome === 'updated') return true;
    if (outcome !== 'busy') return false;
    if (!(await this.stillController())) {
      this.o.log.warn('no longer the controller: stopping its work', { nodeId: this.o.nodeId });
      this.stop();
    } else {
      this.o.log.error('topic record kept changing: controller change not written', { topic: name });
    }
    return false;
  }

  private async stillController(): Promise<boolean> {
    const kv = await this.o.store.get(CONTROLLER_KEY);
    return kv !== null && kv.modRevision === this.guard?.modRevision;
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.unsubscribes) off();
    this.unsubscribes.length = 0;
  }
}

/**
 * `topics.modify` tried again, after a pause, while the record keeps changing under it: on etcd the cache learns
 * of another writer's change through the watch, a moment after the failed compare-and-set.
 */
export async function writeTopic(
  topics: TopicMetadata,
  name: string,
  change: (current: TopicRecord) => TopicRecord | null,
  compares: readonly Compare[] = [],
): Promise<'updated' | 'skipped' | 'missing' | 'busy'> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await topics.modify(name, change, compares);
    if (outcome !== 'busy' || attempt + 1 >= WRITE_ATTEMPTS) return outcome;
    await new Promise((resolve) => setTimeout(resolve, WRITE_RETRY_MS));
  }
}

/**
 * Kafka's controlled shutdown, done by the stopping broker itself before it deregisters (the store serialises it
 * with the controller's writes): each partition it leads goes to the next live ISR member in assignment order, and
 * it leaves the ISR of every partition, unless it is the last member. A partition no other ISR member can take
 * stays led here until the broker stops; the controller then sees the registration go and marks it offline.
 * Returns how many partitions changed leader.
 */
export async function controlledShutdown(
  topics: TopicMetadata,
  cluster: LiveBrokers,
  nodeId: number,
  log: Logger,
): Promise<number> {
  const excluded = new Set([nodeId]);
  const rules = { isLive: (id: number) => cluster.isLive(id), uncleanLeaderElectionEnable: false };
  let moved = 0;
  for (const topic of [...topics.all()]) {
    if (!topic.partitions.some((p) => p.isr.includes(nodeId) || p.leader === nodeId)) continue;
    let count = 0;
    const outcome = await writeTopic(topics, topic.name, (current) => {
      count = 0;
      return changePartitions(current, (p) => {
        if (!p.isr.includes(nodeId) && p.leader !== nodeId) return null;
        const change = afterBrokerChange(p, rules, excluded);
        // Nobody else can lead it: it stays here until the broker is gone.
        if (!change || (p.leader === nodeId && change.next.leader === NO_NODE)) return null;
        if (change.next.leader !== p.leader) count++;
        return change.next;
      });
    });
    if (outcome === 'updated') moved += count;
    else if (outcome === 'busy') log.warn('controlled shutdown: topic record kept changing', { topic: topic.name });
  }
  return moved;
}

/** The partitions of a record, each replaced by `change(p)` when it returns one; null when none changed. */
export function changePartitions(
  topic: TopicRecord,
  change: (p: PartitionAssignment) => PartitionAssignment | null,
): TopicRecord | null {
  let changed = false;
  const partitions = topic.partitions.map((p) => {
    const next = change(p);
    if (!next) return p;
    changed = true;
    return next;
  });
  return changed ? { ...topic, partitions } : null;
}
