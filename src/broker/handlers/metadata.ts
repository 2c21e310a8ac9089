import { type LiveBrokers, NO_NODE } from '../../cluster/live-brokers.js';
import { type TopicRecord, ZERO_UUID } from '../../cluster/topic-metadata.js';
import { isInternalTopic, topicNameError } from '../../cluster/topic-name.js';
import { listenerNameFor } from '../../config/broker-settings.js';
import { ErrorCode } from '../../protocol/errors.js';
import { metadataApi } from '../../protocol/generated/apis/metadata.js';
import type { MetadataRequest } from '../../protocol/generated/messages/metadata-request.js';
import type { MetadataResponse, MetadataResponseTopic } from '../../protocol/generated/messages/metadata-response.js';
import { CLUSTER_RESOURCE_NAME } from '../../security/acl.js';
import { AUTHORIZED_OPERATIONS_OMITTED, type BrokerServices, defineHandler } from '../api-handler.js';
import { AclOperation, authorize, authorizeCluster, authorizedOperations, ResourceType } from '../authorization.js';
import { reservePartitions } from '../partition-limit.js';

/**
 * A topic's partitions as Metadata answers them. A partition whose leader is not a live broker has no leader
 * (-1) and LEADER_NOT_AVAILABLE, and its replicas on brokers that are not live are listed offline, as in Kafka.
 */
export function topicMetadata(topic: TopicRecord, cluster: LiveBrokers): MetadataResponseTopic {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: isInternalTopic(topic.name),
    partitions: topic.partitions.map((p) => {
      const leaderLive = cluster.isLive(p.leader);
      return {
        errorCode: leaderLive ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
        partitionIndex: p.partition,
        leaderId: leaderLive ? p.leader : NO_NODE,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: p.replicas,
        isrNodes: p.isr,
        offlineReplicas: p.replicas.filter((r) => !cluster.isLive(r)),
      };
    }),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

export function topicError(name: string | null, topicId: string, errorCode: number): MetadataResponseTopic {
  return {
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

async function describeTopic(
  broker: BrokerServices,
  name: string,
  autoCreate: boolean,
): Promise<MetadataResponseTopic> {
  const existing = broker.topics.get(name);
  if (existing) return topicMetadata(existing, broker.cluster);
  if (topicNameError(name)) return topicError(name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (!autoCreate || !broker.settings.autoCreateTopicsEnable || isInternalTopic(name)) {
    return topicError(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
  // Past the broker's partition limit the client gets the error, as it would from CreateTopics.
  const reservation = reservePartitions(broker, name, broker.settings.numPartitions);
  if (typeof reservation === 'string') return topicError(name, ZERO_UUID, ErrorCode.POLICY_VIOLATION);
  let errorCode: number;
  try {
    errorCode = await broker.createTopic(
      name,
      broker.settings.numPartitions,
      broker.settings.defaultReplicationFactor,
      {},
    );
  } finally {
    reservation.release();
  }
  // As in Kafka, the request that creates the topic (or finds it being created by another) gets LEADER_NOT_AVAILABLE
  // and no partitions, which clients retry; the answer waits for the creation, so that the retry finds it ready.
  if (errorCode === ErrorCode.NONE || errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
    return topicError(name, ZERO_UUID, ErrorCode.LEADER_NOT_AVAILABLE);
  }
  return topicError(name, ZERO_UUID, errorCode);
}

/** The live brokers that have the listener `listenerName`, with that listener's endpoint, as Kafka lists them. */
export function brokersOn(
  cluster: LiveBrokers,
  listenerName: string,
): Array<{ nodeId: number; host: string; port: number; rack: string | null }> {
  const brokers = [];
  for (const b of cluster.all()) {
    const endpoint = cluster.endpoint(b.nodeId, listenerName);
    if (endpoint) brokers.push({ nodeId: b.nodeId, host: endpoint.host, port: endpoint.port, rack: b.rack });
  }
  return brokers;
}

/** The first version whose topics may be asked for by id (10 and 11 carry the field but Kafka refuses it). */
const FIRST_VERSION_BY_TOPIC_ID = 12;

/**
 * Kafka's whole-request error answer (MetadataRequest.getErrorResponse): every topic asked for, with the error,
 * and a null name given as "" since the answer cannot carry null before version 12.
 */
function errorResponse(request: MetadataRequest, errorCode: number): MetadataResponse {
  return {
    throttleTimeMs: 0,
    brokers: [],
    clusterId: null,
    controllerId: -1,
    topics: (request.topics ?? []).map((t) => topicError(t.name ?? '', t.topicId, errorCode)),
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

/**
 * Metadata: the brokers, the cluster id and controller, and the topics asked for (all of them when the
 * list is null, or empty in v0). Unknown topics are created when the request allows it (always before v4)
 * and auto.create.topics.enable is on; that request is answered LEADER_NOT_AVAILABLE for them, as in Kafka, once
 * the new topic can take writes.
 *
 * From v12 topics may be asked for by id, as in Kafka: once any topic carries an id, the answer is about the
 * ids (UNKNOWN_TOPIC_ID, with a null name, for one not known). Versions 10 and 11 carry the fields but
 * Kafka refuses ids and null names there with INVALID_REQUEST for every topic.
 */
export const metadataHandler = defineHandler<MetadataRequest, MetadataResponse>({
  api: metadataApi,
  minVersion: 0,
  maxVersion: 12,
  async handle(ctx, request) {
    const { apiVersion, broker, connection } = ctx;
    const all = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const autoCreate = apiVersion < 4 || request.allowAutoTopicCreation;
    const topics: MetadataResponseTopic[] = [];
    const asked = all ? [] : (request.topics ?? []);
    const byId = asked.some((t) => t.topicId !== ZERO_UUID);
    if (apiVersion < FIRST_VERSION_BY_TOPIC_ID && asked.some((t) => t.name === null || t.topicId !== ZERO_UUID)) {
      return errorResponse(request, ErrorCode.INVALID_REQUEST);
    }
    // Kafka's checks: DESCRIBE on each topic (all topics: the others are left out; by name: refused without
    // telling whether it exists; by id: refused with its id, ids not being secret), and auto-creation needs
    // CREATE on the cluster or on the topic.
    const checked = broker.authorizer !== null;
    const describable = (name: string) => !checked || authorize(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name);
    let mayCreate: boolean | null = null;
    const creatable = (name: string) => {
      if (!checked) return true;
      mayCreate ??= authorizeCluster(ctx, AclOperation.CREATE);
      return mayCreate || authorize(ctx, AclOperation.CREATE, ResourceType.TOPIC, name);
    };
    /** The topics answered with their metadata (not refused), whose authorized operations may be asked for. */
    const described: MetadataResponseTopic[] = [];
    const push = (topic: MetadataResponseTopic) => {
      topics.push(topic);
      described.push(topic);
    };
    if (all) {
      for (const topic of broker.topics.all()) if (describable(topic.name)) push(topicMetadata(topic, broker.cluster));
    } else if (byId) {
      for (const t of asked) {
        const found = t.topicId === ZERO_UUID ? undefined : broker.topics.getById(t.topicId);
        if (!found) topics.push(topicError(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
        else if (!describable(found.name))
          topics.push(topicError(null, t.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        else push(topicMetadata(found, broker.cluster));
      }
    } else {
      for (const t of asked) {
        if (t.name === null) topics.push(topicError(null, t.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
        else if (!describable(t.name)) topics.push(topicError(t.name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        else if (
          autoCreate &&
          broker.settings.autoCreateTopicsEnable &&
          !broker.topics.get(t.name) &&
          !creatable(t.name)
        )
          topics.push(topicError(t.name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        else push(await describeTopic(broker, t.name, autoCreate));
      }
    }
    if (apiVersion >= 8 && request.includeTopicAuthorizedOperations)
      for (const topic of described)
        topic.topicAuthorizedOperations = authorizedOperations(ctx, ResourceType.TOPIC, topic.name ?? '');
    let clusterAuthorizedOperations = AUTHORIZED_OPERATIONS_OMITTED;
    if (apiVersion >= 8 && apiVersion <= 10 && request.includeClusterAuthorizedOperations)
      clusterAuthorizedOperations = authorizeCluster(ctx, AclOperation.DESCRIBE)
        ? authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
        : 0;
    return {
      throttleTimeMs: 0,
      brokers: brokersOn(broker.cluster, listenerNameFor(broker.settings, connection.socket.localPort)),
      clusterId: broker.clusterId,
      controllerId: broker.cluster.controllerId,
      topics,
      clusterAuthorizedOperations,
    };
  },
});
