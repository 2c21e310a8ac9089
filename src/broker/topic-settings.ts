import type { TopicRecord } from '../cluster/topic-metadata.js';
import type { LogConfig } from '../storage/partition-log.js';
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
    timestampType: type === 'LogAppendTime' || type === 'CreateTime' ? type : settings.logMessageTimestampType,
  } as const;
}

/** The log config of a topic: its overrides (segment.bytes, retention.ms, ...) over the broker's defaults. */
export function logConfigFor(topic: TopicRecord | undefined, settings: BrokerSettings): LogConfig {
  const d = settings.logDefaults;
  return {
    segmentBytes: numberOverride(topic, 'segment.bytes', d.segmentBytes),
    segmentMs: numberOverride(topic, 'segment.ms', d.segmentMs),
    retentionMs: numberOverride(topic, 'retention.ms', d.retentionMs),
    retentionBytes: numberOverride(topic, 'retention.bytes', d.retentionBytes),
    indexIntervalBytes: numberOverride(topic, 'index.interval.bytes', d.indexIntervalBytes),
    flushMessages: numberOverride(topic, 'flush.messages', d.flushMessages),
  };
}
