import { lookup, lookupService } from 'node:dns/promises';
import { type FileHandle, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { AclMetadata } from '../cluster/acl-metadata.js';
import { BrokerConfigMetadata } from '../cluster/broker-config-metadata.js';
import { ClientQuotaMetadata } from '../cluster/client-quotas.js';
import { ControllerElection } from '../cluster/controller-election.js';
import { EmbeddedMetadataStore } from '../cluster/embedded-metadata-store.js';
import { BrokerRegistrar, type BrokerRegistration } from '../cluster/etcd-broker-registration.js';
import { EtcdMetadataStore } from '../cluster/etcd-metadata-store.js';
import { LiveBrokers } from '../cluster/live-brokers.js';
import { type MetadataStore, MetadataStoreUnreachableError } from '../cluster/metadata-store.js';
import { controlledShutdown, PartitionController } from '../cluster/partition-controller.js';
import { ProducerIdManager } from '../cluster/producer-ids.js';
import { placeReplicas, replicationFactorError } from '../cluster/replica-placement.js';
import { ScramCredentialMetadata } from '../cluster/scram-credentials.js';
import {
  assignedPartition,
  ensureClusterId,
  newUuid,
  TopicMetadata,
  type TopicRecord,
} from '../cluster/topic-metadata.js';
import { CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC } from '../cluster/topic-name.js';
import {
  type BrokerSettings,
  configuredBrokerConfig,
  defaultBrokerSettings,
  type ListenerSettings,
} from '../config/broker-settings.js';
import { applyDynamicBrokerConfigs, dynamicallyConfigurable } from '../config/dynamic-broker-config.js';
import { ConsoleApp } from '../console/console-app.js';
import { type Asset, loadAssets } from '../console/console-assets.js';
import type { ConsoleBackend } from '../console/console-backend.js';
import { GroupCoordinator } from '../coordinator/group/group-coordinator.js';
import { PartitionCoordinatorLog } from '../coordinator/runtime/coordinator-log.js';
import { TransactionCoordinator, type TransactionMarker } from '../coordinator/transaction/transaction-coordinator.js';
import type { HttpEndpoint } from '../observability/http-endpoint.js';
import { Logger } from '../observability/logger.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { writeTxnMarkersApi } from '../protocol/generated/apis/write-txn-markers.js';
import packageRequire from '../protocol/records/package-require.cjs';
import { Authorizer } from '../security/authorizer.js';
import type { OAuthBearerValidator } from '../security/oauthbearer.js';
import type { Connection } from '../server/connection.js';
import { ConnectionQuotas } from '../server/connection-quotas.js';
import { Listener } from '../server/listener.js';
import { RequestMemoryPool } from '../server/request-memory-pool.js';
import { LogCleaner } from '../storage/log-cleaner.js';
import { lockLogDir } from '../storage/log-dir-lock.js';
import { LogManager, readMetaProperties, writeMetaProperties } from '../storage/log-manager.js';
import { releaseWrittenChunks, setReadBufferPoolBytes } from '../storage/log-segment.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { ApiHandler, BrokerServices } from './api-handler.js';
import { BrokerMetrics, type MetricSources } from './broker-metrics.js';
import { ClientQuotaManager, CONNECTION_CREATION_RATE } from './client-quota-manager.js';
import { staticConfigsOf } from './config-describer.js';
import { consoleBackend } from './console-backend.js';
import { FetchSessionCache } from './fetch-session.js';
import { addOffsetsToTxnHandler } from './handlers/add-offsets-to-txn.js';
import { addPartitionsToTxnHandler } from './handlers/add-partitions-to-txn.js';
import { alterClientQuotasHandler } from './handlers/alter-client-quotas.js';
import { alterConfigsHandler } from './handlers/alter-configs.js';
import { alterPartitionReassignmentsHandler } from './handlers/alter-partition-reassignments.js';
import { alterUserScramCredentialsHandler } from './handlers/alter-user-scram-credentials.js';
import { apiVersionsHandler } from './handlers/api-versions.js';
import { consumerGroupDescribeHandler } from './handlers/consumer-group-describe.js';
import { consumerGroupHeartbeatHandler } from './handlers/consumer-group-heartbeat.js';
import { createAclsHandler } from './handlers/create-acls.js';
import { createPartitionsHandler } from './handlers/create-partitions.js';
import { createTopicsHandler } from './handlers/create-topics.js';
import { deleteAclsHandler } from './handlers/delete-acls.js';
import { deleteGroupsHandler } from './handlers/delete-groups.js';
import { deleteRecordsHandler } from './handlers/delete-records.js';
import { deleteTopicsHandler } from './handlers/delete-topics.js';
import { describeAclsHandler } from './handlers/describe-acls.js';
import { describeClientQuotasHandler } from './handlers/describe-client-quotas.js';
import { describeClusterHandler } from './handlers/describe-cluster.js';
import { describeConfigsHandler } from './handlers/describe-configs.js';
import { describeGroupsHandler } from './handlers/describe-groups.js';
import { describeLogDirsHandler } from './handlers/describe-log-dirs.js';
import { describeProducersHandler } from './handlers/describe-producers.js';
import { describeTopicPartitionsHandler } from './handlers/describe-topic-partitions.js';
import { describeTransactionsHandler } from './handlers/describe-transactions.js';
import { describeUserScramCredentialsHandler } from './handlers/describe-user-scram-credentials.js';
import { electLeadersHandler } from './handlers/elect-leaders.js';
import { endTxnHandler } from './handlers/end-txn.js';
import { fetchHandler } from './handlers/fetch.js';
import { findCoordinatorHandler } from './handlers/find-coordinator.js';
import { heartbeatHandler } from './handlers/heartbeat.js';
import { incrementalAlterConfigsHandler } from './handlers/incremental-alter-configs.js';
import { initProducerIdHandler } from './handlers/init-producer-id.js';
import { joinGroupHandler } from './handlers/join-group.js';
import { leaveGroupHandler } from './handlers/leave-group.js';
import { listGroupsHandler } from './handlers/list-groups.js';
import { listOffsetsHandler } from './handlers/list-offsets.js';
import { listPartitionReassignmentsHandler } from './handlers/list-partition-reassignments.js';
import { listTransactionsHandler } from './handlers/list-transactions.js';
import { metadataHandler } from './handlers/metadata.js';
import { offsetCommitHandler } from './handlers/offset-commit.js';
import { offsetDeleteHandler } from './handlers/offset-delete.js';
import { offsetFetchHandler } from './handlers/offset-fetch.js';
import { offsetForLeaderEpochHandler } from './handlers/offset-for-leader-epoch.js';
import { produceHandler } from './handlers/produce.js';
import { saslAuthenticateHandler } from './handlers/sasl-authenticate.js';
import { saslHandshakeHandler } from './handlers/sasl-handshake.js';
import { syncGroupHandler } from './handlers/sync-group.js';
import { txnOffsetCommitHandler } from './handlers/txn-offset-commit.js';
import { writeTxnMarkersHandler } from './handlers/write-txn-markers.js';
import { InterBrokerClient } from './inter-broker-client.js';
import { ListenerTls } from './listener-tls.js';
import { appendMarkerAsLeader } from './marker-append.js';
import { ReplicaFetcherManager } from './replica-fetcher.js';
import { ReplicaManager } from './replica-manager.js';
import { createReplicationQuotas } from './replication-quota.js';
import { RequestDispatcher } from './request-dispatcher.js';
import { describeCause, StartupError } from './startup-error.js';
import { logConfigFor } from './topic-settings.js';
import { TransactionVerificationSender } from './transaction-verification-sender.js';

/** Samsa's version, for the start-up line. */
const SAMSA_VERSION = samsaVersion();

/**
 * The version in Samsa's package.json, found from a module of the package: three folders up from src/ and dist/,
 * four from dist/cjs/ (both builds run this code, and the CommonJS one cannot use import.meta).
 */
function samsaVersion(): string {
  for (const path of ['../../../package.json', '../../../../package.json']) {
    try {
      const manifest = packageRequire(path) as { name?: string; version?: string };
      if (manifest.name === 'samsa' && manifest.version) return manifest.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

/** Kafka's configs for `__consumer_offsets` and `__transaction_state`: compacted, with 100 MiB segments. */
const INTERNAL_TOPIC_CONFIGS = {
  'cleanup.policy': 'compact',
  'compression.type': 'producer',
  'segment.bytes': '104857600',
};

/** The replication factor of the internal topics on the embedded store, whose cluster is one broker. */
const SINGLE_BROKER_REPLICATION_FACTOR = 1;

/** The longest interval a Node timer holds (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `task`, never running twice at once: a call while it runs shares that run. A timer replaced on a config change
 * must not start a second cleaning pass over the logs the first one is still on.
 */
function oneAtATime(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => {
    running ??= task().finally(() => {
      running = null;
    });
    return running;
  };
}

/** After its registration lease is lost, how long a broker waits between attempts to register again. */
const REJOIN_RETRY_MS = 1_000;

/**
 * How long a stopping broker gives its controlled shutdown (leadership moved to other ISR members) before it stops
 * anyway; the controller then moves what is left once the registration is gone.
 */
const CONTROLLED_SHUTDOWN_TIMEOUT_MS = 10_000;

/** The WriteTxnMarkers version sent to other brokers (1: flexible, Kafka 2.8+ brokers). */
const WRITE_TXN_MARKERS_VERSION = 1;

/** Kafka's offsets.commit.timeout.ms: how long a coordinator's write waits for the in-sync replicas. */
const COORDINATOR_WRITE_TIMEOUT_MS = 5_000;
/**
 * How long a load of a coordinator partition waits for its high watermark to reach its log end before it
 * replays it; failing that, it is not loaded, and the next request for one of its groups or transactions (or
 * the next leadership change) loads it again.
 */
const COORDINATOR_LOAD_WAIT_MS = 60_000;

/** How often the recovery point and log start offset checkpoints are written (Kafka's default). */
const CHECKPOINT_INTERVAL_MS = 60_000;

export { defaultBrokerSettings };

/** A listener's own connection limit set as a dynamic broker config (per broker, then cluster-wide), if any. */
function listenerLimit(settings: BrokerSettings, listener: string, name: string): number | undefined {
  const key = `listener.name.${listener.toLowerCase()}.${name}`;
  const dynamic = settings.dynamicConfigs;
  const text = dynamic?.broker[key] ?? dynamic?.clusterDefault[key];
  const value = text === undefined ? Number.NaN : Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * One Samsa broker: the metadata store, the logs, the topic metadata, the request handlers and the
 * listener, started in that order and stopped in reverse.
 */
export class Broker {
  private listeners: Listener[] = [];
  /** The client quotas, once loaded: the listeners read the addresses' connection_creation_rate from them. */
  private clientQuotas: ClientQuotaMetadata | null = null;
  /** The handles holding each log dir's `.lock`; closing them releases the locks. */
  private logDirLocks: FileHandle[] = [];
  private dispatcher: RequestDispatcher | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** The timers of background tasks whose interval is a dynamic broker config, by that config. */
  private readonly dynamicTimers = new Map<string, { intervalMs: number; timer: NodeJS.Timeout | null }>();
  /** The log cleaner, when log.cleaner.enable is on. */
  private cleaner: LogCleaner | null = null;
  /** Transaction verifications this broker, as a partition leader, asks of coordinators on other brokers. */
  private transactionVerifications: TransactionVerificationSender | null = null;
  /** Background tasks (retention, checkpoints, flushes) in progress. */
  private readonly backgroundTasks = new Set<Promise<void>>();
  private services: BrokerServices | null = null;
  private stopping: Promise<void> | null = null;
  private stores: {
    store: MetadataStore;
    topics: TopicMetadata;
    brokerConfigs: BrokerConfigMetadata;
    scramCredentials: ScramCredentialMetadata;
    quotas: ClientQuotaMetadata;
    acls: AclMetadata | null;
    cluster: LiveBrokers;
    logs: LogManager;
    replicas: ReplicaManager;
    groups: GroupCoordinator;
    transactions: TransactionCoordinator;
  } | null = null;
  /** The port the listener is bound to (useful with port 0). */
  port = 0;
  /** The port of the HTTP listener (samsa.http.listener), 0 when there is none. */
  httpPort = 0;
  private http: HttpEndpoint | null = null;
  /** What the web console on the HTTP listener reads and changes, once the broker serves. */
  private console: ConsoleBackend | null = null;
  /** The registration in etcd (samsa.metadata.store=etcd), kept alive while the broker runs. */
  private registrar: BrokerRegistrar | null = null;
  /** This broker's candidacy for controller (etcd only). */
  private election: ControllerElection | null = null;
  /** The controller's partition work, while this broker holds `/controller` (etcd only). */
  private partitionController: PartitionController | null = null;
  /** Taking up or leaving the controller's work, one change at a time. */
  private controllerRole: Promise<void> = Promise.resolve();
  /** Registering again after the registration lease was lost, until it succeeds or the broker stops. */
  private rejoining: Promise<void> | null = null;
  /** Loads the coordinator partitions this broker leads (after the registration that lets it lead them). */
  private loadLedCoordinatorPartitions: (() => void) | null = null;
  private resolveRegistrationLost: ((error: Error) => void) | undefined;
  /** Serving: logs recovered and listeners serving, not stopping (/health/ready). */
  private serving = false;
  /** Counted only with an HTTP listener to serve them. */
  readonly metrics: BrokerMetrics;

  constructor(
    readonly settings: BrokerSettings,
    readonly logger: Logger = new Logger('broker'),
    private readonly onStopped?: () => Promise<void>,
  ) {
    this.metrics = new BrokerMetrics(settings.httpListener !== undefined);
  }

  /** Whether the broker serves clients (what /health/ready answers). */
  get ready(): boolean {
    return this.serving && this.stopping === null;
  }

  /** `host:port` for clients' bootstrap.servers. */
  get bootstrap(): string {
    return `${this.settings.advertisedHost}:${this.settings.advertisedPort || this.port}`;
  }

  get clusterId(): string {
    return this.services?.clusterId ?? '';
  }

  /** What a start in progress has opened, closed again if it fails. */
  private startupClosers: Array<() => Promise<void>> = [];
  /** OAUTHBEARER validators with a JWKS endpoint to refresh until the broker stops. */
  private validators: OAuthBearerValidator[] = [];

  async start(): Promise<void> {
    try {
      await this.startup();
      this.startupClosers = [];
    } catch (e) {
      // A failed start leaves no port bound, no log dir locked and no file open: what the start opened is
      // closed, last opened first, before the error goes on.
      for (const close of this.startupClosers.reverse()) await close().catch(() => {});
      this.startupClosers = [];
      await Promise.all(this.listeners.map((l) => l.close()));
      for (const lock of this.logDirLocks) await lock.close();
      this.listeners = [];
      this.logDirLocks = [];
      throw e;
    }
  }

  private async startup(): Promise<void> {
    const { settings, logger } = this;
    const started = Date.now();
    // Every port is bound, then every log dir locked, before anything in them is opened: a second broker
    // pointed at the same ports stops before it touches the disk at all, and one pointed at the same
    // directories before its recovery could truncate the files of the broker running.
    const listeners = await this.bindListeners();
    await this.bindHttpListener();
    await this.lockLogDirs();
    const store = await this.openMetadataStore();
    this.startupClosers.push(() => store.close());
    const clusterId = await this.checkMetaProperties(store);
    const topics = await TopicMetadata.load(store);
    this.startupClosers.push(async () => topics.close());
    // Dynamic broker configs (AlterConfigs on BROKER) over server.properties, from the start and on every change.
    const brokerConfigs = await BrokerConfigMetadata.load(store, settings.nodeId);
    this.startupClosers.push(async () => brokerConfigs.close());
    // Certificates renewed through dynamic configs serve from the start, as Kafka applies them at start-up.
    const listenerTls = this.listenerTls(listeners);
    listenerTls.apply(brokerConfigs.layers().broker);
    const scramCredentials = await ScramCredentialMetadata.load(store);
    this.startupClosers.push(async () => scramCredentials.close());
    const quotas = await ClientQuotaMetadata.load(store);
    this.startupClosers.push(async () => quotas.close());
    this.clientQuotas = quotas;
    // The ACLs are in the authorizer before the listeners serve: no request is ever decided without them.
    const authorizer = settings.authorizer
      ? new Authorizer(settings.authorizer.superUsers, settings.authorizer.allowEveryoneIfNoAclFound)
      : null;
    const acls = authorizer
      ? await AclMetadata.load(store, authorizer, (error) =>
          logger.error('watching the ACLs failed; ACL changes made elsewhere are not seen until a restart', { error }),
        )
      : null;
    if (acls) this.startupClosers.push(async () => acls.close());
    const self = this.registration();
    const cluster =
      store instanceof EtcdMetadataStore
        ? await LiveBrokers.load(store, self, (e) =>
            logger.error('watch of the live brokers stopped', { error: e.message }),
          )
        : LiveBrokers.single(self);
    this.startupClosers.push(async () => cluster.close());
    settings.staticConfigs ??= staticConfigsOf(settings);
    const staticValues = dynamicallyConfigurable(settings);
    applyDynamicBrokerConfigs(settings, staticValues, brokerConfigs.layers());
    setReadBufferPoolBytes(settings.readBufferPoolBytes);
    const logs = new LogManager({
      logDirs: settings.logDirs,
      configFor: (topic) => logConfigFor(topics.get(topic), settings),
      tailCacheBytes: settings.tailCacheBytes,
      producerIdExpirationMs: settings.producerIdExpirationMs,
      logger: logger.child('log'),
    });
    this.startupClosers.push(() => logs.shutdown());
    await logs.startup();
    // A journal cut in its middle looks like a torn last write; logs of topics it does not know tell them apart.
    if (store instanceof EmbeddedMetadataStore && store.tornTailBytes > 0) {
      const unknown = [...logs.allLogs()].filter((log) => {
        const topicId = logs.topicIdOf(log.topic, log.partition);
        return !topics.get(log.topic) && (topicId === undefined || !topics.isDeleted(topicId));
      });
      if (unknown.length > 0) throw store.lostEntriesError(unknown.map((log) => log.dir));
    }
    const interBroker = new InterBrokerClient(
      settings.nodeId,
      listeners,
      settings.interBroker,
      cluster,
      logger.child('inter-broker'),
    );
    const verifications = new TransactionVerificationSender(settings.nodeId, interBroker, logger.child('transactions'));
    this.transactionVerifications = verifications;
    const replicationQuotas = createReplicationQuotas(
      settings.nodeId,
      settings.replication,
      (topic, key) => topics.get(topic)?.configs[key],
    );
    // Only a broker on a shared store can follow another; one on the embedded store leads everything it has.
    const fetchers =
      store instanceof EtcdMetadataStore
        ? new ReplicaFetcherManager(
            settings.nodeId,
            settings.replication,
            (leaderId) => interBroker.connect(leaderId, `replica-fetcher-${settings.nodeId}`),
            logger.child('replica-fetcher'),
            (bytes) => this.metrics.replicationBytesIn(bytes),
            replicationQuotas.follower,
          )
        : null;
    const replicas = new ReplicaManager(settings.nodeId, logs, topics, logger.child('replicas'), {
      replicaLagTimeMaxMs: settings.replication.replicaLagTimeMaxMs,
      fetchers,
      isrEligible: (nodeId) => cluster.isLive(nodeId),
    });
    this.startupClosers.push(() => replicas.stop());
    // A broker restarting in a cluster leads nothing until it is registered: the topic records may still name it
    // leader (the controller has not seen its old registration go yet), and its log may hold a tail the other
    // replicas never took. Writing there, or loading a coordinator from it (which resends the markers of the
    // transactions it finds prepared, or aborts those it finds open), could decide a transaction the next
    // coordinator decides otherwise. Kafka's restarted broker likewise leads only once the controller says so.
    if (store instanceof EtcdMetadataStore) replicas.fence();
    await replicas.start();

    // The embedded store is one broker by construction: the internal topics get one replica there, as Kafka's
    // single-node configs set their factors to 1, so that groups and transactions work out of the box.
    const internalReplicationFactor = (configured: number) =>
      store instanceof EtcdMetadataStore ? configured : SINGLE_BROKER_REPLICATION_FACTOR;
    // A coordinator's write to a replicated partition is done once the in-sync replicas have it (Kafka's
    // coordinators append with acks=all).
    const coordinatorCommit = (log: PartitionLog) => (endOffset: number) =>
      log.isReplicated
        ? replicas.waitForHighWatermark(log, endOffset, settings.minInsyncReplicas, COORDINATOR_WRITE_TIMEOUT_MS)
        : Promise.resolve(ErrorCode.NONE);
    // And a coordinator partition's load waits for its high watermark to reach its log end (coordinator-log.ts
    // says why).
    const coordinatorCaughtUp = (log: PartitionLog) => async (endOffset: number) =>
      !log.isReplicated ||
      (await replicas.waitForHighWatermark(log, endOffset, 1, COORDINATOR_LOAD_WAIT_MS)) === ErrorCode.NONE;
    const createTopic = (
      name: string,
      numPartitions: number,
      replicationFactor: number,
      configs: Record<string, string>,
      replicaAssignment?: number[][],
    ) =>
      this.createTopic(topics, replicas, cluster, name, numPartitions, replicationFactor, configs, replicaAssignment);
    // Whether the metadata knows a partition (both coordinators tell a deleted topic from a log not created yet).
    const partitionExists = (topic: string, partition: number) =>
      topics.get(topic)?.partitions.some((p) => p.partition === partition) ?? false;
    const groups = new GroupCoordinator({
      settings: settings.groups,
      offsetsLog: (partition) => {
        const found = replicas.lookup(CONSUMER_OFFSETS_TOPIC, partition);
        if ('errorCode' in found) return found;
        return new PartitionCoordinatorLog(found.log, {
          sync: settings.flushOnAcksAll,
          logger: logger.child('groups'),
          now: Date.now,
          fenced: () => replicas.isFenced,
          replicated: coordinatorCommit(found.log),
          caughtUp: coordinatorCaughtUp(found.log),
        });
      },
      offsetsPartitionCount: () => topics.get(CONSUMER_OFFSETS_TOPIC)?.partitions.length ?? null,
      createOffsetsTopic: (numPartitions) => {
        // As Kafka, not created while fewer brokers are live than offsets.topic.replication.factor: the
        // INVALID_REPLICATION_FACTOR of the creation becomes FindCoordinator's COORDINATOR_NOT_AVAILABLE.
        const replication = internalReplicationFactor(settings.groups.offsetsTopicReplicationFactor);
        return createTopic(CONSUMER_OFFSETS_TOPIC, numPartitions, replication, INTERNAL_TOPIC_CONFIGS);
      },
      partitionExists,
      topics: {
        byName: (name) => {
          const t = topics.get(name);
          return t && { id: t.id, numPartitions: t.partitions.length };
        },
        byId: (id) => {
          const t = topics.getById(id);
          return t && { name: t.name, numPartitions: t.partitions.length };
        },
        names: () => [...topics.all()].map((t) => t.name),
      },
      logger: logger.child('groups'),
    });
    await groups.start();
    const producerIds = new ProducerIdManager(store);
    const transactions = new TransactionCoordinator({
      settings: settings.transactions,
      syncWrites: settings.flushOnAcksAll,
      stateLog: (partition) => {
        const found = replicas.lookup(TRANSACTION_STATE_TOPIC, partition);
        if ('errorCode' in found) return found;
        return new PartitionCoordinatorLog(found.log, {
          sync: settings.flushOnAcksAll,
          logger: logger.child('transactions'),
          now: Date.now,
          fenced: () => replicas.isFenced,
          replicated: coordinatorCommit(found.log),
          caughtUp: coordinatorCaughtUp(found.log),
        });
      },
      stateLogPartitionCount: () => topics.get(TRANSACTION_STATE_TOPIC)?.partitions.length ?? null,
      createStateTopic: (numPartitions) => {
        // As for __consumer_offsets, with transaction.state.log.replication.factor.
        const replication = internalReplicationFactor(settings.transactions.stateLogReplicationFactor);
        return createTopic(TRANSACTION_STATE_TOPIC, numPartitions, replication, INTERNAL_TOPIC_CONFIGS);
      },
      partitionLog: (topic, partition) => {
        const found = replicas.lookup(topic, partition);
        if ('errorCode' in found) return null;
        // Written as a leader writes a WriteTxnMarkers marker: acks=all under the topic's min.insync.replicas; a
        // refusal is the partition's error code, which the coordinator's rules sort (retried, dropped, ...).
        return {
          appendMarker: async (marker) => {
            const errorCode = await appendMarkerAsLeader({ replicas, settings, logger }, found, marker);
            if (errorCode !== ErrorCode.NONE) throw new KafkaError(errorCode, `marker to ${topic}-${partition}`);
          },
        };
      },
      partitionExists,
      coordinatorEpoch: (partition) => topics.get(TRANSACTION_STATE_TOPIC)?.partitions[partition]?.leaderEpoch ?? 0,
      writeRemoteMarkers: (partitions, marker) => writeRemoteMarkers(interBroker, topics, replicas, partitions, marker),
      verifyElsewhere: (stateLogPartition, transactionalId, producerId, producerEpoch, topic, partition) => {
        // The coordinator as the metadata names it now (Kafka's getTransactionCoordinator).
        const coordinator = topics.get(TRANSACTION_STATE_TOPIC)?.partitions[stateLogPartition]?.leader ?? -1;
        if (coordinator < 0) return Promise.resolve(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        // (A coordinator of an earlier version, without AddPartitionsToTxn v4, answers NONE: the sender asks its versions.)
        return verifications.verify(coordinator, { transactionalId, producerId, producerEpoch, topic, partition });
      },
      producerIds,
      onMarkerWritten: (topic, partition, producerId, committed) => {
        if (topic === CONSUMER_OFFSETS_TOPIC) groups.completeTransaction(partition, producerId, committed);
      },
      logger: logger.child('transactions'),
    });
    await transactions.start();
    // Leadership moving here or away (the topic records changed, the coordinator topics created or grown through
    // another broker included): the coordinators load the partitions of their topics this broker now leads, as a
    // Kafka broker loads the coordinator partitions it becomes leader of rather than on the first request for one
    // of their groups (which would answer COORDINATOR_LOAD_IN_PROGRESS meanwhile); the load itself waits for the
    // high watermark to reach the log end it had then (caughtUp above). They drop those it no longer leads.
    const loadCoordinatorPartition = (topic: string, partition: number) => {
      const coordinator = topic === CONSUMER_OFFSETS_TOPIC ? groups : transactions;
      if (logs.getLog(topic, partition)) void coordinator.loadPartition(partition);
    };
    this.loadLedCoordinatorPartitions = () => {
      for (const topic of [CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC]) {
        const count = topics.get(topic)?.partitions.length ?? 0;
        for (let p = 0; p < count; p++)
          if (!('errorCode' in replicas.lookup(topic, p))) loadCoordinatorPartition(topic, p);
      }
    };
    replicas.onLeadershipChange((topic, partition, leading) => {
      if (this.stopping || (topic !== CONSUMER_OFFSETS_TOPIC && topic !== TRANSACTION_STATE_TOPIC)) return;
      if (!leading) {
        (topic === CONSUMER_OFFSETS_TOPIC ? groups : transactions).unloadPartition(partition);
        return;
      }
      loadCoordinatorPartition(topic, partition);
    });

    const services: BrokerServices = {
      settings,
      clusterId,
      topics,
      brokerConfigs,
      replicas,
      logs,
      fetchSessions: new FetchSessionCache(),
      groups,
      producerIds,
      transactions,
      scramCredentials,
      quotas,
      quotaManager: new ClientQuotaManager(quotas),
      replicationQuotas,
      listenerTls,
      authorizer,
      acls,
      cluster,
      logger,
      metrics: this.metrics,
      createTopic,
    };
    this.services = services;
    this.console = consoleBackend(services, this.metrics, {
      version: SAMSA_VERSION,
      bootstrap: () => ({ host: settings.advertisedHost, port: settings.advertisedPort || this.port }),
    });
    const handlers: ApiHandler[] = [
      produceHandler,
      fetchHandler,
      listOffsetsHandler,
      offsetForLeaderEpochHandler,
      metadataHandler,
      createTopicsHandler,
      deleteTopicsHandler,
      createPartitionsHandler,
      describeConfigsHandler,
      alterConfigsHandler,
      incrementalAlterConfigsHandler,
      describeClusterHandler,
      describeTopicPartitionsHandler,
      deleteRecordsHandler,
      describeLogDirsHandler,
      electLeadersHandler,
      alterPartitionReassignmentsHandler,
      listPartitionReassignmentsHandler,
      findCoordinatorHandler,
      joinGroupHandler,
      syncGroupHandler,
      heartbeatHandler,
      leaveGroupHandler,
      offsetCommitHandler,
      offsetFetchHandler,
      offsetDeleteHandler,
      describeGroupsHandler,
      listGroupsHandler,
      deleteGroupsHandler,
      initProducerIdHandler,
      addPartitionsToTxnHandler,
      addOffsetsToTxnHandler,
      endTxnHandler,
      describeProducersHandler,
      describeTransactionsHandler,
      listTransactionsHandler,
      writeTxnMarkersHandler,
      txnOffsetCommitHandler,
      consumerGroupHeartbeatHandler,
      consumerGroupDescribeHandler,
      describeAclsHandler,
      createAclsHandler,
      deleteAclsHandler,
      saslHandshakeHandler,
      saslAuthenticateHandler,
      describeUserScramCredentialsHandler,
      describeClientQuotasHandler,
      alterClientQuotasHandler,
      alterUserScramCredentialsHandler,
    ];
    const dispatcher: RequestDispatcher = new RequestDispatcher(
      [...handlers, apiVersionsHandler(() => dispatcher.implemented)],
      services,
      logger.child('requests'),
      this.metrics,
    );
    this.dispatcher = dispatcher;
    this.every(settings.logRetentionCheckIntervalMs, () => logs.runRetention());
    this.every(CHECKPOINT_INTERVAL_MS, () => logs.checkpoint());
    let scheduleCleaner = (): void => {};
    if (settings.logCleanerEnable) {
      const cleaner = new LogCleaner(() => logs.allLogs(), {
        onError: (log, error) =>
          logger.error('log cleaning failed', { topic: log.topic, partition: log.partition, error: error as Error }),
      });
      this.cleaner = cleaner;
      const clean = oneAtATime(async () => {
        // The cleaner's progress is on disk once a pass moved it, so that a restart does not clean the same
        // segments again.
        if ((await cleaner.cleanAll()) > 0) await logs.checkpointCleanerOffsets();
      });
      scheduleCleaner = () => this.everyDynamic('log.cleaner.backoff.ms', settings.logCleanerBackoffMs, clean);
    }
    this.every(settings.producerIdExpirationCheckIntervalMs, async () => logs.removeExpiredProducers());
    const flush = oneAtATime(async () => {
      for (const log of logs.allLogs()) await log.flush();
    });
    const scheduleFlush = () => this.everyDynamic('log.flush.interval.ms', settings.logFlushIntervalMs, flush);
    scheduleCleaner();
    scheduleFlush();
    brokerConfigs.onChange(() => {
      // A change answered while stopping must not arm timers again over logs being closed.
      if (this.stopping) return;
      applyDynamicBrokerConfigs(settings, staticValues, brokerConfigs.layers());
      listenerTls.apply(brokerConfigs.layers().broker);
      // Topics without an override of a changed log config take the new default at once, as in Kafka.
      for (const topic of topics.all()) logs.refreshConfig(topic.name);
      scheduleCleaner();
      scheduleFlush();
    });
    if (store instanceof EtcdMetadataStore) {
      this.startupClosers.push(async () => {
        await this.election?.stop();
        await this.registrar?.deregister();
      });
      await this.register(store);
      // Registered: the partitions the topic records give this broker are its own to lead (see the fence above).
      logger.info('broker registered', { nodeId: settings.nodeId });
      replicas.unfence();
      this.loadLedCoordinatorPartitions?.();
      const follow = () => this.followControllerRole(store, topics, cluster, replicas);
      cluster.onChange(follow);
      follow();
    }
    this.stores = {
      store,
      topics,
      brokerConfigs,
      scramCredentials,
      quotas,
      acls,
      cluster,
      logs,
      replicas,
      groups,
      transactions,
    };
    // A JWKS endpoint is fetched before its listener serves: a broker that cannot get it does not start, as Kafka's.
    for (const l of listeners) {
      const validator = l.sasl?.oauthBearer;
      if (!validator?.start) continue;
      try {
        await validator.start((error) =>
          logger.warn('JWKS refresh failed; the last key set is kept', { listener: l.name, error: error.message }),
        );
      } catch (e) {
        validator.close?.();
        throw new StartupError(`listener ${l.name}: ${(e as Error).message}`);
      }
      this.startupClosers.push(async () => validator.close?.());
      this.validators.push(validator);
    }
    for (const listener of this.listeners) listener.serve();
    this.serving = true;
    logger.info('started', {
      version: SAMSA_VERSION,
      nodeId: settings.nodeId,
      clusterId,
      listener: `${settings.host}:${this.port}`,
      listeners: listeners.map((l) => `${l.name}://${l.host}:${l.port}`).join(','),
      advertised: listeners.map((l) => `${l.name}://${l.advertisedHost}:${l.advertisedPort}`).join(','),
      logDirs: settings.logDirs.join(','),
      ...(this.http ? { http: `${settings.httpListener!.host || '*'}:${this.httpPort}` } : {}),
      ms: Date.now() - started,
    });
  }

  /**
   * Takes up the controller's partition work when this broker holds `/controller`, and leaves it when another
   * does or this broker is fenced (see cluster/partition-controller.ts).
   */
  private followControllerRole(
    store: MetadataStore,
    topics: TopicMetadata,
    cluster: LiveBrokers,
    replicas: ReplicaManager,
  ): void {
    this.controllerRole = this.controllerRole
      .then(async () => {
        const nodeId = this.settings.nodeId;
        const isController = cluster.controllerId === nodeId && !replicas.isFenced && !this.stopping;
        if (!isController) {
          this.partitionController?.stop();
          this.partitionController = null;
          return;
        }
        if (this.partitionController) return;
        this.partitionController = await PartitionController.start({
          store,
          topics,
          cluster,
          nodeId,
          uncleanLeaderElectionEnable: (topic) => this.uncleanLeaderElectionEnable(topic),
          rebalance: () => ({
            enable: this.settings.autoLeaderRebalanceEnable,
            checkIntervalMs: this.settings.leaderImbalanceCheckIntervalSeconds * 1000,
            perBrokerPercentage: this.settings.leaderImbalancePerBrokerPercentage,
          }),
          log: this.logger.child('controller'),
        });
      })
      .catch((error: unknown) => this.logger.error('could not take up the controller role', { error: error as Error }));
  }

  /** unclean.leader.election.enable of a topic: its override, else the broker's (dynamic or static) config. */
  private uncleanLeaderElectionEnable(topic: TopicRecord): boolean {
    const value =
      topic.configs['unclean.leader.election.enable'] ??
      configuredBrokerConfig(this.settings, 'unclean.leader.election.enable') ??
      'false';
    return value.trim().toLowerCase() === 'true';
  }

  /** samsa.metadata.store: etcd (samsa.etcd.*), else the embedded store in the first log dir. */
  private async openMetadataStore(): Promise<MetadataStore> {
    const { settings } = this;
    const logger = this.logger.child('metadata');
    if (settings.etcd) {
      try {
        return await EtcdMetadataStore.open({
          ...settings.etcd,
          onWatchError: (e) => logger.error('metadata watch stopped', { error: e.message }),
        });
      } catch (e) {
        throw new StartupError(`samsa.etcd.endpoints: cannot reach etcd: ${describeCause(e)}`);
      }
    }
    return EmbeddedMetadataStore.open(settings.logDirs[0]!, {
      onWarning: (message, fields) => logger.warn(message, fields),
    });
  }

  /** What this broker registers: its id, rack and advertised endpoints (once the listeners are bound). */
  private registration(): BrokerRegistration {
    const { settings } = this;
    return {
      nodeId: settings.nodeId,
      rack: settings.rack ?? null,
      endpoints: (settings.listeners ?? []).map((l) => ({
        name: l.name,
        host: l.advertisedHost,
        port: l.advertisedPort,
      })),
    };
  }

  /**
   * Registers this broker under a lease kept alive until the broker stops (see cluster/etcd-broker-registration.ts),
   * and stands for controller under the same lease.
   */
  private async register(store: MetadataStore): Promise<void> {
    const { settings } = this;
    const registrar = await BrokerRegistrar.register(store, this.registration(), {
      sessionTimeoutMs: settings.etcd?.sessionTimeoutMs,
      onLeaseLost: (error) => this.onRegistrationLost(store, registrar, error),
      // Not a loss: the broker goes on leading and following (see cluster/etcd-broker-registration.ts); what
      // needs the store (ISR changes, elections, topic and config changes) waits for it or fails.
      onUnreachable: (error) =>
        this.logger.warn(
          'the metadata store does not answer: serving on; ISR changes, elections and metadata writes wait for it',
          { nodeId: settings.nodeId, error: error.message },
        ),
      onReachable: (outageMs) =>
        this.logger.info('the metadata store answers again; the registration lease is still held', {
          nodeId: settings.nodeId,
          outageMs,
        }),
    });
    let election: ControllerElection;
    try {
      election = await ControllerElection.start(store, settings.nodeId, registrar.leaseId, (error) =>
        this.logger.warn('controller election: the metadata store did not answer', { error: error.message }),
      );
    } catch (e) {
      // No registration left renewing behind a failed attempt (a retry registers anew).
      await registrar.deregister().catch(() => {});
      throw e;
    }
    this.registrar = registrar;
    this.election = election;
  }

  /**
   * The registration lease is lost (etcd answered that it expired or was revoked, or the registration key was
   * deleted or replaced; an etcd out of reach is not that): the cluster counts this broker as dead from now
   * on, so it is fenced at once (it leads nothing, its coordinators write nothing), then it registers again as
   * soon as etcd lets it, as a Kafka broker registers again with a new ZooKeeper session. Unfencing is safe
   * because lookups check the topic records: the controller gave the partitions this broker led to other ISR
   * members (or marked them offline) once the lease was gone, so those stay NOT_LEADER_OR_FOLLOWER here.
   */
  private onRegistrationLost(store: MetadataStore, lost: BrokerRegistrar, error: Error): void {
    this.logger.error(
      'broker registration lease lost: the cluster no longer counts this broker as alive; it leads no partition until it is registered again',
      { nodeId: this.settings.nodeId, error: error.message },
    );
    this.services?.replicas.fence();
    this.services?.cluster.loseSelf();
    const election = this.election;
    this.election = null;
    void election?.stop();
    this.resolveRegistrationLost?.(error);
    this.rejoining ??= this.rejoin(store, lost).finally(() => {
      this.rejoining = null;
    });
  }

  /** Registers again, every REJOIN_RETRY_MS until it succeeds or the broker stops, then unfences. */
  private async rejoin(store: MetadataStore, lost: BrokerRegistrar): Promise<void> {
    let warned = false;
    while (!this.stopping) {
      await new Promise((resolve) => setTimeout(resolve, REJOIN_RETRY_MS).unref());
      if (this.stopping) return;
      try {
        // The old registration goes now if etcd still holds it (a lease that only seemed lost while etcd
        // was out of reach), rather than make the new one wait for it to expire.
        await lost.revokeLostLease();
        await this.register(store);
      } catch (e) {
        if (!warned) this.logger.warn('cannot register again yet; retrying', { error: (e as Error).message });
        warned = true;
        continue;
      }
      // Caught up with the topic records before leading again, as a Kafka broker is before it is unfenced.
      while (!(await this.resyncTopics())) {
        if (this.stopping) return;
        await new Promise((resolve) => setTimeout(resolve, REJOIN_RETRY_MS).unref());
      }
      if (this.stopping) return;
      this.services?.replicas.unfence();
      this.loadLedCoordinatorPartitions?.();
      this.services?.cluster.rejoinSelf();
      this.logger.info('broker registered again: it leads its partitions again', { nodeId: this.settings.nodeId });
      return;
    }
  }

  /** Reads the topic records again (see TopicMetadata.resync); whether it could. */
  private async resyncTopics(): Promise<boolean> {
    try {
      await this.services?.topics.resync();
      return true;
    } catch (e) {
      this.logger.warn('cannot read the topic records after registering again; retrying', {
        error: (e as Error).message,
      });
      return false;
    }
  }

  /** Whether this broker's registration lease was lost (etcd expired or revoked it) while it runs. */
  get registrationLost(): boolean {
    return this.registrar?.leaseLost ?? false;
  }

  /** Whether the last renewals of the registration lease failed because etcd could not be reached. */
  get metadataStoreUnreachable(): boolean {
    return this.registrar?.storeUnreachable ?? false;
  }

  /** Resolves with the cause when this broker's registration lease is lost. */
  readonly whenRegistrationLost: Promise<Error> = new Promise((resolve) => {
    this.resolveRegistrationLost = resolve;
  });

  /**
   * Binds samsa.http.listener, when set, before the logs are opened: liveness answers during a long recovery,
   * and readiness says 503 until the broker serves.
   */
  private async bindHttpListener(): Promise<void> {
    const address = this.settings.httpListener;
    if (!address) return;
    const onError = (message: string, error: Error) => this.logger.error(message, { error });
    let assets: Promise<Map<string, Asset> | null> | null = null;
    // Loaded (with node:http) only by a broker that serves samsa.http.listener.
    const { HttpEndpoint } = await import('../observability/http-endpoint.js');
    const http = new HttpEndpoint({
      host: address.host,
      port: address.port,
      registry: () => this.metrics.registryFor(this.metricSources()),
      ready: () => this.ready,
      onError,
      // The web console: its page is read from the package on first use, its API answers once the broker serves.
      app: new ConsoleApp({
        backend: () => (this.ready ? this.console : null),
        assets: () => {
          assets ??= loadAssets();
          return assets;
        },
        readOnly: this.settings.consoleReadOnly === true,
        disabledReason: this.settings.authorizer
          ? 'the console has no login: with authorizer.class.name set its API is off, so that it cannot go around the ACLs'
          : null,
        allowedHosts: new Set(
          [
            'localhost',
            hostname(),
            address.host,
            this.settings.advertisedHost,
            ...(this.settings.listeners ?? []).map((l) => l.advertisedHost),
            ...(this.settings.consoleAllowedHosts ?? []),
          ].map((name) => name.toLowerCase()),
        ),
        onError,
      }),
    });
    try {
      this.httpPort = await http.listen();
    } catch (e) {
      throw new StartupError(
        `samsa.http.listener: cannot listen on ${address.host || '*'}:${address.port}: ${describeCause(e)}`,
      );
    }
    this.http = http;
    this.startupClosers.push(async () => {
      await http.close();
      this.http = null;
    });
    this.logger.info('http listener bound', { address: `${address.host || '*'}:${this.httpPort}` });
  }

  /** What a scrape reads; empty until the logs and coordinators are open. */
  private metricSources(): MetricSources {
    const stores = () => this.stores;
    const settings = this.settings;
    const listeners = () => this.listeners;
    return {
      logs: () => stores()?.logs.allLogs() ?? [],
      highWatermark: (topic, partition) => stores()?.logs.getLog(topic, partition)?.highWatermark ?? null,
      *groups() {
        const groups = stores()?.groups;
        if (!groups) return;
        for (const groupId of groups.committedGroupIds()) {
          const committed = groups.fetchOffsets(groupId, null);
          yield {
            groupId,
            offsets: committed.topics.flatMap((t) =>
              t.partitions.map((p) => ({
                topic: t.name,
                partition: p.partition,
                offset: Number(p.offset?.offset ?? -1),
              })),
            ),
          };
        }
      },
      connections: () =>
        listeners().map((l, i) => ({
          listener: settings.listeners?.[i]?.name ?? 'PLAINTEXT',
          count: l.connectionCount,
          throttles: l.throttleStats,
        })),
      delayedFetches: () => stores()?.replicas.delayedFetches.size ?? 0,
      replication: () => stores()?.replicas.replicationCounts() ?? { leaders: 0, underReplicated: 0 },
      topicExists: (name) => stores()?.topics.get(name) !== undefined,
      replicationQuotas: () => this.services?.replicationQuotas ?? null,
    };
  }

  /** Kafka's exclusive `.lock` in every log dir, held until stop() (or the process's end). */
  private async lockLogDirs(): Promise<void> {
    for (const dir of this.settings.logDirs) {
      let lock: FileHandle | null;
      try {
        lock = await lockLogDir(dir);
      } catch (e) {
        throw new StartupError(`log.dirs: cannot use ${dir}: ${describeCause(e)}`);
      }
      if (!lock)
        throw new StartupError(
          `log.dirs: ${dir} is in use by another Samsa or Kafka process, which holds its lock file ${dir}/.lock; refusing to start`,
        );
      this.logDirLocks.push(lock);
    }
  }

  /**
   * Binds every listener, without serving yet (connections wait until start-up is done), and fills in what
   * each advertises: the bound port for port 0, this host's canonical name for an empty host (Kafka's rule).
   */
  /** The SSL listeners' certificates, renewable through dynamic broker configs. */
  private listenerTls(settingsOfListeners: ListenerSettings[]): ListenerTls {
    const reloadable = settingsOfListeners.flatMap((l, i) => {
      const listener = this.listeners[i]!;
      return l.ssl ? [{ name: l.name, updateSsl: (o: SecureContextOptions) => listener.updateSsl(o) }] : [];
    });
    return new ListenerTls(
      reloadable,
      (key) => this.settings.staticConfigs?.[key],
      (name) => settingsOfListeners.find((l) => l.name === name)?.ssl?.contextOptions,
      this.logger,
    );
  }

  /** The connection_creation_rate of an address (KIP-612): its own quota, else the default for addresses. */
  private ipConnectionRate(address: string): number | undefined {
    const quotas = this.clientQuotas;
    if (!quotas || quotas.isEmpty) return undefined;
    return (
      quotas.get([{ entityType: 'ip', entityName: address }])?.get(CONNECTION_CREATION_RATE) ??
      quotas.get([{ entityType: 'ip', entityName: null }])?.get(CONNECTION_CREATION_RATE)
    );
  }

  private async bindListeners(): Promise<ListenerSettings[]> {
    const { settings } = this;
    const listeners = settings.listeners ?? [
      {
        name: 'PLAINTEXT',
        host: settings.host,
        port: settings.port,
        advertisedHost: settings.advertisedHost,
        advertisedPort: settings.advertisedPort,
      },
    ];
    // queued.max.request.bytes bounds the request memory of all connections, whichever listener took them.
    const requestMemory = new RequestMemoryPool(settings.queuedMaxRequestBytes);
    // The connection limits of all listeners, read from the settings at each new connection (they are dynamic).
    // Kafka protects the inter-broker listener from the broker-wide limits when there are others for clients.
    const protectedListener = listeners.length > 1 ? (settings.interBroker?.listenerName ?? null) : null;
    const connectionQuotas = new ConnectionQuotas(
      settings,
      (address) => this.ipConnectionRate(address),
      protectedListener,
    );
    for (const l of listeners) {
      const listener = new Listener(
        {
          host: l.host,
          port: l.port,
          maxRequestBytes: settings.socketRequestMaxBytes,
          idleTimeoutMs: settings.connectionsMaxIdleMs,
          name: l.name,
          connectionQuotas,
          // Read at each new connection: they are dynamic, as Kafka's ListenerReconfigurable configs.
          listenerLimits: {
            get maxConnections() {
              return listenerLimit(settings, l.name, 'max.connections') ?? l.maxConnections;
            },
            get maxConnectionCreationRate() {
              return listenerLimit(settings, l.name, 'max.connection.creation.rate') ?? l.maxConnectionCreationRate;
            },
          },
          requestMemory,
          // Segment reads in responses go back to storage's read buffer pool once written.
          onResponseWritten: releaseWrittenChunks,
          ...(l.ssl ? { ssl: l.ssl } : {}),
          ...(l.sasl ? { sasl: l.sasl } : {}),
        },
        (frame: Buffer, connection: Connection) => this.dispatcher!.handleFrame(frame, connection),
        (error: unknown, connection: Connection) => this.dispatcher!.onConnectionError(error, connection),
      );
      try {
        l.port = await listener.bind();
      } catch (e) {
        throw new StartupError(
          `listeners: cannot listen on ${l.host || '*'}:${l.port} (listener ${l.name}): ${describeCause(e)}`,
        );
      }
      this.listeners.push(listener);
      // Port 0 binds any free port; clients must be told the real one.
      if (l.advertisedPort === 0) l.advertisedPort = l.port;
      if (l.advertisedHost === '') l.advertisedHost = await canonicalHostName();
    }
    const first = listeners[0]!;
    settings.listeners = listeners;
    settings.host = first.host;
    settings.port = first.port;
    settings.advertisedHost = first.advertisedHost;
    settings.advertisedPort = first.advertisedPort;
    this.port = first.port;
    return listeners;
  }

  /** meta.properties ties each log dir to one cluster and node; a mismatch stops start-up, as in Kafka. */
  private async checkMetaProperties(store: MetadataStore): Promise<string> {
    const metas = await Promise.all(this.settings.logDirs.map(readMetaProperties));
    const clusterId = await ensureClusterId(store, metas.find((m) => m !== null)?.clusterId);
    for (const [i, dir] of this.settings.logDirs.entries()) {
      const meta = metas[i];
      if (meta && (meta.clusterId !== clusterId || meta.nodeId !== this.settings.nodeId)) {
        throw new Error(
          `${dir} belongs to cluster ${meta.clusterId} node ${meta.nodeId}, not cluster ${clusterId} node ${this.settings.nodeId}`,
        );
      }
      if (!meta) await writeMetaProperties(dir, { clusterId, nodeId: this.settings.nodeId });
    }
    return clusterId;
  }

  private async createTopic(
    topics: TopicMetadata,
    replicas: ReplicaManager,
    cluster: LiveBrokers,
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
    replicaAssignment?: number[][],
  ): Promise<number> {
    const live = cluster.all();
    if (replicationFactorError(replicationFactor, live.length)) return ErrorCode.INVALID_REPLICATION_FACTOR;
    // Kafka's assignor over the live brokers, unless the client gave the replicas.
    const placement = replicaAssignment ?? placeReplicas(live, numPartitions, replicationFactor);
    const record: TopicRecord = {
      name,
      id: newUuid(),
      partitions: placement.map((replicas, partition) => assignedPartition(partition, replicas)),
      configs,
    };
    let created: TopicRecord | null;
    try {
      created = await topics.create(record);
    } catch (error) {
      // etcd out of reach: not known to be created (the write may yet be applied), as Kafka's REQUEST_TIMED_OUT.
      if (error instanceof MetadataStoreUnreachableError) {
        this.logger.warn('topic creation not confirmed: the metadata store does not answer', {
          topic: name,
          error: error.message,
        });
        return ErrorCode.REQUEST_TIMED_OUT;
      }
      // The metadata store could not write the record (a full disk): nothing was created.
      this.logger.error('topic creation failed', { topic: name, error: error as Error });
      return ErrorCode.KAFKA_STORAGE_ERROR;
    }
    await replicas.settled();
    if (!created) return ErrorCode.TOPIC_ALREADY_EXISTS;
    const missing = replicas.logsMissing(name);
    if (missing) {
      // A topic whose logs could not be created would answer LEADER_NOT_AVAILABLE until a restart: take it back
      // (its id is recorded as deleted, so whatever log was created goes too) and say why.
      this.logger.error('topic creation failed: its logs could not be created, topic removed again', {
        topic: name,
        id: record.id,
        error: missing,
      });
      try {
        await topics.delete(name);
        await replicas.settled();
      } catch (error) {
        this.logger.error('could not remove the topic whose logs failed', { topic: name, error: error as Error });
      }
      return ErrorCode.KAFKA_STORAGE_ERROR;
    }
    this.logger.info('topic created', { topic: name, partitions: numPartitions, id: record.id });
    return ErrorCode.NONE;
  }

  /**
   * Runs `task` every `intervalMs` as `every` does, replacing the timer when the interval a dynamic config sets
   * changes; an interval no timer can hold (Long.MAX_VALUE, Kafka's "never") runs it never.
   */
  private everyDynamic(config: string, intervalMs: number, task: () => Promise<unknown>): void {
    const current = this.dynamicTimers.get(config);
    if (current?.intervalMs === intervalMs) return;
    if (current?.timer) {
      clearInterval(current.timer);
      this.timers = this.timers.filter((t) => t !== current.timer);
    }
    const timer = intervalMs > 0 && intervalMs <= MAX_TIMER_MS ? this.every(intervalMs, task) : null;
    this.dynamicTimers.set(config, { intervalMs, timer });
  }

  private every(intervalMs: number, task: () => Promise<unknown>): NodeJS.Timeout {
    let running: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (running) return;
      running = task()
        .then(
          () => {},
          (error: unknown) => this.logger.error('background task failed', { error: error as Error }),
        )
        .finally(() => {
          this.backgroundTasks.delete(running!);
          running = null;
        });
      this.backgroundTasks.add(running);
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
    return timer;
  }

  /**
   * Kafka's controlled shutdown, on a cluster: before it stops serving, the broker hands the partitions it leads
   * to other live ISR members and leaves the ISRs (see cluster/partition-controller.ts), so that clients move at
   * once rather than wait for the registration to expire.
   */
  private async controlledShutdown(): Promise<void> {
    const s = this.stores;
    if (!s || !this.registrar || this.registrar.leaseLost || s.replicas.isFenced) return;
    const log = this.logger.child('controller');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CONTROLLED_SHUTDOWN_TIMEOUT_MS);
    });
    try {
      const moved = await Promise.race([controlledShutdown(s.topics, s.cluster, this.settings.nodeId, log), timeout]);
      if (moved === 'timeout') log.warn('controlled shutdown did not finish in time; stopping anyway');
      else log.info('controlled shutdown: leadership moved to other in-sync replicas', { partitions: moved });
    } catch (error) {
      log.warn('controlled shutdown failed; the controller moves the partitions once this broker is gone', {
        error: error as Error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops taking connections, lets in-flight writes finish, flushes the logs and marks a clean shutdown. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Followers stop fetching first: caught up during the controlled shutdown, they would be taken back into
      // the ISRs they are leaving.
      await this.stores?.replicas.stopFetching();
      await this.controlledShutdown();
      this.partitionController?.stop();
      await this.controllerRole;
      for (const t of this.timers) clearInterval(t);
      // A cleaning pass stops at its next read rather than finish the log it is on.
      this.cleaner?.stop();
      // A retention pass or checkpoint still running must finish before the logs close (and a temporary
      // directory is removed).
      await Promise.all(this.backgroundTasks);
      await Promise.all(this.listeners.map((l) => l.close()));
      for (const v of this.validators) v.close?.();
      if (this.stores) {
        const s = this.stores;
        await s.groups.stop();
        this.transactionVerifications?.stop();
        // Its timers end and the operations under way finish (markers included) before the logs close.
        await s.transactions.close();
        await s.replicas.stop();
        await s.logs.shutdown();
        s.brokerConfigs.close();
        s.scramCredentials.close();
        s.quotas.close();
        s.acls?.close();
        s.topics.close();
        s.cluster.close();
        // A registration under way completes first, so that the one revoked below is the last one.
        await this.rejoining;
        await this.election?.stop();
        await this.registrar
          ?.deregister()
          .catch((e: Error) =>
            this.logger.warn('broker registration not revoked; it expires with its lease', { error: e.message }),
          );
        await s.store.close();
      }
      for (const lock of this.logDirLocks) await lock.close();
      this.logger.info('stopped');
      await this.onStopped?.();
      // Last, so that readiness probes see 503 through the whole stop.
      await this.http?.close();
    })();
    return this.stopping;
  }
}

/**
 * A transaction's marker for partitions without a log here, sent to their leaders with WriteTxnMarkers, one
 * request per leader. A partition this broker leads but cannot write (fenced, log not created yet) answers its
 * lookup error, which the coordinator sends again; a deleted one UNKNOWN_TOPIC_OR_PARTITION.
 */
async function writeRemoteMarkers(
  client: InterBrokerClient,
  topics: TopicMetadata,
  replicas: ReplicaManager,
  partitions: ReadonlyArray<{ topic: string; partition: number }>,
  marker: TransactionMarker,
): Promise<Array<{ topic: string; partition: number; errorCode: number }>> {
  const results: Array<{ topic: string; partition: number; errorCode: number }> = [];
  const byLeader = new Map<number, Map<string, number[]>>();
  for (const { topic, partition } of partitions) {
    // The leader as the metadata names it now: each round of the coordinator looks it up again.
    const leader = topics.get(topic)?.partitions[partition]?.leader;
    if (leader === undefined) {
      results.push({ topic, partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
      continue;
    }
    // Being elected (Kafka's queue for an unknown destination): sent again once a leader is known.
    if (leader < 0) {
      results.push({ topic, partition, errorCode: ErrorCode.LEADER_NOT_AVAILABLE });
      continue;
    }
    const local = replicas.lookup(topic, partition);
    if ('errorCode' in local && local.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) {
      results.push({ topic, partition, errorCode: local.errorCode });
      continue;
    }
    const forLeader = byLeader.get(leader) ?? new Map<string, number[]>();
    byLeader.set(leader, forLeader);
    forLeader.set(topic, [...(forLeader.get(topic) ?? []), partition]);
  }
  await Promise.all(
    [...byLeader].map(async ([leader, forLeader]) => {
      try {
        const response = await client.request(leader, writeTxnMarkersApi, WRITE_TXN_MARKERS_VERSION, {
          markers: [
            {
              producerId: marker.producerId,
              producerEpoch: marker.producerEpoch,
              transactionResult: marker.committed,
              coordinatorEpoch: marker.coordinatorEpoch,
              topics: [...forLeader].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
            },
          ],
        });
        for (const t of response.markers[0]?.topics ?? []) {
          for (const p of t.partitions)
            results.push({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode });
        }
      } catch {
        // Not live, unreachable, or the connection lost before the answer (Kafka's disconnected response): sent
        // again in the coordinator's next round, to the leader the metadata then names.
        for (const [topic, ids] of forLeader) {
          for (const partition of ids) results.push({ topic, partition, errorCode: ErrorCode.NETWORK_EXCEPTION });
        }
      }
    }),
  );
  return results;
}

/**
 * This host's name as Kafka advertises a listener with an empty host (InetAddress's canonical host name): the
 * host name resolved to an address and back; the plain host name when either lookup fails.
 */
async function canonicalHostName(): Promise<string> {
  const name = hostname();
  try {
    const { address } = await lookup(name);
    return (await lookupService(address, 0)).hostname;
  } catch {
    return name;
  }
}

export interface StartBrokerOptions
  extends Partial<Omit<BrokerSettings, 'logDefaults' | 'groups' | 'transactions' | 'replication'>> {
  logDefaults?: Partial<BrokerSettings['logDefaults']>;
  replication?: Partial<BrokerSettings['replication']>;
  groups?: Partial<BrokerSettings['groups']>;
  transactions?: Partial<BrokerSettings['transactions']>;
  /** Log output; silent by default for embedded brokers. */
  logger?: Logger;
}

/**
 * Starts a broker in this process, for tests and embedding: port 0 (any free port) on 127.0.0.1 and a
 * temporary log directory by default, removed again by `stop()`.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<Broker> {
  const defaults = defaultBrokerSettings();
  const { logger, logDefaults, groups, transactions, replication, ...rest } = options;
  let temporary: string | null = null;
  if (!options.logDirs) temporary = await mkdtemp(join(tmpdir(), 'samsa-'));
  const settings: BrokerSettings = {
    ...defaults,
    port: 0,
    advertisedHost: options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1',
    advertisedPort: 0,
    ...rest,
    logDirs: options.logDirs ?? [temporary!],
    logDefaults: { ...defaults.logDefaults, ...logDefaults },
    // Tests start groups at once rather than waiting for more members (Kafka's shipped server.properties
    // does the same for development).
    groups: { ...defaults.groups, initialRebalanceDelayMs: 0, ...groups },
    transactions: { ...defaults.transactions, ...transactions },
    replication: { ...defaults.replication, ...replication },
  };
  const broker = new Broker(
    settings,
    logger ?? new Logger('broker', { level: 'error', sink: { write: () => {} } }),
    temporary ? () => rm(temporary!, { recursive: true, force: true }) : undefined,
  );
  try {
    await broker.start();
  } catch (e) {
    await broker.stop().catch(() => {});
    throw e;
  }
  return broker;
}
