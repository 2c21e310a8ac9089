import type { AclMetadata } from '../cluster/acl-metadata.js';
import type { BrokerConfigMetadata } from '../cluster/broker-config-metadata.js';
import type { ClientQuotaMetadata } from '../cluster/client-quotas.js';
import type { LiveBrokers } from '../cluster/live-brokers.js';
import type { ProducerIdManager } from '../cluster/producer-ids.js';
import type { ScramCredentialMetadata } from '../cluster/scram-credentials.js';
import type { TopicMetadata } from '../cluster/topic-metadata.js';
import type { BrokerSettings } from '../config/broker-settings.js';
import type { GroupCoordinator } from '../coordinator/group/group-coordinator.js';
import type { TransactionCoordinator } from '../coordinator/transaction/transaction-coordinator.js';
import type { Logger } from '../observability/logger.js';
import type { ApiCodecs } from '../protocol/generated/api-keys.js';
import type { RequestHeader } from '../protocol/generated/messages/request-header.js';
import type { Authorizer } from '../security/authorizer.js';
import type { Connection } from '../server/connection.js';
import type { LogManager } from '../storage/log-manager.js';
import type { BrokerMetrics } from './broker-metrics.js';
import type { ClientQuotaManager } from './client-quota-manager.js';
import type { FetchSessionCache } from './fetch-session.js';
import type { ListenerTls } from './listener-tls.js';
import type { ReplicaManager } from './replica-manager.js';
import type { ReplicationQuotas } from './replication-quota.js';

/** Kafka's value for "authorized operations not computed" (the client did not ask for them). */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

/** What handlers may use of the broker. Handlers never touch files or sockets directly. */
export interface BrokerServices {
  settings: BrokerSettings;
  clusterId: string;
  topics: TopicMetadata;
  /** The dynamic broker configs (AlterConfigs on BROKER resources); changes are applied to `settings` at once. */
  brokerConfigs: BrokerConfigMetadata;
  replicas: ReplicaManager;
  logs: LogManager;
  fetchSessions: FetchSessionCache;
  groups: GroupCoordinator;
  /** Producer ids for idempotent and transactional producers, never reused. */
  producerIds: ProducerIdManager;
  transactions: TransactionCoordinator;
  /** The SCRAM credentials of the cluster's users (AlterUserScramCredentials), read by SCRAM authentication. */
  scramCredentials: ScramCredentialMetadata;
  /** Client quotas (AlterClientQuotas), and the byte rates of the clients they apply to. */
  quotas: ClientQuotaMetadata;
  quotaManager: ClientQuotaManager;
  /** KIP-73's replication quotas of this broker, as leader and as follower. */
  replicationQuotas: ReplicationQuotas;
  /** The SSL listeners' key and trust stores, renewed through dynamic broker configs. */
  listenerTls: ListenerTls;
  /**
   * The authorizer (authorizer.class.name), null without one: handlers ask it through broker/authorization.ts,
   * which allows everything at once when it is null.
   */
  authorizer: Authorizer | null;
  /** The ACLs in the metadata store (CreateAcls, DeleteAcls), with the authorizer; null without one. */
  acls: AclMetadata | null;
  /** The live brokers (with their endpoints and racks) and the controller, followed through the metadata store. */
  cluster: LiveBrokers;
  logger: Logger;
  /** Counters of the produce and fetch paths (no-ops without samsa.http.listener). */
  metrics: BrokerMetrics;
  /**
   * Creates a topic; resolves when its logs exist here. `replicaAssignment` (checked by the caller) gives each
   * partition's replicas; without it the broker places them.
   */
  createTopic(
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
    replicaAssignment?: number[][],
  ): Promise<number>;
}

export interface RequestContext {
  header: RequestHeader;
  apiVersion: number;
  connection: Connection;
  broker: BrokerServices;
}

/**
 * One handler per API. The version range is what Samsa implements, advertised in ApiVersions as is.
 * Returning null sends no response (Produce with acks=0).
 */
export interface ApiHandler<Req = unknown, Res = unknown> {
  api: ApiCodecs<Req, Res>;
  minVersion: number;
  maxVersion: number;
  handle(ctx: RequestContext, request: Req): Promise<Res | null> | Res | null;
}

/**
 * The items of a request, each marked whether its name occurs more than once. Kafka answers such a name with one
 * INVALID_REQUEST result, so the later occurrences are left out.
 */
export function markRepeats<T>(items: readonly T[], name: (item: T) => string): Array<{ item: T; repeated: boolean }> {
  const repeated = repeatedNames(items, name);
  const seen = new Set<string>();
  const out: Array<{ item: T; repeated: boolean }> = [];
  for (const item of items) {
    const key = name(item);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ item, repeated: repeated.has(key) });
  }
  return out;
}

/** The names that occur more than once among `items`. */
export function repeatedNames<T>(items: readonly T[], name: (item: T) => string): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const item of items) {
    const key = name(item);
    if (seen.has(key)) repeated.add(key);
    seen.add(key);
  }
  return repeated;
}

/** Builds a handler with its types checked against the API's codecs. */
export function defineHandler<Req, Res>(handler: ApiHandler<Req, Res>): ApiHandler {
  return handler as unknown as ApiHandler;
}
