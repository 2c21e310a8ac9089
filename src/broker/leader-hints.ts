import { NO_NODE } from '../cluster/live-brokers.js';
import { listenerNameFor } from '../config/broker-settings.js';
import type { BrokerServices } from './api-handler.js';

/** A partition's current leader as Produce and Fetch report it with NOT_LEADER_OR_FOLLOWER (KIP-951). */
export interface LeaderIdAndEpoch {
  leaderId: number;
  leaderEpoch: number;
}

export interface NodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/**
 * KIP-951's hints for a request that reached a broker not leading some of its partitions: each such partition's
 * current leader and epoch, and the endpoints of those leaders on the listener the request came in on, so that
 * the client moves at once rather than after a metadata refresh. Built only when such an error occurs.
 */
export class LeaderHints {
  private readonly leaders = new Set<number>();

  constructor(
    private readonly broker: BrokerServices,
    private readonly localPort: number | undefined,
  ) {}

  /** The current leader of a partition (-1 when none is live or the partition is unknown), noted for `nodeEndpoints`. */
  leaderOf(topic: string, partition: number): LeaderIdAndEpoch {
    const assignment = this.broker.topics.get(topic)?.partitions[partition];
    if (!assignment || !this.broker.cluster.isLive(assignment.leader)) return { leaderId: NO_NODE, leaderEpoch: -1 };
    this.leaders.add(assignment.leader);
    return { leaderId: assignment.leader, leaderEpoch: assignment.leaderEpoch };
  }

  /** The endpoints of the leaders named, for the response's NodeEndpoints. */
  nodeEndpoints(): NodeEndpoint[] {
    const listenerName = listenerNameFor(this.broker.settings, this.localPort);
    const endpoints: NodeEndpoint[] = [];
    for (const nodeId of this.leaders) {
      const endpoint = this.broker.cluster.endpoint(nodeId, listenerName);
      if (endpoint) endpoints.push({ nodeId, ...endpoint, rack: this.broker.cluster.get(nodeId)?.rack ?? null });
    }
    return endpoints;
  }
}
