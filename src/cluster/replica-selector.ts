/**
 * Which replica a consumer should read a partition from (KIP-392, Kafka's ReplicaSelector). The leader asks it on
 * each consumer Fetch (v11+, which carries the consumer's `client.rack`); a follower chosen is named in the answer's
 * preferred_read_replica, and the consumer sends its next fetches of the partition there.
 *
 * Kafka loads the selector from `replica.selector.class`; Samsa has Kafka's two, by their class names.
 */

/** Kafka's default when the key is unset: consumers read from the leader. */
export const LEADER_SELECTOR = 'org.apache.kafka.common.replica.LeaderSelector';
/** The replica in the consumer's rack, when there is one (the leader if it is there). */
export const RACK_AWARE_REPLICA_SELECTOR = 'org.apache.kafka.common.replica.RackAwareReplicaSelector';
export const REPLICA_SELECTOR_CLASSES = ['', LEADER_SELECTOR, RACK_AWARE_REPLICA_SELECTOR] as const;
export type ReplicaSelectorClass = (typeof REPLICA_SELECTOR_CLASSES)[number];

/** One replica a consumer could read from (Kafka's ReplicaView). */
export interface ReplicaView {
  nodeId: number;
  rack: string | null;
  logEndOffset: number;
  /** How long since it last had everything the leader had (0 for the leader). */
  timeSinceLastCaughtUpMs: number;
}

/**
 * The replica to read from, among `replicas` (the leader included), for a consumer in `clientRack` (empty: it did
 * not say). Kafka's RackAwareReplicaSelector: the leader unless some replica is in the consumer's rack; the leader
 * when it is one of those; else the one of them with the most data, then the most recently caught up.
 */
export function selectReadReplica(
  selector: ReplicaSelectorClass,
  clientRack: string,
  leader: ReplicaView,
  replicas: readonly ReplicaView[],
): ReplicaView {
  if (selector !== RACK_AWARE_REPLICA_SELECTOR || clientRack === '') return leader;
  const sameRack = replicas.filter((r) => r.rack === clientRack);
  if (sameRack.length === 0 || sameRack.some((r) => r.nodeId === leader.nodeId)) return leader;
  let best = sameRack[0]!;
  for (const r of sameRack) {
    if (
      r.logEndOffset > best.logEndOffset ||
      (r.logEndOffset === best.logEndOffset && r.timeSinceLastCaughtUpMs < best.timeSinceLastCaughtUpMs)
    ) {
      best = r;
    }
  }
  return best;
}
