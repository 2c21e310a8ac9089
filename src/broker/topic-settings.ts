import type { TopicRecord } from '../cluster/topic-metadata.js';
import type { BrokerSettings } from '../config/broker-settings.js';
import { configuredBrokerConfig } from '../config/broker-settings.js';
import { TOPIC_CONFIGS } from '../config/topic-config.js';
import { DEFAULT_DELETE_RETENTION_MS, DEFAULT_MIN_CLEANABLE_DIRTY_RATIO } from '../storage/log-cleaner.js';
import { DEFAULT_FILE_DELETE_DELAY_MS, type LogConfig } from '../storage/partition-log.js';
import { topicCodec } from '../storage/recompress.js';

/**
 * A topic config as it applies to a topic: its override, else the broker config it falls back to when that is
 * set (dynamically or in server.properties). Configs whose broker default the settings carry resolved
 * (retention, segments) take that default through `numberOverride` instead.
 */
function topicConfig(topic: TopicRecord | undefined, settings: BrokerSettings, name: string): string | undefined {
  const brokerKey = TOPIC_CONFIGS[name]?.brokerKey;
  return topic?.configs[name] ?? (brokerKey === undefined ? undefined : configuredBrokerConfig(settings, brokerKey));
}

/** A topic config as a number (see `topicConfig`), or `fallback` when unset or not a number. */
function numberOverride(
  topic: TopicRecord | undefined,
  settings: BrokerSettings,
  name: string,
  fallback: number,
): number {
  const raw = topicConfig(topic, settings, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

/** The topic's cleanup.policy as a list (delete, compact or both). */
function cleanupPolicies(topic: TopicRecord | undefined, settings: BrokerSettings): string[] {
  return (topicConfig(topic, settings, 'cleanup.policy') ?? 'delete').split(',').map((p) => p.trim());
}

export type ProduceSettings = ReturnType<typeof resolveProduceSettings>;

function resolveProduceSettings(topic: TopicRecord | undefined, settings: BrokerSettings) {
  const type = topicConfig(topic, settings, 'message.timestamp.type');
  const number = (name: string, fallback: number) => numberOverride(topic, settings, name, fallback);
  const difference = number('message.timestamp.difference.max.ms', Number.POSITIVE_INFINITY);
  return {
    maxMessageBytes: number('max.message.bytes', settings.messageMaxBytes),
    timestampBeforeMaxMs: Math.min(number('message.timestamp.before.max.ms', Number.POSITIVE_INFINITY), difference),
    timestampAfterMaxMs: Math.min(number('message.timestamp.after.max.ms', Number.POSITIVE_INFINITY), difference),
    minInsyncReplicas: number('min.insync.replicas', settings.minInsyncReplicas),
    // The topic's compression.type, else the broker's, else `producer` (batches stored as sent).
    codec: topicCodec(topicConfig(topic, settings, 'compression.type')),
    timestampType: type === 'LogAppendTime' || type === 'CreateTime' ? type : settings.logMessageTimestampType,
    requireKeys: cleanupPolicies(topic, settings).includes('compact'),
  } as const;
}

/**
 * Produce settings by topic record, with the dynamic broker configs they were resolved under: records and the
 * dynamic configs are replaced, never changed, on every update, so a cached entry is current while both match.
 */
const produceSettingsCache = new WeakMap<
  TopicRecord,
  { resolved: ProduceSettings; dynamic: BrokerSettings['dynamicConfigs'] }
>();

/** The settings the produce path applies to a topic: its overrides over the broker's configs. */
export function produceSettings(topic: TopicRecord, settings: BrokerSettings): ProduceSettings {
  const cached = produceSettingsCache.get(topic);
  if (cached && cached.dynamic === settings.dynamicConfigs) return cached.resolved;
  const resolved = resolveProduceSettings(topic, settings);
  produceSettingsCache.set(topic, { resolved, dynamic: settings.dynamicConfigs });
  return resolved;
}

/** The log config of a topic: its overrides (segment.bytes, retention.ms, ...) over the broker's defaults. */
export function logConfigFor(topic: TopicRecord | undefined, settings: BrokerSettings): LogConfig {
  const d = settings.logDefaults;
  const number = (name: string, fallback: number) => numberOverride(topic, settings, name, fallback);
  // A compacted-only topic keeps its records until the cleaner removes superseded keys; it is never trimmed by
  // time or size.
  const policy = cleanupPolicies(topic, settings);
  const deletes = policy.includes('delete');
  return {
    segmentBytes: number('segment.bytes', d.segmentBytes),
    segmentMs: number('segment.ms', d.segmentMs),
    retentionMs: deletes ? number('retention.ms', d.retentionMs) : -1,
    retentionBytes: deletes ? number('retention.bytes', d.retentionBytes) : -1,
    indexIntervalBytes: number('index.interval.bytes', d.indexIntervalBytes),
    flushMessages: number('flush.messages', d.flushMessages),
    compact: policy.includes('compact'),
    deleteRetentionMs: number('delete.retention.ms', DEFAULT_DELETE_RETENTION_MS),
    minCleanableDirtyRatio: number('min.cleanable.dirty.ratio', DEFAULT_MIN_CLEANABLE_DIRTY_RATIO),
    minCompactionLagMs: number('min.compaction.lag.ms', 0),
    fileDeleteDelayMs: number('file.delete.delay.ms', DEFAULT_FILE_DELETE_DELAY_MS),
  };
}
