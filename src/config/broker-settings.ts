import type { DynamicConfigLayers } from '../cluster/broker-config-metadata.js';
import type { ReplicaSelectorClass } from '../cluster/replica-selector.js';
import { defaultGroupSettings, type GroupSettings } from '../coordinator/group/group-coordinator.js';
import {
  defaultTransactionSettings,
  type TransactionSettings,
} from '../coordinator/transaction/transaction-coordinator.js';
import type { ListenerSasl } from '../security/sasl-config.js';
import type { ListenerSsl } from '../security/ssl-config.js';
import { DEFAULT_LOG_CLEANER_BACKOFF_MS } from '../storage/log-cleaner.js';
import { DEFAULT_READ_BUFFER_POOL_BYTES } from '../storage/log-segment.js';
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, type LogConfig } from '../storage/partition-log.js';
import type { MemoryProfile } from './memory-profile.js';

/** One of Kafka's `listeners`, with the address clients that connect on it are given (advertised.listeners). */
export interface ListenerSettings {
  /** The listener's name (PLAINTEXT, INTERNAL, ...), upper case as Kafka normalises it. */
  name: string;
  /** Address the listener binds; empty binds every interface. */
  host: string;
  /** 0 binds any free port, which is then advertised. */
  port: number;
  /** Empty: the canonical name of this host, looked up at start-up as Kafka does. */
  advertisedHost: string;
  /** 0: the port the listener is bound to. */
  advertisedPort: number;
  /** Present for an SSL listener (listener.security.protocol.map): its TLS context and client checks. */
  ssl?: ListenerSsl;
  /** Present for a SASL_PLAINTEXT or SASL_SSL listener: its mechanisms and their users. */
  sasl?: ListenerSasl;
  /** listener.name.<name>.max.connections: this listener's own bound, within the broker's. */
  maxConnections?: number;
  /** listener.name.<name>.max.connection.creation.rate (KIP-612): new connections a second on this listener. */
  maxConnectionCreationRate?: number;
}

/**
 * How this broker reaches the others (replica fetchers, transaction markers): the listener of this name in each
 * peer's registration (its advertised endpoint), with the client side of that listener's security.
 */
export interface InterBrokerSettings {
  /** inter.broker.listener.name, or the listener named by security.inter.broker.protocol. */
  listenerName: string;
  /** SSL or SASL_SSL: host names checked against the peer's certificate (ssl.endpoint.identification.algorithm=https). */
  tls?: { checkHostName: boolean };
  /** SASL_PLAINTEXT or SASL_SSL: sasl.mechanism.inter.broker.protocol and the JAAS entry's username and password. */
  sasl?: { mechanism: InterBrokerSaslMechanism; username: string; password: string };
}

/** The mechanisms a broker authenticates to another with. */
export type InterBrokerSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** The authorizer's settings (super.users, allow.everyone.if.no.acl.found). */
export interface AuthorizerSettings {
  superUsers: ReadonlySet<string>;
  allowEveryoneIfNoAclFound: boolean;
}

/**
 * The broker's settings as the layers below need them, resolved from server.properties (config/) or from
 * the options of an embedded broker.
 */
export interface BrokerSettings {
  nodeId: number;
  /** Address the first listener binds (the only one when `listeners` is not given). */
  host: string;
  port: number;
  /** Address given to clients of the first listener in Metadata (advertised.listeners). */
  advertisedHost: string;
  advertisedPort: number;
  /**
   * Every listener, each bound and advertised to the clients that connect on it. When absent, one PLAINTEXT
   * listener from host, port, advertisedHost and advertisedPort (embedded brokers).
   */
  listeners?: ListenerSettings[];
  /**
   * The inter-broker listener (server.properties always resolves one; null: none exists, on the embedded store).
   * Absent (embedded brokers built in code): the first listener with neither TLS nor SASL.
   */
  interBroker?: InterBrokerSettings | null;
  logDirs: string[];
  numPartitions: number;
  defaultReplicationFactor: number;
  autoCreateTopicsEnable: boolean;
  deleteTopicEnable: boolean;
  /** message.max.bytes: the largest record batch accepted. */
  messageMaxBytes: number;
  socketRequestMaxBytes: number;
  connectionsMaxIdleMs: number;
  /** fetch.max.bytes: a Fetch response carries at most this many record bytes (but always one batch). */
  fetchMaxBytes: number;
  /** queued.max.request.bytes: request bytes held across all connections before reading stops; <= 0: no bound. */
  queuedMaxRequestBytes: number;
  /** max.connections: connections open across all listeners; past it new ones are closed. */
  maxConnections: number;
  /** max.connection.creation.rate (KIP-612): new connections a second across all listeners; past it they wait. */
  maxConnectionCreationRate: number;
  /** max.connections.per.ip, and its overrides by address: past it a new connection is closed. */
  maxConnectionsPerIp: number;
  maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** Broker-wide defaults of the log configs. */
  logDefaults: LogConfig;
  logRetentionCheckIntervalMs: number;
  /** log.cleaner.enable: whether compacted topics are cleaned. */
  logCleanerEnable: boolean;
  /** log.cleaner.backoff.ms: the pause between two passes of the log cleaner. */
  logCleanerBackoffMs: number;
  /** log.flush.interval.ms: fsync every log at least this often (Infinity: never for that reason). */
  logFlushIntervalMs: number;
  /** Whether acks=all waits for fsync (Samsa's durable default; see docs/ARCHITECTURE.md). */
  flushOnAcksAll: boolean;
  logMessageTimestampType: 'CreateTime' | 'LogAppendTime';
  /** min.insync.replicas: acks=all writes fail with NOT_ENOUGH_REPLICAS when fewer replicas are in sync. */
  minInsyncReplicas: number;
  /** auto.leader.rebalance.enable: the controller moves leadership back to preferred replicas. */
  autoLeaderRebalanceEnable: boolean;
  /** leader.imbalance.check.interval.seconds: how often the controller looks for imbalanced leadership. */
  leaderImbalanceCheckIntervalSeconds: number;
  /** leader.imbalance.per.broker.percentage: the share of a broker's preferred partitions led elsewhere it allows. */
  leaderImbalancePerBrokerPercentage: number;
  /** Kafka's replica.* settings: followers fetching from leaders, and the ISR. */
  replication: ReplicationSettings;
  /** Memory for recent batches of all partitions, served to consumers at the end of the log. */
  tailCacheBytes: number;
  /** samsa.log.read.buffer.pool.bytes: memory kept for reuse by large segment reads (one pool per process). */
  readBufferPoolBytes: number;
  /** samsa.memory.profile: the profile the memory configs were sized by (their values are in the fields above). */
  memoryProfile: MemoryProfile;
  /** samsa.max.broker.partitions: partitions this broker may host; absent, derived from the open-files limit. */
  maxBrokerPartitions?: number;
  /** samsa.http.listener: where /metrics and /health/* are served; absent, no HTTP listener. */
  httpListener?: { host: string; port: number };
  /** samsa.console.read.only: the web console on the HTTP listener refuses every change. */
  consoleReadOnly?: boolean;
  /** samsa.console.allowed.hosts: more host names the web console answers to (see console/host-check.ts). */
  consoleAllowedHosts?: string[];
  /** authorizer.class.name naming one of Kafka's authorizers: ACLs are checked; null: everything is allowed. */
  authorizer: AuthorizerSettings | null;
  /** broker.rack: registered with the broker; absent, none. */
  rack?: string;
  /** samsa.metadata.store=etcd: the cluster metadata in etcd; absent, embedded in the first log dir. */
  etcd?: EtcdSettings;
  /** producer.id.expiration.ms: a partition forgets a producer that has not written for this long. */
  producerIdExpirationMs: number;
  /** producer.id.expiration.check.interval.ms: how often expired producers are looked for. */
  producerIdExpirationCheckIntervalMs: number;
  /** The transaction coordinator's settings (transaction.* configs). */
  transactions: TransactionSettings;
  /** The group coordinator's settings (group.* and offsets.* configs). */
  groups: GroupSettings;
  /** The keys set in server.properties (or --override), as written; DescribeConfigs reports them as static. */
  staticConfigs?: Record<string, string>;
  /**
   * The dynamic broker configs in force (AlterConfigs on the BROKER resource), over `staticConfigs`. The fields
   * above already hold the values they give; topic defaults read the raw text.
   */
  dynamicConfigs?: DynamicConfigLayers;
}

/**
 * The text of a broker config as configured: dynamic per-broker, else dynamic cluster default, else
 * server.properties. Undefined when none sets it (Kafka's default applies).
 */
export function configuredBrokerConfig(settings: BrokerSettings, name: string): string | undefined {
  const dynamic = settings.dynamicConfigs;
  return dynamic?.broker[name] ?? dynamic?.clusterDefault[name] ?? settings.staticConfigs?.[name];
}

/**
 * The address to give a client: the advertised address of the listener its connection came in on, as Kafka
 * answers by the request's listener name. Listeners have distinct ports, so the connection's local port tells
 * which one it is.
 */
export function advertisedFor(settings: BrokerSettings, localPort: number | undefined): { host: string; port: number } {
  const listener = settings.listeners?.find((l) => l.port === localPort);
  return listener
    ? { host: listener.advertisedHost, port: listener.advertisedPort }
    : { host: settings.advertisedHost, port: settings.advertisedPort };
}

/** The name of the listener a connection came in on (by its local port); PLAINTEXT when none matches. */
export function listenerNameFor(settings: BrokerSettings, localPort: number | undefined): string {
  return settings.listeners?.find((l) => l.port === localPort)?.name ?? 'PLAINTEXT';
}

/**
 * Memory for the tails of all partitions. Enough for a few seconds of a fast producer, so that consumers
 * keeping up are served from memory, and small beside the footprint goals (RSS under load below 150 MB).
 */
const DEFAULT_TAIL_CACHE_BYTES = 32 * 1024 * 1024;

/** Kafka's "no limit" for int configs (Integer.MAX_VALUE). */
const UNLIMITED_INT = 2_147_483_647;
/** Kafka's max.connections default is unbounded; a broker in Node keeps a bound. */
const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Kafka's fetch.max.bytes default, 55 MiB. */
const DEFAULT_FETCH_MAX_BYTES = 55 * 1024 * 1024;
/**
 * queued.max.request.bytes: Kafka's default (-1) leaves request memory unbounded. One largest request
 * (socket.request.max.bytes' default) is enough for any client, and with the one frame allowed past it bounds
 * request memory near 200 MiB.
 */
const DEFAULT_QUEUED_MAX_REQUEST_BYTES = 100 * 1024 * 1024;

/** Kafka's defaults, with the exceptions Samsa makes on purpose (see docs/ARCHITECTURE.md). */
export interface EtcdSettings {
  /** samsa.etcd.endpoints: client URLs, `http://host:port`. */
  endpoints: string[];
  /** samsa.etcd.prefix: this cluster's keys are under it. */
  prefix: string;
  /**
   * broker.session.timeout.ms (Kafka's KRaft key): the lease of the broker's registration; a broker that stops
   * renewing it counts as dead this long after, and its partitions get new leaders.
   */
  sessionTimeoutMs?: number;
}

export interface ReplicationSettings {
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  /** replica.fetch.max.bytes: bytes asked per partition by a follower's fetch (at least one batch comes). */
  replicaFetchMaxBytes: number;
  /** replica.fetch.response.max.bytes: bytes asked per fetch response. */
  replicaFetchResponseMaxBytes: number;
  /** replica.fetch.wait.max.ms: how long the leader holds a follower's fetch waiting for data. */
  replicaFetchWaitMaxMs: number;
  /** replica.fetch.min.bytes: the data a follower's fetch waits for. */
  replicaFetchMinBytes: number;
  /** replica.fetch.backoff.ms: the pause after a failed fetch. */
  replicaFetchBackoffMs: number;
  /** num.replica.fetchers: fetchers per leader broker (Samsa runs one: its fetchers are not threads). */
  numReplicaFetchers: number;
  /** replica.selector.class: which replica the leader sends a consumer to (KIP-392); '' as Kafka's unset, the leader. */
  replicaSelector: ReplicaSelectorClass;
  /** replication.quota.window.num and .size.seconds: the samples the replication quotas' byte rates cover (KIP-73). */
  replicationQuotaWindowNum: number;
  replicationQuotaWindowSizeSeconds: number;
  /**
   * The dynamic leader.replication.throttled.rate and follower.replication.throttled.rate (bytes/s; Kafka's
   * Long.MAX_VALUE default is Infinity): set from the dynamic broker configs only, as in Kafka.
   */
  leaderReplicationThrottledRate: number;
  followerReplicationThrottledRate: number;
}

export function defaultReplicationSettings(): ReplicationSettings {
  return {
    replicaLagTimeMaxMs: 30_000,
    replicaFetchMaxBytes: 1_048_576,
    replicaFetchResponseMaxBytes: 10_485_760,
    replicaFetchWaitMaxMs: 500,
    replicaFetchMinBytes: 1,
    replicaFetchBackoffMs: 1_000,
    numReplicaFetchers: 1,
    replicaSelector: '',
    replicationQuotaWindowNum: 11,
    replicationQuotaWindowSizeSeconds: 1,
    leaderReplicationThrottledRate: Number.POSITIVE_INFINITY,
    followerReplicationThrottledRate: Number.POSITIVE_INFINITY,
  };
}

export function defaultBrokerSettings(): BrokerSettings {
  return {
    nodeId: 0,
    host: '127.0.0.1',
    port: 9092,
    advertisedHost: 'localhost',
    advertisedPort: 9092,
    logDirs: ['/tmp/kafka-logs'],
    numPartitions: 1,
    defaultReplicationFactor: 1,
    autoCreateTopicsEnable: true,
    deleteTopicEnable: true,
    messageMaxBytes: 1048588,
    socketRequestMaxBytes: 104857600,
    connectionsMaxIdleMs: 600_000,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxConnectionCreationRate: UNLIMITED_INT,
    maxConnectionsPerIp: UNLIMITED_INT,
    maxConnectionsPerIpOverrides: new Map(),
    fetchMaxBytes: DEFAULT_FETCH_MAX_BYTES,
    queuedMaxRequestBytes: DEFAULT_QUEUED_MAX_REQUEST_BYTES,
    logDefaults: {
      segmentBytes: 1073741824,
      segmentMs: 7 * 24 * 3600_000,
      retentionMs: 7 * 24 * 3600_000,
      retentionBytes: -1,
      indexIntervalBytes: 4096,
      flushMessages: Number.POSITIVE_INFINITY,
    },
    logRetentionCheckIntervalMs: 300_000,
    logCleanerEnable: true,
    logCleanerBackoffMs: DEFAULT_LOG_CLEANER_BACKOFF_MS,
    logFlushIntervalMs: Number.POSITIVE_INFINITY,
    flushOnAcksAll: true,
    logMessageTimestampType: 'CreateTime',
    minInsyncReplicas: 1,
    autoLeaderRebalanceEnable: true,
    leaderImbalanceCheckIntervalSeconds: 300,
    leaderImbalancePerBrokerPercentage: 10,
    replication: defaultReplicationSettings(),
    groups: defaultGroupSettings(),
    transactions: defaultTransactionSettings(),
    tailCacheBytes: DEFAULT_TAIL_CACHE_BYTES,
    readBufferPoolBytes: DEFAULT_READ_BUFFER_POOL_BYTES,
    memoryProfile: 'default',
    producerIdExpirationMs: DEFAULT_PRODUCER_ID_EXPIRATION_MS,
    producerIdExpirationCheckIntervalMs: 600_000,
    authorizer: null,
  };
}
