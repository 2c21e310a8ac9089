/**
 * Where the replicas of new partitions go when the client does not say: Kafka's assignor
 * (AdminUtils.assignReplicasToBrokers). Partition p's first replica, its preferred leader, is the broker at
 * (p + start) modulo the broker count, round-robin from a random start, so that topics created one after another do
 * not all lead on the same broker; the other replicas follow at a shift that grows once per round. When every
 * broker has a rack the brokers are first arranged rack by rack in turn, so that consecutive leaders and a
 * partition's replicas land on different racks.
 */

export interface PlacementBroker {
  nodeId: number;
  rack: string | null;
}

export interface PlacementOptions {
  /** The first partition's index (CreatePartitions places partitions after the existing ones). */
  firstPartition?: number;
  /** The round-robin start; random unless given (CreatePartitions continues after the existing partition 0's). */
  startIndex?: number;
  /** The follower shift; random unless given. */
  replicaShift?: number;
  /** A random integer in [0, bound): Math.random unless given (tests fix it). */
  random?: (bound: number) => number;
}

const randomInt = (bound: number) => Math.floor(Math.random() * bound);

/** Kafka's AdminUtils.replicaIndex: the broker index of a partition's (replica+1)-th follower. */
function replicaIndex(firstReplicaIndex: number, secondReplicaShift: number, replica: number, brokers: number): number {
  const shift = 1 + ((secondReplicaShift + replica) % (brokers - 1));
  return (firstReplicaIndex + shift) % brokers;
}

/** The brokers rack by rack in turn (racks in name order, brokers by id within a rack), as Kafka arranges them. */
export function rackAlternatedBrokers(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of [...brokers].sort((x, y) => x.nodeId - y.nodeId)) {
    const rack = b.rack ?? '';
    const list = byRack.get(rack) ?? [];
    list.push(b);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const next = new Map(racks.map((r) => [r, 0]));
  const arranged: PlacementBroker[] = [];
  for (let rackIndex = 0; arranged.length < brokers.length; rackIndex = (rackIndex + 1) % racks.length) {
    const rack = racks[rackIndex]!;
    const i = next.get(rack)!;
    const broker = byRack.get(rack)![i];
    if (broker) {
      arranged.push(broker);
      next.set(rack, i + 1);
    }
  }
  return arranged;
}

/**
 * The replicas of `partitionCount` new partitions, `replicationFactor` each, over `brokers` (which must number
 * at least `replicationFactor`: the caller answers INVALID_REPLICATION_FACTOR otherwise).
 */
export function placeReplicas(
  brokers: readonly PlacementBroker[],
  partitionCount: number,
  replicationFactor: number,
  options: PlacementOptions = {},
): number[][] {
  if (brokers.length === 0) throw new Error('no broker to place replicas on');
  if (replicationFactor > brokers.length) {
    throw new Error(`replication factor ${replicationFactor} is larger than the ${brokers.length} brokers`);
  }
  const random = options.random ?? randomInt;
  const rackAware = brokers.every((b) => b.rack !== null);
  const arranged = rackAware ? rackAlternatedBrokers(brokers) : [...brokers].sort((x, y) => x.nodeId - y.nodeId);
  const n = arranged.length;
  const startIndex = options.startIndex ?? random(n);
  let shift = options.replicaShift ?? random(n);
  const numRacks = new Set(arranged.map((b) => b.rack)).size;
  const placed: number[][] = [];
  for (let i = 0, p = options.firstPartition ?? 0; i < partitionCount; i++, p++) {
    if (p > 0 && p % n === 0) shift++;
    const first = (p + startIndex) % n;
    const leader = arranged[first]!;
    const replicas = [leader.nodeId];
    if (!rackAware) {
      for (let j = 0; j < replicationFactor - 1; j++) replicas.push(arranged[replicaIndex(first, shift, j, n)]!.nodeId);
    } else {
      // Each follower on a rack without a replica yet, until every rack has one; never a broker twice.
      const racks = new Set([leader.rack]);
      const chosen = new Set([leader.nodeId]);
      for (let j = 0, k = 0; j < replicationFactor - 1; j++) {
        for (;;) {
          const candidate = arranged[replicaIndex(first, shift * numRacks, k++, n)]!;
          if (
            (!racks.has(candidate.rack) || racks.size === numRacks) &&
            (!chosen.has(candidate.nodeId) || chosen.size === n)
          ) {
            replicas.push(candidate.nodeId);
            racks.add(candidate.rack);
            chosen.add(candidate.nodeId);
            break;
          }
        }
      }
    }
    placed.push(replicas);
  }
  return placed;
}

/**
 * The largest replication factor served: Kafka's, an int16 in CreateTopics (the live brokers bound it first).
 * The controller's side of replication (leader election from the ISR, reassignment) works on any factor.
 */
export const MAX_REPLICATION_FACTOR = 32_767;

/** Why a replication factor cannot be served (INVALID_REPLICATION_FACTOR), or null when it can. */
export function replicationFactorError(replicationFactor: number, liveBrokers: number): string | null {
  if (replicationFactor > liveBrokers) {
    return `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${liveBrokers} broker(s) are registered.`;
  }
  if (replicationFactor > MAX_REPLICATION_FACTOR) {
    return `Replication factor ${replicationFactor} is larger than ${MAX_REPLICATION_FACTOR}.`;
  }
  return null;
}
