/**
 * Server-side assignors of KIP-848 consumer groups: the coordinator, not a group leader, decides which member
 * gets which partition. A member may ask for one by name (ConsumerGroupHeartbeat's ServerAssignor); the
 * group uses the one most of its members ask for, or `uniform`.
 */

/** Partitions by topic id. */
export type TopicPartitions = Map<string, Set<number>>;

export interface AssignmentMember {
  memberId: string;
  /** The ids of the subscribed topics that exist. */
  subscribedTopicIds: ReadonlySet<string>;
  /** The member's partitions in the current target assignment: assignors keep them where they can. */
  current: TopicPartitions;
}

export interface AssignmentSpec {
  members: AssignmentMember[];
  /** Partition count of every topic some member subscribes to, by topic id. */
  topics: ReadonlyMap<string, number>;
}

export interface ServerAssignor {
  name: string;
  /** Every partition of a subscribed topic goes to exactly one of its subscribers. */
  assign(spec: AssignmentSpec): Map<string, TopicPartitions>;
}

function countOf(assignment: TopicPartitions): number {
  let n = 0;
  for (const ps of assignment.values()) n += ps.size;
  return n;
}

function add(assignment: TopicPartitions, topicId: string, partition: number): void {
  let ps = assignment.get(topicId);
  if (!ps) {
    ps = new Set();
    assignment.set(topicId, ps);
  }
  ps.add(partition);
}

function remove(assignment: TopicPartitions, topicId: string, partition: number): void {
  const ps = assignment.get(topicId);
  if (!ps) return;
  ps.delete(partition);
  if (ps.size === 0) assignment.delete(topicId);
}

/** Members in a stable order, so that the same input always gives the same assignment. */
function sortedMembers(spec: AssignmentSpec): AssignmentMember[] {
  return [...spec.members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
}

/**
 * `uniform`: as many partitions per member as possible (counts differ by at most one among members with the
 * same subscription), and sticky: a member keeps the partitions it had in the previous target where that
 * stays balanced, so a rebalance moves as few partitions as it can.
 */
export const uniformAssignor: ServerAssignor = {
  name: 'uniform',
  assign(spec) {
    const members = sortedMembers(spec);
    const result = new Map<string, TopicPartitions>(members.map((m) => [m.memberId, new Map()]));
    const owner = new Map<string, string>();
    const key = (topicId: string, p: number) => `${topicId}:${p}`;
    // 1. Keep what is still valid: the topic exists, the partition too, the member still subscribes to it.
    for (const m of members) {
      for (const [topicId, ps] of m.current) {
        const count = spec.topics.get(topicId);
        if (count === undefined || !m.subscribedTopicIds.has(topicId)) continue;
        for (const p of ps) {
          if (p >= count || owner.has(key(topicId, p))) continue;
          owner.set(key(topicId, p), m.memberId);
          add(result.get(m.memberId)!, topicId, p);
        }
      }
    }
    const load = (id: string) => countOf(result.get(id)!);
    // 2. Each partition nobody holds goes to its least loaded subscriber.
    const topicIds = [...spec.topics.keys()].sort();
    for (const topicId of topicIds) {
      const subscribers = members.filter((m) => m.subscribedTopicIds.has(topicId));
      if (subscribers.length === 0) continue;
      for (let p = 0; p < spec.topics.get(topicId)!; p++) {
        if (owner.has(key(topicId, p))) continue;
        let best = subscribers[0]!;
        for (const s of subscribers) if (load(s.memberId) < load(best.memberId)) best = s;
        owner.set(key(topicId, p), best.memberId);
        add(result.get(best.memberId)!, topicId, p);
      }
    }
    // 3. Move partitions from the most to the least loaded members until no move narrows the gap. Every move
    // lowers the sum of squared loads, so this ends.
    for (;;) {
      const byLoad = [...members].sort((a, b) => load(b.memberId) - load(a.memberId));
      let moved = false;
      for (const giver of byLoad) {
        for (const taker of [...byLoad].reverse()) {
          if (load(giver.memberId) - load(taker.memberId) <= 1) break;
          const from = result.get(giver.memberId)!;
          const topicId = [...from.keys()].sort().find((t) => taker.subscribedTopicIds.has(t));
          if (topicId === undefined) continue;
          const p = Math.max(...from.get(topicId)!);
          remove(from, topicId, p);
          add(result.get(taker.memberId)!, topicId, p);
          moved = true;
          break;
        }
        if (moved) break;
      }
      if (!moved) return result;
    }
  },
};

/**
 * `range`: per topic, its subscribers (in member id order) get consecutive ranges of partitions, the first
 * `partitions % subscribers` one partition more; members subscribed to co-partitioned topics get the same
 * partition numbers of each.
 */
export const rangeAssignor: ServerAssignor = {
  name: 'range',
  assign(spec) {
    const members = sortedMembers(spec);
    const result = new Map<string, TopicPartitions>(members.map((m) => [m.memberId, new Map()]));
    for (const [topicId, count] of spec.topics) {
      const subscribers = members.filter((m) => m.subscribedTopicIds.has(topicId));
      if (subscribers.length === 0) continue;
      const base = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      let next = 0;
      subscribers.forEach((m, i) => {
        const size = base + (i < extra ? 1 : 0);
        for (let p = next; p < next + size; p++) add(result.get(m.memberId)!, topicId, p);
        next += size;
      });
    }
    return result;
  },
};

/** The assignors a member may name, Kafka's default (`uniform`) first. */
export const SERVER_ASSIGNORS: ReadonlyMap<string, ServerAssignor> = new Map(
  [uniformAssignor, rangeAssignor].map((a) => [a.name, a]),
);
export const DEFAULT_SERVER_ASSIGNOR = uniformAssignor.name;
