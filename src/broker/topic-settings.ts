import type { TopicMetadata, TopicRecord } from '../cluster/topic-metadata.js';
import type { LogConfig } from '../storage/partition-log.js';
import { topicCodec } from '../storage/recompress.js';
import type { BrokerSettings } from './broker-settings.js';

/** A topic config override as a number, or the broker default when absent or not a number. */
function numberOverride(topic: TopicRecord | undefined, key: string, fallback: number): number {
  const raw = topic?.configs[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isFinite(n) ? n : fallback;
}

/** The settings the produce path applies to a topic: its overrides over the broker's defaults. */
export function produceSettings(topic: TopicRecord | undefined, settings: BrokerSettings) {
  const type = topic?.configs['message.timestamp.type'];
  return {
    maxMessageBytes: numberOverride(topic, 'max.message.bytes', settings.messageMaxBytes),
    timestampBeforeMaxMs: Math.min(
      numberOverride(topic, 'message.timestamp.before.max.ms', Number.POSITIVE_INFINITY),
      numberOverride(topic, 'message.timestamp.difference.max.ms', Number.POSITIVE_INFINITY),
    ),
    timestampAfterMaxMs: Math.min(
      numberOverride(topic, 'message.timestamp.after.max.ms', Number.POSITIVE_INFINITY),
      numberOverride(topic, 'message.timestamp.difference.max.ms', Number.POSITIVE_INFINITY),
    ),
    minInsyncReplicas: numberOverride(topic, 'min.insync.replicas', settings.minInsyncReplicas),
    // The topic's compression.type, else the broker's (server.properties), else `producer`.
    codec: topicCodec(topic?.configs['compression.type'] ?? settings.staticConfigs?.['compression.type']),
    timestampType: type === 'LogAppendTime' || type === 'CreateTime' ? type : settings.logMessageTimestampType,
  } as const;
}

/** The log config of a topic: its overrides (segment.bytes, retention.ms, ...) over the broker's defaults. */
export function logConfigFor(topic: TopicRecord | undefined, settings: BrokerSettings): LogConfig {
  const d = settings.logDefaults;
  // A compacted-only topic keeps its records until the cleaner removes superseded keys; it is never trimmed by
  // time or size. Samsa has no cleaner yet, so such a topic keeps everything.
  const policy = (topic?.configs['cleanup.policy'] ?? 'delete').split(',').map((p) => p.trim());
  const deletes = policy.includes('delete');
  return {
    segmentBytes: numberOverride(topic, 'segment.bytes', d.segmentBytes),
    segmentMs: numberOverride(topic, 'segment.ms', d.segmentMs),
    retentionMs: deletes ? numberOverride(topic, 'retention.ms', d.retentionMs) : -1,
    retentionBytes: deletes ? numberOverride(topic, 'retention.bytes', d.retentionBytes) : -1,
    indexIntervalBytes: numberOverride(topic, 'index.interval.bytes', d.indexIntervalBytes),
    flushMessages: numberOverride(topic, 'flush.messages', d.flushMessages),
  };
}

/** How many times a config change is retried when the topic record changes under it (another writer). */
const CONFIG_UPDATE_ATTEMPTS = 5;

/**
 * Replaces a topic's config overrides with `change(current)`, compare-and-set against concurrent writers.
 * Returns false when the topic disappeared or kept changing.
 */
export async function updateTopicConfigs(
  topics: TopicMetadata,
  name: string,
  change: (current: Record<string, string>) => Record<string, string>,
): Promise<boolean> {
  for (let attempt = 0; attempt < CONFIG_UPDATE_ATTEMPTS; attempt++) {
    const topic = topics.get(name);
    if (!topic) return false;
    if (await topics.update({ ...topic, configs: change(topic.configs) })) return true;
  }
  return false;
}
