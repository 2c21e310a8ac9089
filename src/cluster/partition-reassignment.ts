/**
 * Partition reassignment as KIP-455 and KRaft's controller do it, on one partition's assignment: while moving,
 * `replicas` is the target followed by the replicas being removed, with `addingReplicas` and `removingReplicas`
 * saying which are which. The new replicas fetch from the leader (the data path) and its leader adds them to the
 * ISR; once every target replica is in the ISR the controller completes the move: the replicas become the target,
 * the removed ones leave the ISR, and a removed leader hands over to the first target replica in the ISR.
 * Pure functions: the callers write the results compare-and-set.
 */
import { NO_NODE } from './live-brokers.js';
import type { PartitionAssignment } from './topic-metadata.js';

/** Whether a reassignment is in progress on the partition. */
export function isReassigning(p: PartitionAssignment): boolean {
  return (p.addingReplicas?.length ?? 0) > 0 || (p.removingReplicas?.length ?? 0) > 0;
}

/** The replicas the partition had before the reassignment in progress (its replicas without those being added). */
export function originalReplicas(p: PartitionAssignment): number[] {
  const adding = new Set(p.addingReplicas ?? []);
  return p.replicas.filter((r) => !adding.has(r));
}

/** The replicas the reassignment in progress moves to (its replicas without those being removed). */
export function targetReplicas(p: PartitionAssignment): number[] {
  const removing = new Set(p.removingReplicas ?? []);
  return p.replicas.filter((r) => !removing.has(r));
}

/** Without the reassignment fields, which are left out of a record when empty. */
function settled(p: PartitionAssignment): PartitionAssignment {
  const { addingReplicas: _adding, removingReplicas: _removing, ...rest } = p;
  return rest;
}

/** `p` led by `leader` (the epoch moves on when the leader changes). */
function ledBy(p: PartitionAssignment, leader: number): PartitionAssignment {
  return leader === p.leader ? p : { ...p, leader, leaderEpoch: p.leaderEpoch + 1 };
}

/**
 * The reassignment of `p` to `target` (checked before: not empty, no broker twice, every broker registered),
 * replacing one in progress (counted from the replicas before it). Completed at once when every target replica is
 * in the ISR already (a reordering, or a move to fewer replicas).
 */
export function startReassignment(
  p: PartitionAssignment,
  target: readonly number[],
  isLive: (nodeId: number) => boolean,
): PartitionAssignment {
  const original = originalReplicas(p);
  const adding = target.filter((r) => !original.includes(r));
  const removing = original.filter((r) => !target.includes(r));
  const replicas = [...target, ...removing];
  const isr = p.isr.filter((r) => replicas.includes(r));
  const next: PartitionAssignment = {
    ...settled(p),
    replicas,
    isr: isr.length > 0 ? isr : p.isr,
    ...(adding.length > 0 ? { addingReplicas: adding } : {}),
    ...(removing.length > 0 ? { removingReplicas: removing } : {}),
  };
  return completeReassignment(next, isLive) ?? next;
}

/**
 * The partition once its reassignment is complete, or null while a target replica is not in the ISR yet (or no
 * reassignment is in progress).
 */
export function completeReassignment(
  p: PartitionAssignment,
  isLive: (nodeId: number) => boolean,
): PartitionAssignment | null {
  if (!isReassigning(p)) return null;
  const target = targetReplicas(p);
  if (!target.every((r) => p.isr.includes(r))) return null;
  const isr = p.isr.filter((r) => target.includes(r));
  const done: PartitionAssignment = { ...settled(p), replicas: target, isr };
  if (target.includes(p.leader) && isLive(p.leader)) return done;
  return ledBy(done, target.find((r) => isr.includes(r) && isLive(r)) ?? NO_NODE);
}

/**
 * The partition with its reassignment cancelled: back to the replicas it had, the added ones out of the ISR, and
 * a leader among the original replicas. Null when no reassignment is in progress (NO_REASSIGNMENT_IN_PROGRESS).
 */
export function cancelReassignment(
  p: PartitionAssignment,
  isLive: (nodeId: number) => boolean,
): PartitionAssignment | null {
  if (!isReassigning(p)) return null;
  const original = originalReplicas(p);
  const kept = p.isr.filter((r) => original.includes(r));
  const isr = kept.length > 0 ? kept : original.slice(0, 1);
  const reverted: PartitionAssignment = { ...settled(p), replicas: original, isr };
  if (original.includes(p.leader) && isLive(p.leader)) return reverted;
  return ledBy(reverted, original.find((r) => isr.includes(r) && isLive(r)) ?? NO_NODE);
}
