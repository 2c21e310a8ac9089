/**
 * Kafka's dynamic broker configs (KIP-226): the broker configs AlterConfigs and IncrementalAlterConfigs may change
 * at run time, per broker (resource name: the broker id) or as the cluster-wide default (resource name ""). They
 * are kept in the metadata store and take precedence over server.properties: dynamic per-broker, then dynamic
 * cluster default, then static, then Kafka's default.
 */
import type { DynamicConfigLayers } from '../cluster/broker-config-metadata.js';
import {
  BROKER_CONFIGS,
  IGNORED_KAFKA_CONFIGS,
  LISTENER_CONNECTION_KEY,
  parseMaxConnectionsPerIpOverrides,
  SECURITY_KEY,
} from './broker-config.js';
import { type BrokerSettings, defaultBrokerSettings } from './broker-settings.js';
import { type ConfigKind, configValueError, LONG_MAX_TEXT, TOPIC_CONFIGS } from './topic-config.js';

interface DynamicDefinition {
  kind: ConfigKind;
  default?: string;
  atLeast?: number;
  oneOf?: readonly string[];
}

/**
 * Kafka's DynamicLogConfig: the first broker synonym of each topic config. A change is the new default of every
 * topic that does not override it.
 */
const DYNAMIC_LOG_CONFIGS = [
  'log.segment.bytes',
  'log.roll.ms',
  'log.roll.jitter.ms',
  'log.index.size.max.bytes',
  'log.flush.interval.messages',
  'log.flush.interval.ms',
  'log.retention.bytes',
  'log.retention.ms',
  'message.max.bytes',
  'log.index.interval.bytes',
  'log.cleaner.delete.retention.ms',
  'log.cleaner.min.compaction.lag.ms',
  'log.cleaner.max.compaction.lag.ms',
  'log.segment.delete.delay.ms',
  'log.cleaner.min.cleanable.ratio',
  'log.cleanup.policy',
  'unclean.leader.election.enable',
  'min.insync.replicas',
  'compression.type',
  'compression.gzip.level',
  'compression.lz4.level',
  'compression.zstd.level',
  'log.preallocate',
  'log.message.format.version',
  'log.message.timestamp.type',
  'log.message.timestamp.before.max.ms',
  'log.message.timestamp.after.max.ms',
  // Kafka 3.x's, still in Samsa's topic config table.
  'log.message.timestamp.difference.max.ms',
  'log.message.downconversion.enable',
  'log.local.retention.ms',
  'log.local.retention.bytes',
];

/**
 * Kafka's other dynamic configs that Samsa accepts. Threads, cleaner buffers, the log dirs' copy rate and metric
 * reporters have no effect here (Samsa has no such pools or quotas); they are stored and described as Kafka does,
 * as the same keys in server.properties are accepted without effect. The connection limits and the replication
 * throttled rates (KIP-73) among them apply (applyDynamicBrokerConfigs).
 */
const OTHER_DYNAMIC_CONFIGS: Readonly<Record<string, DynamicDefinition>> = {
  'log.cleaner.backoff.ms': { kind: 'long', default: '15000', atLeast: 0 },
  'log.cleaner.threads': { kind: 'int', default: '1', atLeast: 0 },
  'log.cleaner.dedupe.buffer.size': { kind: 'long', default: '134217728' },
  'log.cleaner.io.buffer.load.factor': { kind: 'double', default: '0.9' },
  'log.cleaner.io.buffer.size': { kind: 'int', default: '524288', atLeast: 0 },
  'log.cleaner.io.max.bytes.per.second': { kind: 'double', default: '1.7976931348623157E308' },
  'num.io.threads': { kind: 'int', default: '8', atLeast: 1 },
  'num.network.threads': { kind: 'int', default: '3', atLeast: 1 },
  'num.replica.fetchers': { kind: 'int', default: '1' },
  'num.recovery.threads.per.data.dir': { kind: 'int', default: '2', atLeast: 1 },
  'background.threads': { kind: 'int', default: '10', atLeast: 1 },
  'max.connections': { kind: 'int', default: '2147483647', atLeast: 0 },
  'max.connection.creation.rate': { kind: 'int', default: '2147483647', atLeast: 0 },
  'max.connections.per.ip': { kind: 'int', default: '2147483647', atLeast: 0 },
  'max.connections.per.ip.overrides': { kind: 'string', default: '' },
  'leader.replication.throttled.rate': { kind: 'long', default: '9223372036854775807', atLeast: 0 },
  'follower.replication.throttled.rate': { kind: 'long', default: '9223372036854775807', atLeast: 0 },
  'replica.alter.log.dirs.io.max.bytes.per.second': { kind: 'long', default: '9223372036854775807', atLeast: 0 },
  'metric.reporters': { kind: 'list', default: '' },
  'transaction.partition.verification.enable': { kind: 'boolean', default: 'true' },
};

/**
 * Kafka's SASL tuning among its dynamic listener configs: timings of Kerberos and token refresh. They enable
 * nothing (the listeners and their protocols are not dynamic), so they are kept without effect; Kafka sets them
 * per broker only.
 */
const PER_BROKER_CONFIGS: Readonly<Record<string, DynamicDefinition>> = {
  'sasl.kerberos.ticket.renew.window.factor': { kind: 'double', default: '0.8' },
  'sasl.kerberos.ticket.renew.jitter': { kind: 'double', default: '0.05' },
  'sasl.kerberos.min.time.before.relogin': { kind: 'long', default: '60000' },
  'sasl.login.refresh.window.factor': { kind: 'double', default: '0.8' },
  'sasl.login.refresh.window.jitter': { kind: 'double', default: '0.05' },
  'sasl.login.refresh.min.period.seconds': { kind: 'int', default: '60', atLeast: 0 },
  'sasl.login.refresh.buffer.seconds': { kind: 'int', default: '300', atLeast: 0 },
};

/** The broker configs that can change at run time; every other known broker config is read-only. */
export const DYNAMIC_BROKER_CONFIGS: ReadonlySet<string> = new Set([
  ...DYNAMIC_LOG_CONFIGS,
  ...Object.keys(OTHER_DYNAMIC_CONFIGS),
  ...Object.keys(PER_BROKER_CONFIGS),
]);

/**
 * Kafka configs that are not dynamic in Samsa although Kafka reconfigures them: the listeners themselves and
 * security settings other than a listener's key and trust stores, and the producer state of logs already open.
 */
const READ_ONLY_IN_SAMSA = new Set([
  'listeners',
  'advertised.listeners',
  'listener.security.protocol.map',
  'producer.id.expiration.ms',
  'zookeeper.connect',
]);

const TOPIC_CONFIG_BY_BROKER_KEY = new Map(Object.values(TOPIC_CONFIGS).map((def) => [def.brokerKey, def]));

/**
 * What Samsa knows of a broker config: its kind, Kafka's default (undefined: none) and its bounds. Undefined for a
 * name that is no broker config Samsa knows.
 */
export function brokerConfigDefinition(name: string): DynamicDefinition | undefined {
  const broker = BROKER_CONFIGS[name];
  if (broker)
    return {
      kind: broker.type,
      ...(broker.default !== undefined ? { default: broker.default } : {}),
      ...(broker.atLeast !== undefined ? { atLeast: broker.atLeast } : {}),
      ...(broker.oneOf ? { oneOf: broker.oneOf } : {}),
    };
  const other = OTHER_DYNAMIC_CONFIGS[name] ?? PER_BROKER_CONFIGS[name];
  if (other) return other;
  return TOPIC_CONFIG_BY_BROKER_KEY.get(name);
}

/**
 * A listener's key store and trust store (Kafka's dynamic listener SSL configs): set per broker with the
 * listener's prefix, they renew the listener's certificates without a restart.
 */
export const RELOADABLE_LISTENER_SSL_KEY =
  /^listener\.name\.[^.]+\.ssl\.(keystore\.(type|location|password|key|certificate\.chain)|key\.password|truststore\.(type|location|password|certificates))$/;

/** Whether Kafka's broker config of this name exists but cannot change at run time (here). */
function isReadOnly(name: string): boolean {
  if (DYNAMIC_BROKER_CONFIGS.has(name) || RELOADABLE_LISTENER_SSL_KEY.test(name) || LISTENER_CONNECTION_KEY.test(name))
    return false;
  return (
    READ_ONLY_IN_SAMSA.has(name) ||
    SECURITY_KEY.test(name) ||
    name.startsWith('listener.name.') ||
    BROKER_CONFIGS[name] !== undefined ||
    IGNORED_KAFKA_CONFIGS.has(name)
  );
}

/**
 * Why a broker resource's dynamic configs cannot be stored, in Kafka's words (Kafka answers INVALID_REQUEST with
 * them), or null. `perBroker`: set on a broker id rather than as the cluster-wide default. Names that are no
 * broker config Samsa knows are accepted and kept, as Kafka keeps custom configs.
 */
export function dynamicBrokerConfigsError(configs: Record<string, string>, perBroker: boolean): string | null {
  const names = Object.keys(configs);
  const readOnly = names.filter(isReadOnly);
  if (readOnly.length > 0) return `Cannot update these configs dynamically: [${readOnly.join(', ')}]`;
  for (const [name, value] of Object.entries(configs)) {
    // A listener's own connection limits are Kafka's ListenerReconfigurable configs: positive ints.
    if (LISTENER_CONNECTION_KEY.test(name)) {
      const error = configValueError(name, { kind: 'int', atLeast: 1 }, value);
      if (error) return error;
    }
    const def = brokerConfigDefinition(name);
    if (!def) continue;
    const error = configValueError(name, def, value);
    if (error) return error;
    if (name === 'max.connections.per.ip.overrides') {
      try {
        parseMaxConnectionsPerIpOverrides(value);
      } catch (e) {
        return (e as Error).message;
      }
    }
  }
  const brokerOnly = names.filter(
    (name) => PER_BROKER_CONFIGS[name] !== undefined || RELOADABLE_LISTENER_SSL_KEY.test(name),
  );
  if (!perBroker && brokerOnly.length > 0)
    return `Cannot update these configs at default cluster level, broker id must be specified: [${brokerOnly.join(', ')}]`;
  return null;
}

/** The settings a dynamic broker config changes, as server.properties (or the options) set them. */
export type DynamicallyConfigurable = Pick<
  BrokerSettings,
  | 'logDefaults'
  | 'logFlushIntervalMs'
  | 'logCleanerBackoffMs'
  | 'messageMaxBytes'
  | 'logMessageTimestampType'
  | 'minInsyncReplicas'
  | 'maxConnections'
  | 'maxConnectionCreationRate'
  | 'maxConnectionsPerIp'
  | 'maxConnectionsPerIpOverrides'
>;

export function dynamicallyConfigurable(settings: BrokerSettings): DynamicallyConfigurable {
  return {
    logDefaults: { ...settings.logDefaults },
    logFlushIntervalMs: settings.logFlushIntervalMs,
    logCleanerBackoffMs: settings.logCleanerBackoffMs,
    messageMaxBytes: settings.messageMaxBytes,
    logMessageTimestampType: settings.logMessageTimestampType,
    minInsyncReplicas: settings.minInsyncReplicas,
    maxConnections: settings.maxConnections,
    maxConnectionCreationRate: settings.maxConnectionCreationRate,
    maxConnectionsPerIp: settings.maxConnectionsPerIp,
    maxConnectionsPerIpOverrides: settings.maxConnectionsPerIpOverrides,
  };
}

/**
 * Sets on `settings` the values the dynamic configs give, over `base` (the static values). The object is changed
 * in place, so that every part of the broker holding it sees the change at once.
 */
export function applyDynamicBrokerConfigs(
  settings: BrokerSettings,
  base: DynamicallyConfigurable,
  layers: DynamicConfigLayers,
): void {
  const text = (name: string) => layers.broker[name] ?? layers.clusterDefault[name];
  const number = (name: string, fallback: number): number => {
    const raw = text(name)?.trim();
    if (raw === undefined) return fallback;
    if (raw === LONG_MAX_TEXT) return Number.POSITIVE_INFINITY;
    const n = Number(raw);
    // Values were checked when stored; one that no longer parses (a newer rule) leaves the static value.
    return Number.isFinite(n) ? n : fallback;
  };
  const d = base.logDefaults;
  // log.retention.ms and log.roll.ms take precedence over their .minutes and .hours synonyms, which are not
  // dynamic: set dynamically, they win over whichever of those server.properties sets.
  const retentionMs = number('log.retention.ms', d.retentionMs);
  settings.logDefaults = {
    ...d,
    segmentBytes: number('log.segment.bytes', d.segmentBytes),
    segmentMs: number('log.roll.ms', d.segmentMs),
    retentionMs: retentionMs < 0 ? -1 : retentionMs,
    retentionBytes: number('log.retention.bytes', d.retentionBytes),
    indexIntervalBytes: number('log.index.interval.bytes', d.indexIntervalBytes),
    flushMessages: number('log.flush.interval.messages', d.flushMessages),
  };
  settings.logFlushIntervalMs = number('log.flush.interval.ms', base.logFlushIntervalMs);
  settings.logCleanerBackoffMs = number('log.cleaner.backoff.ms', base.logCleanerBackoffMs);
  settings.messageMaxBytes = number('message.max.bytes', base.messageMaxBytes);
  const timestampType = text('log.message.timestamp.type')?.trim();
  settings.logMessageTimestampType =
    timestampType === 'CreateTime' || timestampType === 'LogAppendTime' ? timestampType : base.logMessageTimestampType;
  settings.minInsyncReplicas = number('min.insync.replicas', base.minInsyncReplicas);
  // As at start-up, Samsa keeps a bound on connections below Kafka's unbounded default.
  settings.maxConnections =
    text('max.connections') === undefined
      ? base.maxConnections
      : Math.min(number('max.connections', base.maxConnections), defaultBrokerSettings().maxConnections);
  settings.maxConnectionCreationRate = number('max.connection.creation.rate', base.maxConnectionCreationRate);
  settings.maxConnectionsPerIp = number('max.connections.per.ip', base.maxConnectionsPerIp);
  const overrides = text('max.connections.per.ip.overrides');
  try {
    settings.maxConnectionsPerIpOverrides =
      overrides === undefined ? base.maxConnectionsPerIpOverrides : parseMaxConnectionsPerIpOverrides(overrides);
  } catch {
    settings.maxConnectionsPerIpOverrides = base.maxConnectionsPerIpOverrides;
  }
  // KIP-73: the replication quotas read these at every fetch, through the replication settings object.
  settings.replication.leaderReplicationThrottledRate = number(
    'leader.replication.throttled.rate',
    Number.POSITIVE_INFINITY,
  );
  settings.replication.followerReplicationThrottledRate = number(
    'follower.replication.throttled.rate',
    Number.POSITIVE_INFINITY,
  );
  settings.dynamicConfigs = layers;
}
