/**
 * The controller's decisions about one partition's leader and ISR, as Kafka's controller makes them
 * (PartitionLeaderElectionAlgorithms, and KRaft's PartitionChangeBuilder for fenced brokers): pure functions from
 * a partition's assignment and the live brokers to its next assignment, or null when nothing changes. The caller
 * writes the result compare-and-set and computes it again on a newer record when another writer got there first.
 */
import { NO_NODE } from './live-brokers.js';
import type { PartitionAssignment } from './topic-metadata.js';

/** How a leader may be chosen when the current one is gone. */
export interface ElectionRules {
  isLive(nodeId: number): boolean;
  /** unclean.leader.election.enable of the partition's topic: a live replica outside the ISR may lead. */
  uncleanLeaderElectionEnable: boolean;
}

/** What changed, for the controller's log. */
export interface PartitionChange {
  next: PartitionAssignment;
  /** The new leader was not in the ISR: records acknowledged by the old ISR may be lost. */
  unclean: boolean;
}

/** Kafka's offline election: the first replica, in assignment order, that is live and in the ISR. */
export function firstLiveInIsr(p: PartitionAssignment, isLive: (nodeId: number) => boolean): number {
  return p.replicas.find((r) => p.isr.includes(r) && isLive(r)) ?? NO_NODE;
}

/**
 * The ISR without the brokers that are not live, as KRaft's controller removes fenced brokers. It never becomes
 * empty: when every member is gone the last one stays (the leader if it was one, else the first), so that it can
 * lead again when it comes back, holding every acknowledged record.
 */
export function isrWithoutDead(p: PartitionAssignment, isLive: (nodeId: number) => boolean): number[] {
  const live = p.isr.filter(isLive);
  if (live.length > 0) return live;
  if (p.isr.includes(p.leader)) return [p.leader];
  return p.isr.slice(0, 1);
}

/**
 * The partition after the live brokers changed: dead brokers leave the ISR, and a partition whose leader is not
 * live (or that has none) gets the first live ISR member in assignment order; with none, a live replica outside
 * the ISR when unclean election is enabled, else no leader (-1, offline) until an ISR member comes back.
 * `excluded` brokers (one in controlled shutdown) may not lead and leave the ISR, unless they are its last member.
 */
export function afterBrokerChange(
  p: PartitionAssignment,
  rules: ElectionRules,
  excluded: ReadonlySet<number> = new Set(),
): PartitionChange | null {
  const eligible = (nodeId: number) => rules.isLive(nodeId) && !excluded.has(nodeId);
  const isr = isrWithoutDead(p, eligible);
  let leader = p.leader;
  let unclean = false;
  if (leader === NO_NODE || !eligible(leader) || !isr.includes(leader)) {
    leader = firstLiveInIsr({ ...p, isr }, eligible);
    if (leader === NO_NODE && rules.uncleanLeaderElectionEnable) {
      leader = p.replicas.find(eligible) ?? NO_NODE;
      unclean = leader !== NO_NODE;
    }
  }
  const nextIsr = unclean ? [leader] : isr;
  if (leader === p.leader && sameMembers(nextIsr, p.isr)) return null;
  return {
    next: {
      ...p,
      leader,
      leaderEpoch: leader === p.leader ? p.leaderEpoch : p.leaderEpoch + 1,
      isr: nextIsr,
    },
    unclean,
  };
}

/** The preferred leader: the first replica of the assignment, as in Kafka. */
export function preferredLeader(p: PartitionAssignment): number {
  return p.replicas[0] ?? NO_NODE;
}

/** Why a preferred election does not happen (Kafka's error names), or the new assignment. */
export type ElectionOutcome =
  | { elected: PartitionAssignment; unclean: boolean }
  | { error: 'ELECTION_NOT_NEEDED' | 'PREFERRED_LEADER_NOT_AVAILABLE' | 'ELIGIBLE_LEADERS_NOT_AVAILABLE' };

/** ElectLeaders PREFERRED: the first replica leads again when it is live and in the ISR. */
export function preferredElection(p: PartitionAssignment, isLive: (nodeId: number) => boolean): ElectionOutcome {
  const preferred = preferredLeader(p);
  if (p.leader === preferred) return { error: 'ELECTION_NOT_NEEDED' };
  if (!isLive(preferred) || !p.isr.includes(preferred)) return { error: 'PREFERRED_LEADER_NOT_AVAILABLE' };
  return { elected: { ...p, leader: preferred, leaderEpoch: p.leaderEpoch + 1 }, unclean: false };
}

/**
 * ElectLeaders UNCLEAN: only for a partition without a live leader; a live ISR member first, else any live
 * replica (the operator asked for it, whatever unclean.leader.election.enable says).
 */
export function uncleanElection(p: PartitionAssignment, isLive: (nodeId: number) => boolean): ElectionOutcome {
  if (p.leader !== NO_NODE && isLive(p.leader)) return { error: 'ELECTION_NOT_NEEDED' };
  const change = afterBrokerChange(p, { isLive, uncleanLeaderElectionEnable: true });
  if (!change || change.next.leader === NO_NODE) return { error: 'ELIGIBLE_LEADERS_NOT_AVAILABLE' };
  return { elected: change.next, unclean: change.unclean };
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
