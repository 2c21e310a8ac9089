import type { TopicRecord } from '../cluster/topic-metadata.js';
import { BROKER_CONFIGS } from '../config/broker-config.js';
import type { BrokerSettings } from '../config/broker-settings.js';
import { defaultBrokerSettings } from '../config/broker-settings.js';
import { brokerConfigDefinition, DYNAMIC_BROKER_CONFIGS } from '../config/dynamic-broker-config.js';
import { type ConfigKind, LONG_MAX_TEXT, TOPIC_CONFIGS } from '../config/topic-config.js';

/** Kafka's ConfigResource.Type codes. */
export const ConfigResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  CLIENT_METRICS: 16,
  GROUP: 32,
} as const;

/** Kafka's DescribeConfigsResponse.ConfigSource codes. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** Kafka's ConfigEntry.ConfigType codes (DescribeConfigs v3+). */
const CONFIG_TYPE: Record<ConfigKind, number> = { boolean: 1, string: 2, int: 3, long: 5, double: 6, list: 7 };

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}

export interface DescribedConfig {
  name: string;
  value: string | null;
  source: number;
  readOnly: boolean;
  configType: number;
  synonyms: ConfigSynonym[];
  /** Kafka's PASSWORD-type configs: described with a null value, so that secrets never leave the broker. */
  sensitive: boolean;
}

/** Kafka's configs of type PASSWORD (also per listener, `listener.name.<name>.`...). */
const SENSITIVE_CONFIG =
  /(^|\.)(ssl\.keystore\.password|ssl\.key\.password|ssl\.truststore\.password|ssl\.keystore\.key|ssl\.keystore\.certificate\.chain|ssl\.truststore\.certificates|sasl\.jaas\.config)$/;

export function isSensitiveConfig(name: string): boolean {
  return SENSITIVE_CONFIG.test(name);
}

function longText(n: number): string {
  return Number.isFinite(n) ? String(n) : LONG_MAX_TEXT;
}

/** The broker configs whose values come from the resolved settings rather than from the raw properties. */
function settingsValues(s: BrokerSettings): Record<string, string> {
  const d = s.logDefaults;
  return {
    'node.id': String(s.nodeId),
    'broker.id': String(s.nodeId),
    listeners:
      (s.listeners ?? []).map((l) => `${l.name}://${l.host}:${l.port}`).join(',') || `PLAINTEXT://${s.host}:${s.port}`,
    'advertised.listeners':
      (s.listeners ?? []).map((l) => `${l.name}://${l.advertisedHost}:${l.advertisedPort}`).join(',') ||
      `PLAINTEXT://${s.advertisedHost}:${s.advertisedPort}`,
    'log.dirs': s.logDirs.join(','),
    'num.partitions': String(s.numPartitions),
    'default.replication.factor': String(s.defaultReplicationFactor),
    'auto.create.topics.enable': String(s.autoCreateTopicsEnable),
    'delete.topic.enable': String(s.deleteTopicEnable),
    'message.max.bytes': String(s.messageMaxBytes),
    'socket.request.max.bytes': String(s.socketRequestMaxBytes),
    'connections.max.idle.ms': String(s.connectionsMaxIdleMs),
    'fetch.max.bytes': String(s.fetchMaxBytes),
    'queued.max.request.bytes': String(s.queuedMaxRequestBytes),
    'log.segment.bytes': String(d.segmentBytes),
    'log.roll.ms': longText(d.segmentMs),
    'log.retention.ms': longText(d.retentionMs),
    'log.retention.bytes': String(d.retentionBytes),
    'log.index.interval.bytes': String(d.indexIntervalBytes),
    'log.flush.interval.messages': longText(d.flushMessages),
    'log.flush.interval.ms': longText(s.logFlushIntervalMs),
    'log.retention.check.interval.ms': String(s.logRetentionCheckIntervalMs),
    'log.cleaner.enable': String(s.logCleanerEnable),
    'log.cleaner.backoff.ms': String(s.logCleanerBackoffMs),
    'log.message.timestamp.type': s.logMessageTimestampType,
    'samsa.log.flush.on.acks.all': String(s.flushOnAcksAll),
    'min.insync.replicas': String(s.minInsyncReplicas),
    'auto.leader.rebalance.enable': String(s.autoLeaderRebalanceEnable),
    'leader.imbalance.check.interval.seconds': String(s.leaderImbalanceCheckIntervalSeconds),
    'leader.imbalance.per.broker.percentage': String(s.leaderImbalancePerBrokerPercentage),
    'replica.lag.time.max.ms': String(s.replication.replicaLagTimeMaxMs),
    'replica.fetch.max.bytes': String(s.replication.replicaFetchMaxBytes),
    'replica.fetch.response.max.bytes': String(s.replication.replicaFetchResponseMaxBytes),
    'replica.fetch.wait.max.ms': String(s.replication.replicaFetchWaitMaxMs),
    'replica.fetch.min.bytes': String(s.replication.replicaFetchMinBytes),
    'replica.fetch.backoff.ms': String(s.replication.replicaFetchBackoffMs),
    'samsa.log.tail.cache.bytes': String(s.tailCacheBytes),
    'samsa.log.read.buffer.pool.bytes': String(s.readBufferPoolBytes),
    'offsets.topic.num.partitions': String(s.groups.offsetsTopicNumPartitions),
    'offsets.topic.replication.factor': String(s.groups.offsetsTopicReplicationFactor),
    'group.initial.rebalance.delay.ms': String(s.groups.initialRebalanceDelayMs),
    'group.min.session.timeout.ms': String(s.groups.minSessionTimeoutMs),
    'group.max.session.timeout.ms': String(s.groups.maxSessionTimeoutMs),
    'group.max.size': String(s.groups.maxSize),
    'group.consumer.heartbeat.interval.ms': String(s.groups.consumerHeartbeatIntervalMs),
    'group.consumer.session.timeout.ms': String(s.groups.consumerSessionTimeoutMs),
    'group.consumer.max.size': String(s.groups.consumerMaxSize),
    'group.consumer.migration.policy': 'disabled',
    'offsets.retention.minutes': String(Math.round(s.groups.offsetsRetentionMs / 60_000)),
    'offsets.retention.check.interval.ms': String(s.groups.offsetsRetentionCheckIntervalMs),
    'offset.metadata.max.bytes': String(s.groups.offsetMetadataMaxBytes),
  };
}

/**
 * Topic configs that Kafka gives no broker synonym (ServerTopicConfigSynonyms leaves them out): described with
 * their default and no synonyms.
 */
const NO_BROKER_SYNONYM = new Set([
  'follower.replication.throttled.replicas',
  'leader.replication.throttled.replicas',
  'remote.storage.enable',
  'remote.log.copy.disable',
  'remote.log.delete.on.disable',
]);

/**
 * Kafka's default of a broker config, as its DEFAULT_CONFIG synonym: null when Kafka has none (log.retention.ms,
 * log.roll.ms: their .hours synonyms carry the default).
 */
function kafkaDefault(key: string): string | null {
  return brokerConfigDefinition(key)?.default ?? null;
}

const SYNONYM_GROUPS: ReadonlyArray<readonly string[]> = [
  ['log.roll.ms', 'log.roll.hours'],
  ['log.roll.jitter.ms', 'log.roll.jitter.hours'],
  // log.flush.scheduler.interval.ms is the default of log.flush.interval.ms, not the other way round.
  ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms'],
  ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
];

/** The names a broker config is set under, most specific first (Kafka's DynamicBrokerConfig.brokerConfigSynonyms). */
function brokerSynonyms(name: string): readonly string[] {
  for (const group of SYNONYM_GROUPS)
    if (group.includes(name)) return name === 'log.flush.scheduler.interval.ms' ? [name] : group;
  return [name];
}

/** The values set in server.properties, or for a broker started with options, those that differ from the defaults. */
function staticLayer(settings: BrokerSettings): Readonly<Record<string, string>> {
  return settings.staticConfigs ?? {};
}

/**
 * Kafka's synonyms of a broker config (ConfigHelper.configSynonyms): every synonym set dynamically for this
 * broker, then as the cluster default, then in server.properties, then Kafka's defaults; each source lists the
 * synonyms in precedence order. As Kafka, the list starts at the first entry of `name` itself: for a topic's
 * retention.ms with only log.retention.hours set, none remains, and the source is DEFAULT_CONFIG.
 */
function configSynonyms(name: string, settings: BrokerSettings): ConfigSynonym[] {
  const names = brokerSynonyms(name);
  const dynamic = settings.dynamicConfigs;
  const layers: Array<[Readonly<Record<string, string>> | undefined, number]> = [
    [dynamic?.broker, ConfigSource.DYNAMIC_BROKER_CONFIG],
    [dynamic?.clusterDefault, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
    [staticLayer(settings), ConfigSource.STATIC_BROKER_CONFIG],
  ];
  const all: ConfigSynonym[] = [];
  for (const [layer, source] of layers) {
    for (const n of names) {
      const value = layer?.[n];
      if (value !== undefined) all.push({ name: n, value, source });
    }
  }
  for (const n of names) {
    const value = kafkaDefault(n);
    if (value !== null) all.push({ name: n, value, source: ConfigSource.DEFAULT_CONFIG });
  }
  const first = all.findIndex((s) => s.name === name);
  return first === -1 ? [] : all.slice(first);
}

function brokerConfigKind(key: string): ConfigKind {
  return brokerConfigDefinition(key)?.kind ?? 'string';
}

/**
 * The value a topic without an override gets, where the settings hold it resolved from several synonyms (hours,
 * minutes and milliseconds); the others take their first synonym's value.
 */
function resolvedTopicDefault(name: string, settings: BrokerSettings): string | undefined {
  switch (name) {
    case 'retention.ms':
      return longText(settings.logDefaults.retentionMs);
    case 'segment.ms':
      return longText(settings.logDefaults.segmentMs);
    case 'flush.ms':
      return longText(settings.logFlushIntervalMs);
    default:
      return undefined;
  }
}

/**
 * Every config of a topic as Kafka describes it: the value in force (the override, else the broker's), the
 * source of the first synonym, and the synonyms (the override, then the broker's, see `configSynonyms`).
 */
export function describeTopicConfigs(
  topic: TopicRecord,
  settings: BrokerSettings,
  keys: readonly string[] | null,
): DescribedConfig[] {
  const names = keys ?? Object.keys(TOPIC_CONFIGS);
  const out: DescribedConfig[] = [];
  for (const name of names) {
    const def = TOPIC_CONFIGS[name];
    if (!def) continue;
    const synonyms = NO_BROKER_SYNONYM.has(name) ? [] : configSynonyms(def.brokerKey, settings);
    const override = topic.configs[name];
    if (override !== undefined) synonyms.unshift({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    out.push({
      name,
      value: override ?? resolvedTopicDefault(name, settings) ?? synonyms[0]?.value ?? def.default,
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      readOnly: false,
      configType: CONFIG_TYPE[def.kind],
      synonyms,
      sensitive: false,
    });
  }
  return out;
}

/**
 * The configs of a BROKER resource as Kafka describes them. For this broker's id: every config, with the value in
 * force, its source and synonyms; read-only unless dynamic. For "" (the cluster-wide default): the dynamic
 * defaults set, each with its DYNAMIC_DEFAULT_BROKER_CONFIG synonyms only.
 */
export function describeBrokerConfigs(
  settings: BrokerSettings,
  resourceName: string,
  keys: readonly string[] | null,
): DescribedConfig[] {
  const wanted = (name: string) => keys === null || keys.includes(name);
  const describe = (name: string, value: string | null, synonyms: ConfigSynonym[]): DescribedConfig => {
    const sensitive = isSensitiveConfig(name);
    return {
      name,
      value: sensitive ? null : value,
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      readOnly: !DYNAMIC_BROKER_CONFIGS.has(name),
      configType: CONFIG_TYPE[brokerConfigKind(name)],
      synonyms: sensitive ? synonyms.map((s) => ({ ...s, value: null })) : synonyms,
      sensitive,
    };
  };
  const clusterDefault = settings.dynamicConfigs?.clusterDefault ?? {};
  if (resourceName === '') {
    return Object.entries(clusterDefault)
      .filter(([name]) => wanted(name))
      .map(([name, value]) =>
        describe(
          name,
          value,
          configSynonyms(name, settings).filter((s) => s.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
        ),
      );
  }
  const fromSettings = settingsValues(settings);
  const names = new Set([
    ...Object.keys(BROKER_CONFIGS),
    ...DYNAMIC_BROKER_CONFIGS,
    ...Object.keys(staticLayer(settings)),
    ...Object.keys(clusterDefault),
    ...Object.keys(settings.dynamicConfigs?.broker ?? {}),
  ]);
  const out: DescribedConfig[] = [];
  for (const name of names) {
    if (!wanted(name)) continue;
    const synonyms = configSynonyms(name, settings);
    out.push(describe(name, fromSettings[name] ?? synonyms[0]?.value ?? kafkaDefault(name), synonyms));
  }
  return out;
}

/**
 * The configs a broker started with options (no server.properties) was given: those whose value differs from
 * Samsa's defaults, described as STATIC_BROKER_CONFIG as if server.properties had set them.
 */
export function staticConfigsOf(settings: BrokerSettings): Record<string, string> {
  const given = settingsValues(settings);
  const defaults = settingsValues(defaultBrokerSettings());
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) if (defaults[name] !== value) out[name] = value;
  return out;
}
