import { ElectionType, electLeaders } from '../../cluster/partition-controller.js';
import { ErrorCode } from '../../protocol/errors.js';
import { electLeadersApi } from '../../protocol/generated/apis/elect-leaders.js';
import type { ElectLeadersRequest } from '../../protocol/generated/messages/elect-leaders-request.js';
import type {
  ElectLeadersResponse,
  ElectLeadersResponseReplicaElectionResult,
} from '../../protocol/generated/messages/elect-leaders-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, authorizeCluster } from '../authorization.js';
import { metadataStoreError } from '../metadata-errors.js';

/**
 * ElectLeaders (KIP-183, KIP-460): PREFERRED makes each partition's first replica its leader again when it is live
 * and in the ISR; UNCLEAN gives a partition without a live leader any live replica, in the ISR first. The broker
 * receiving it writes the topic records itself, compare-and-set, as the controller would (see
 * cluster/partition-controller.ts). A null partition list means every partition, and then the partitions whose
 * leader is already the one asked for are left out of the answer, as Kafka does.
 */
export const electLeadersHandler = defineHandler<ElectLeadersRequest, ElectLeadersResponse>({
  api: electLeadersApi,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, request) {
    const { broker } = ctx;
    const response: ElectLeadersResponse = { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults: [] };
    // Kafka's check: ALTER on the cluster, else the whole request fails.
    if (!authorizeCluster(ctx, AclOperation.ALTER)) {
      response.errorCode = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
      return response;
    }
    // Version 0 has no election type: preferred.
    const electionType = ctx.apiVersion >= 1 ? request.electionType : ElectionType.PREFERRED;
    if (electionType !== ElectionType.PREFERRED && electionType !== ElectionType.UNCLEAN) {
      response.errorCode = ErrorCode.INVALID_REQUEST;
      return response;
    }
    const all = request.topicPartitions === null;
    const asked = new Map<string, number[]>();
    if (request.topicPartitions === null) {
      for (const t of broker.topics.all())
        asked.set(
          t.name,
          t.partitions.map((p) => p.partition),
        );
    } else {
      for (const t of request.topicPartitions) asked.set(t.topic, [...(asked.get(t.topic) ?? []), ...t.partitions]);
    }
    const isLive = (nodeId: number) => broker.cluster.isLive(nodeId);
    const log = broker.logger.child('controller');
    for (const [topic, partitions] of asked) {
      const entry: ElectLeadersResponseReplicaElectionResult = { topic, partitionResult: [] };
      let results: Awaited<ReturnType<typeof electLeaders>>;
      try {
        results = await electLeaders(broker.topics, isLive, topic, [...new Set(partitions)], electionType, log);
      } catch (e) {
        const unreachable = metadataStoreError(e);
        if (!unreachable) throw e;
        for (const partitionId of new Set(partitions)) entry.partitionResult.push({ partitionId, ...unreachable });
        response.replicaElectionResults.push(entry);
        continue;
      }
      for (const r of results) {
        if (all && r.error === 'ELECTION_NOT_NEEDED') continue;
        entry.partitionResult.push({
          partitionId: r.partition,
          errorCode: r.error === null ? ErrorCode.NONE : ErrorCode[r.error],
          errorMessage: r.message,
        });
      }
      if (!all || entry.partitionResult.length > 0) response.replicaElectionResults.push(entry);
    }
    return response;
  },
});
