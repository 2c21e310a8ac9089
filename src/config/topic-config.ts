/**
 * Kafka's topic-level configs: names, types, defaults and the broker config each one falls back to.
 * CreateTopics, AlterConfigs and IncrementalAlterConfigs validate against this table; DescribeConfigs lists it.
 *
 * Every Kafka topic config is accepted, so that clients and tools that set them (Kafka Streams, Connect) work.
 * Those Samsa does not act on yet are stored and described but have no effect; broker/topic-settings.ts reads the
 * ones that do.
 */

export type ConfigKind = 'boolean' | 'string' | 'int' | 'long' | 'double' | 'list';

export interface TopicConfigDefinition {
  kind: ConfigKind;
  /** The broker config that supplies the default when the topic has no override (Kafka's synonym). */
  brokerKey: string;
  /** Kafka's default, as text, when the broker config is not set. */
  default: string;
  atLeast?: number;
  /** Allowed values (for a list: of each element). */
  oneOf?: readonly string[];
  /** A list of `partition:brokerId` or the literal `*` (Kafka's ThrottledReplicaListValidator). */
  throttledReplicas?: true;
}

/** Long.MAX_VALUE, Kafka's "never" for durations. */
export const LONG_MAX_TEXT = '9223372036854775807';

const MS_PER_WEEK = String(7 * 24 * 3600_000);

export const TOPIC_CONFIGS: Readonly<Record<string, TopicConfigDefinition>> = {
  'cleanup.policy': { kind: 'list', brokerKey: 'log.cleanup.policy', default: 'delete', oneOf: ['delete', 'compact'] },
  'compression.type': {
    kind: 'string',
    brokerKey: 'compression.type',
    default: 'producer',
    oneOf: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'],
  },
  'compression.gzip.level': { kind: 'int', brokerKey: 'compression.gzip.level', default: '-1', atLeast: -1 },
  'compression.lz4.level': { kind: 'int', brokerKey: 'compression.lz4.level', default: '9', atLeast: 1 },
  'compression.zstd.level': { kind: 'int', brokerKey: 'compression.zstd.level', default: '3', atLeast: -131072 },
  'delete.retention.ms': {
    kind: 'long',
    brokerKey: 'log.cleaner.delete.retention.ms',
    default: '86400000',
    atLeast: 0,
  },
  'file.delete.delay.ms': { kind: 'long', brokerKey: 'log.segment.delete.delay.ms', default: '60000', atLeast: 0 },
  'flush.messages': { kind: 'long', brokerKey: 'log.flush.interval.messages', default: LONG_MAX_TEXT, atLeast: 1 },
  'flush.ms': { kind: 'long', brokerKey: 'log.flush.interval.ms', default: LONG_MAX_TEXT, atLeast: 0 },
  'follower.replication.throttled.replicas': {
    kind: 'list',
    brokerKey: 'follower.replication.throttled.replicas',
    default: '',
    throttledReplicas: true,
  },
  'index.interval.bytes': { kind: 'int', brokerKey: 'log.index.interval.bytes', default: '4096', atLeast: 0 },
  'leader.replication.throttled.replicas': {
    kind: 'list',
    brokerKey: 'leader.replication.throttled.replicas',
    default: '',
    throttledReplicas: true,
  },
  'local.retention.bytes': { kind: 'long', brokerKey: 'log.local.retention.bytes', default: '-2', atLeast: -2 },
  'local.retention.ms': { kind: 'long', brokerKey: 'log.local.retention.ms', default: '-2', atLeast: -2 },
  'max.compaction.lag.ms': {
    kind: 'long',
    brokerKey: 'log.cleaner.max.compaction.lag.ms',
    default: LONG_MAX_TEXT,
    atLeast: 1,
  },
  'max.message.bytes': { kind: 'int', brokerKey: 'message.max.bytes', default: '1048588', atLeast: 0 },
  'message.downconversion.enable': {
    kind: 'boolean',
    brokerKey: 'log.message.downconversion.enable',
    default: 'true',
  },
  'message.format.version': { kind: 'string', brokerKey: 'log.message.format.version', default: '3.0-IV1' },
  'message.timestamp.after.max.ms': {
    kind: 'long',
    brokerKey: 'log.message.timestamp.after.max.ms',
    default: LONG_MAX_TEXT,
    atLeast: 0,
  },
  'message.timestamp.before.max.ms': {
    kind: 'long',
    brokerKey: 'log.message.timestamp.before.max.ms',
    default: LONG_MAX_TEXT,
    atLeast: 0,
  },
  'message.timestamp.difference.max.ms': {
    kind: 'long',
    brokerKey: 'log.message.timestamp.difference.max.ms',
    default: LONG_MAX_TEXT,
    atLeast: 0,
  },
  'message.timestamp.type': {
    kind: 'string',
    brokerKey: 'log.message.timestamp.type',
    default: 'CreateTime',
    oneOf: ['CreateTime', 'LogAppendTime'],
  },
  'min.cleanable.dirty.ratio': { kind: 'double', brokerKey: 'log.cleaner.min.cleanable.ratio', default: '0.5' },
  'min.compaction.lag.ms': { kind: 'long', brokerKey: 'log.cleaner.min.compaction.lag.ms', default: '0', atLeast: 0 },
  'min.insync.replicas': { kind: 'int', brokerKey: 'min.insync.replicas', default: '1', atLeast: 1 },
  preallocate: { kind: 'boolean', brokerKey: 'log.preallocate', default: 'false' },
  'remote.log.copy.disable': { kind: 'boolean', brokerKey: 'remote.log.copy.disable', default: 'false' },
  'remote.log.delete.on.disable': { kind: 'boolean', brokerKey: 'remote.log.delete.on.disable', default: 'false' },
  'remote.storage.enable': { kind: 'boolean', brokerKey: 'remote.storage.enable', default: 'false' },
  'retention.bytes': { kind: 'long', brokerKey: 'log.retention.bytes', default: '-1' },
  'retention.ms': { kind: 'long', brokerKey: 'log.retention.ms', default: MS_PER_WEEK, atLeast: -1 },
  'segment.bytes': { kind: 'int', brokerKey: 'log.segment.bytes', default: '1073741824', atLeast: 14 },
  'segment.index.bytes': { kind: 'int', brokerKey: 'log.index.size.max.bytes', default: '10485760', atLeast: 4 },
  'segment.jitter.ms': { kind: 'long', brokerKey: 'log.roll.jitter.ms', default: '0', atLeast: 0 },
  'segment.ms': { kind: 'long', brokerKey: 'log.roll.ms', default: MS_PER_WEEK, atLeast: 1 },
  'unclean.leader.election.enable': {
    kind: 'boolean',
    brokerKey: 'unclean.leader.election.enable',
    default: 'false',
  },
};

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_MIN_BIG = -(2n ** 63n);
const LONG_MAX_BIG = 2n ** 63n - 1n;

/**
 * Why a value is not valid for a config of this kind, in Kafka's words, or null when it is. Shared by topic
 * configs here and by any other config table with the same kinds.
 */
export function configValueError(
  name: string,
  def: Pick<TopicConfigDefinition, 'kind' | 'atLeast' | 'oneOf' | 'throttledReplicas'>,
  value: string,
): string | null {
  const text = value.trim();
  const invalid = (why: string) => `Invalid value ${value} for configuration ${name}: ${why}`;
  switch (def.kind) {
    case 'boolean':
      return /^(true|false)$/i.test(text) ? null : invalid('Expected value to be either true or false');
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(text)) return invalid(`Not a number of type ${def.kind.toUpperCase()}`);
      const n = BigInt(text);
      const [min, max] = def.kind === 'int' ? [BigInt(INT_MIN), BigInt(INT_MAX)] : [LONG_MIN_BIG, LONG_MAX_BIG];
      if (n < min || n > max) return invalid(`Not a number of type ${def.kind.toUpperCase()}`);
      if (def.atLeast !== undefined && n < BigInt(def.atLeast)) return invalid(`Value must be at least ${def.atLeast}`);
      return null;
    }
    case 'double':
      return text !== '' && Number.isFinite(Number(text)) ? null : invalid('Not a number of type DOUBLE');
    case 'string':
      if (def.oneOf && !def.oneOf.includes(text)) return invalid(`String must be one of: ${def.oneOf.join(', ')}`);
      return null;
    case 'list': {
      if (def.throttledReplicas) return throttledReplicasError(name, value);
      if (!def.oneOf) return null;
      const items = text === '' ? [] : text.split(',').map((s) => s.trim());
      const bad = items.find((i) => !def.oneOf!.includes(i));
      return bad === undefined ? null : invalid(`Invalid value ${bad} for configuration ${name}`);
    }
  }
}

/**
 * Kafka's ThrottledReplicaListValidator: every element `partitionId:brokerId` (empty elements pass, as Kafka's
 * pattern allows them), or the whole value the literal `*`.
 */
function throttledReplicasError(name: string, value: string): string | null {
  const items = value.split(',');
  if (items.every((i) => /^(\d+:\d+)?$/.test(i.trim())) || items.join('').trim() === '*') return null;
  return `Invalid value ${value} for configuration ${name}: must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`;
}

/**
 * The partitions of a topic a throttled-replicas config names for one broker (Kafka's parseThrottledPartitions):
 * 'all' for `*`. A value that does not parse names none.
 */
export function throttledPartitionsOf(value: string | undefined, brokerId: number): Set<number> | 'all' {
  const text = value?.trim() ?? '';
  if (text === '*') return 'all';
  const partitions = new Set<number>();
  if (text === '') return partitions;
  for (const item of text.split(',')) {
    const match = /^(\d+):(\d+)$/.exec(item.trim());
    if (match && Number(match[2]) === brokerId) partitions.add(Number(match[1]));
  }
  return partitions;
}

/** Checks topic config overrides; returns Kafka's INVALID_CONFIG message for the first bad one, or null. */
export function topicConfigsError(configs: Record<string, string>): string | null {
  for (const [name, value] of Object.entries(configs)) {
    const def = TOPIC_CONFIGS[name];
    if (!def) return `Unknown topic config name: ${name}`;
    const error = configValueError(name, def, value);
    if (error) return error;
  }
  return null;
}
