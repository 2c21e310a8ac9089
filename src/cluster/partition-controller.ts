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
import {
  afterBrokerChange,
  type PartitionChange,
  preferredElection,
  uncleanElection,
} from './partition-leader-election.js';
import { completeReassignment, isReassigning } from './partition-reassignment.js';
import type { PartitionAssignment, TopicMetadata, TopicRecord } from './topic-metadata.js';

/** How often a write is tried again while other writers keep changing the record (the cache catches up between). */
const WRITE_ATTEMPTS = 50;
/** The longest delay a Node timer holds (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The pause between two write attempts: the watch brings the other writer's change meanwhile. */
const WRITE_RETRY_MS = 50;

export interface PartitionControllerOptions {
  store: MetadataStore;
  topics: TopicMetadata;
  cluster: LiveBrokers;
  nodeId: number;
  /** unclean.leader.election.enable for a topic: its override, else the broker's config. */
  uncleanLeaderElectionEnable(topic: TopicRecord): boolean;
  /** auto.leader.rebalance.enable and its leader.imbalance.* settings, read at each check. */
  rebalance(): { enable: boolean; checkIntervalMs: number; perBrokerPercentage: number };
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
    // Reassignments complete when their leaders add the new replicas to the ISR: every record change is checked.
    controller.unsubscribes.push(
      o.topics.onChange((names) => {
        for (const name of names) void controller.enqueue(() => controller.completeReassignments(name));
      }),
    );
    for (const topic of o.topics.all()) void controller.enqueue(() => controller.completeReassignments(topic.name));
    controller.schedulePass();
    await controller.work;
    controller.scheduleRebalance();
    return controller;
  }

  private rebalanceTimer: NodeJS.Timeout | null = null;

  /** The leader imbalance check, every leader.imbalance.check.interval.seconds (read again each time). */
  private scheduleRebalance(): void {
    if (this.stopped) return;
    this.rebalanceTimer = setTimeout(
      () => {
        void this.enqueue(async () => {
          if (this.o.rebalance().enable) await this.rebalancePass();
        }).finally(() => this.scheduleRebalance());
      },
      Math.min(this.o.rebalance().checkIntervalMs, MAX_TIMER_MS),
    );
    this.rebalanceTimer.unref();
  }

  /**
   * Kafka's auto leader rebalance (ZooKeeper mode's checkAndTriggerAutoLeaderRebalance): for each broker, the share
   * of the partitions whose preferred replica it is that another broker leads; above
   * leader.imbalance.per.broker.percentage, each of them whose preferred replica is live and in the ISR gets a
   * preferred election. Partitions under reassignment are left alone.
   */
  async rebalancePass(): Promise<void> {
    const isLive = (nodeId: number) => this.o.cluster.isLive(nodeId);
    const preferredCounts = new Map<number, number>();
    const notLed = new Map<number, Array<{ topic: string; partition: number }>>();
    for (const topic of this.o.topics.all()) {
      for (const p of topic.partitions) {
        if (isReassigning(p)) continue;
        const preferred = p.replicas[0];
        if (preferred === undefined) continue;
        preferredCounts.set(preferred, (preferredCounts.get(preferred) ?? 0) + 1);
        if (p.leader !== preferred && isLive(preferred) && p.isr.includes(preferred)) {
          notLed.set(preferred, [...(notLed.get(preferred) ?? []), { topic: topic.name, partition: p.partition }]);
        }
      }
    }
    const { perBrokerPercentage } = this.o.rebalance();
    const byTopic = new Map<string, number[]>();
    for (const [broker, partitions] of notLed) {
      const ratio = partitions.length / (preferredCounts.get(broker) ?? 1);
      if (ratio * 100 <= perBrokerPercentage) continue;
      this.o.log.info('leader imbalance above leader.imbalance.per.broker.percentage: preferred election', {
        broker,
        partitions: partitions.length,
        imbalancePercent: Math.round(ratio * 100),
      });
      for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    for (const [topic, partitions] of byTopic) {
      if (this.stopped) return;
      await electLeaders(this.o.topics, isLive, topic, partitions, ElectionType.PREFERRED, this.o.log, this.compares());
    }
  }

  private compares(): Compare[] {
    return this.guard ? [this.guard] : [];
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

  /** Completes the reassignments of a topic whose target replicas are all in the ISR (KIP-455). */
  private async completeReassignments(name: string): Promise<void> {
    const topic = this.o.topics.get(name);
    if (!topic?.partitions.some(isReassigning)) return;
    const isLive = (nodeId: number) => this.o.cluster.isLive(nodeId);
    const completed: PartitionAssignment[] = [];
    await this.write(name, (current) => {
      completed.length = 0;
      return changePartitions(current, (p) => {
        const done = completeReassignment(p, isLive);
        if (done) completed.push(done);
        return done;
      });
    });
    for (const p of completed) {
      this.o.log.info('partition reassignment completed', {
        topic: name,
        partition: p.partition,
        replicas: p.replicas.join(','),
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
      });
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
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
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

/** ElectLeaders' election types (Kafka's ElectionType). */
export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

/** One partition's outcome of an election: null when a new leader was written, else Kafka's error name. */
export interface ElectionResult {
  partition: number;
  error:
    | 'ELECTION_NOT_NEEDED'
    | 'PREFERRED_LEADER_NOT_AVAILABLE'
    | 'ELIGIBLE_LEADERS_NOT_AVAILABLE'
    | 'UNKNOWN_TOPIC_OR_PARTITION'
    | 'REQUEST_TIMED_OUT'
    | null;
  message: string | null;
}

const ELECTION_MESSAGES: Record<Exclude<ElectionResult['error'], null>, string> = {
  ELECTION_NOT_NEEDED: 'Leader election not needed for topic partition.',
  PREFERRED_LEADER_NOT_AVAILABLE: 'The preferred leader is not live or not in the ISR.',
  ELIGIBLE_LEADERS_NOT_AVAILABLE: 'No live replica can lead the partition.',
  UNKNOWN_TOPIC_OR_PARTITION: 'The partition does not exist.',
  REQUEST_TIMED_OUT: 'The topic record kept changing; try again.',
};

/**
 * ElectLeaders for the partitions of one topic (PREFERRED or UNCLEAN), written compare-and-set in one change of
 * the topic's record, recomputed on a newer record when another writer got there first. Any broker may run it:
 * the store serialises it with the controller's writes (KRaft's brokers forward ElectLeaders to the controller).
 */
export async function electLeaders(
  topics: TopicMetadata,
  isLive: (nodeId: number) => boolean,
  name: string,
  partitions: readonly number[],
  electionType: number,
  log: Logger,
  compares: readonly Compare[] = [],
): Promise<ElectionResult[]> {
  let results: ElectionResult[] = [];
  const elected: Array<{ p: PartitionAssignment; unclean: boolean }> = [];
  const result = (partition: number, error: ElectionResult['error']): ElectionResult => ({
    partition,
    error,
    message: error === null ? null : ELECTION_MESSAGES[error],
  });
  const outcome = await writeTopic(
    topics,
    name,
    (current) => {
      results = [];
      elected.length = 0;
      const byIndex = new Map<number, PartitionAssignment>();
      for (const partition of partitions) {
        const p = byIndex.get(partition) ?? current.partitions[partition];
        if (p?.partition !== partition) {
          results.push(result(partition, 'UNKNOWN_TOPIC_OR_PARTITION'));
          continue;
        }
        const election =
          electionType === ElectionType.UNCLEAN ? uncleanElection(p, isLive) : preferredElection(p, isLive);
        if ('error' in election) {
          results.push(result(partition, election.error));
          continue;
        }
        byIndex.set(partition, election.elected);
        elected.push({ p: election.elected, unclean: election.unclean });
        results.push(result(partition, null));
      }
      if (byIndex.size === 0) return null;
      return { ...current, partitions: current.partitions.map((p) => byIndex.get(p.partition) ?? p) };
    },
    compares,
  );
  if (outcome === 'missing') return partitions.map((p) => result(p, 'UNKNOWN_TOPIC_OR_PARTITION'));
  if (outcome === 'busy') {
    return results.map((r) => (r.error === null ? result(r.partition, 'REQUEST_TIMED_OUT') : r));
  }
  for (const { p, unclean } of elected) {
    const fields = { topic: name, partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch };
    if (unclean) log.warn('unclean leader election: the new leader was not in the ISR, records may be lost', fields);
    else log.info('leader elected', fields);
  }
  return results;
}
