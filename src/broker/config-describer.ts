import type { TopicRecord } from '../cluster/topic-metadata.js';
import { BROKER_CONFIGS } from '../config/broker-config.js';
import type { BrokerSettings } from '../config/broker-settings.js';
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
    'samsa.log.tail.cache.bytes': String(s.tailCacheBytes),
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

/** The topic configs by the broker config each falls back to. */
const TOPIC_CONFIG_BY_BROKER_KEY = new Map(Object.values(TOPIC_CONFIGS).map((def) => [def.brokerKey, def]));

/** Kafka's default for a broker config, from the broker table or, for a topic config's synonym, the topic table. */
function kafkaDefault(key: string): string | null {
  return BROKER_CONFIGS[key]?.default ?? TOPIC_CONFIG_BY_BROKER_KEY.get(key)?.default ?? null;
}

/**
 * A broker config's value and where it comes from: server.properties or options, else Kafka's default.
 * `fromSettings` is `settingsValues(settings)`, computed once per request.
 */
function brokerConfigValue(
  settings: BrokerSettings,
  key: string,
  fromSettings: Record<string, string>,
): { value: string | null; source: number } {
  const derived = fromSettings[key];
  const configured = settings.staticConfigs?.[key];
  const fallback = kafkaDefault(key);
  const value = derived ?? configured ?? fallback;
  const isStatic = configured !== undefined || (derived !== undefined && derived !== fallback);
  return { value, source: isStatic ? ConfigSource.STATIC_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG };
}

function brokerConfigKind(key: string): ConfigKind {
  return BROKER_CONFIGS[key]?.type ?? TOPIC_CONFIG_BY_BROKER_KEY.get(key)?.kind ?? 'string';
}

/** Every config of a topic, the override where one is set, in Kafka's synonym order (most specific first). */
export function describeTopicConfigs(
  topic: TopicRecord,
  settings: BrokerSettings,
  keys: readonly string[] | null,
): DescribedConfig[] {
  const names = keys ?? Object.keys(TOPIC_CONFIGS);
  const fromSettings = settingsValues(settings);
  const out: DescribedConfig[] = [];
  for (const name of names) {
    const def = TOPIC_CONFIGS[name];
    if (!def) continue;
    const synonyms: ConfigSynonym[] = [];
    const override = topic.configs[name];
    if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    const broker = brokerConfigValue(settings, def.brokerKey, fromSettings);
    if (broker.source === ConfigSource.STATIC_BROKER_CONFIG) synonyms.push({ name: def.brokerKey, ...broker });
    synonyms.push({ name: def.brokerKey, value: def.default, source: ConfigSource.DEFAULT_CONFIG });
    const effective = synonyms[0]!;
    out.push({
      name,
      value: effective.value,
      source: effective.source,
      readOnly: false,
      configType: CONFIG_TYPE[def.kind],
      synonyms,
    });
  }
  return out;
}

/** The broker's own configs: readable, not alterable at run time (they come from server.properties). */
export function describeBrokerConfigs(settings: BrokerSettings, keys: readonly string[] | null): DescribedConfig[] {
  const names = keys ?? [...new Set([...Object.keys(BROKER_CONFIGS), ...Object.keys(settings.staticConfigs ?? {})])];
  const fromSettings = settingsValues(settings);
  const out: DescribedConfig[] = [];
  for (const name of names) {
    if (!BROKER_CONFIGS[name] && settings.staticConfigs?.[name] === undefined) continue;
    const { value, source } = brokerConfigValue(settings, name, fromSettings);
    const synonyms: ConfigSynonym[] = [{ name, value, source }];
    const fallback = kafkaDefault(name);
    if (source !== ConfigSource.DEFAULT_CONFIG && fallback !== null)
      synonyms.push({ name, value: fallback, source: ConfigSource.DEFAULT_CONFIG });
    out.push({ name, value, source, readOnly: true, configType: CONFIG_TYPE[brokerConfigKind(name)], synonyms });
  }
  return out;
}
