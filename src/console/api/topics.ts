import { isInternalTopic } from '../../cluster/topic-name.js';
import type { ApiRoute } from '../api-route.js';
import { ApiError, checkChange, fields, intParam, ok } from '../api-route.js';
import type { ConsoleBackend } from '../console-backend.js';

/** Partitions a topic created in the console may have (the broker's own limit is far higher). */
export const MAX_CONSOLE_PARTITIONS = 10_000;

/** The partitions of a topic hosted here with their offsets and sizes; -1 where no log is open. */
function partitionsOf(backend: ConsoleBackend, name: string) {
  const topic = backend.topics.get(name)!;
  return topic.partitions.map((p) => {
    const log = backend.logs.getLog(name, p.partition);
    return {
      partition: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      logStartOffset: log?.logStartOffset ?? -1,
      highWatermark: log?.highWatermark ?? -1,
      lastStableOffset: log?.lastStableOffset ?? -1,
      sizeBytes: log?.sizeInBytes ?? -1,
      segmentCount: log?.segmentCount ?? -1,
    };
  });
}

function topicOrThrow(backend: ConsoleBackend, name: string) {
  const topic = backend.topics.get(name);
  if (!topic) throw new ApiError(404, 'UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`);
  return topic;
}

export const listTopicsRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/topics$/,
  changes: false,
  handle(backend) {
    const topics = [...backend.topics.all()]
      .map((t) => {
        const partitions = partitionsOf(backend, t.name);
        return {
          name: t.name,
          id: t.id,
          internal: isInternalTopic(t.name),
          partitionCount: partitions.length,
          replicationFactor: t.partitions[0]?.replicas.length ?? 0,
          // Records between the log start and the high watermark (compaction and aborted batches leave gaps).
          offsetSpan: partitions.reduce((sum, p) => sum + Math.max(0, p.highWatermark - p.logStartOffset), 0),
          sizeBytes: partitions.reduce((sum, p) => sum + Math.max(0, p.sizeBytes), 0),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    return ok({ topics });
  },
};

export const describeTopicRoute: ApiRoute = {
  method: 'GET',
  path: /^\/api\/topics\/([^/]+)$/,
  changes: false,
  handle(backend, { params }) {
    const topic = topicOrThrow(backend, params[0]!);
    return ok({
      name: topic.name,
      id: topic.id,
      internal: isInternalTopic(topic.name),
      partitions: partitionsOf(backend, topic.name),
      configs: backend.topicConfigs(topic),
    });
  },
};

/** CreateTopics: `{ name, partitions?, replicationFactor?, configs? }`; absent counts take the broker's defaults. */
export const createTopicRoute: ApiRoute = {
  method: 'POST',
  path: /^\/api\/topics$/,
  changes: true,
  async handle(backend, { body }) {
    const f = fields(body);
    if (typeof f.name !== 'string' || f.name === '') throw new ApiError(400, 'INVALID_REQUEST', 'name is required');
    const partitions = intParam(f.partitions, 'partitions', -1, -1, MAX_CONSOLE_PARTITIONS);
    const replicationFactor = intParam(f.replicationFactor, 'replicationFactor', -1, -1, 32767);
    const configs: Record<string, string> = {};
    if (f.configs !== undefined) {
      for (const [key, value] of Object.entries(fields(f.configs))) {
        if (typeof value !== 'string')
          throw new ApiError(400, 'INVALID_REQUEST', `config ${key}: the value must be a string`);
        configs[key] = value;
      }
    }
    checkChange(await backend.createTopic(f.name, partitions, replicationFactor, configs));
    return ok({ name: f.name }, 201);
  },
};

export const deleteTopicRoute: ApiRoute = {
  method: 'DELETE',
  path: /^\/api\/topics\/([^/]+)$/,
  changes: true,
  async handle(backend, { params }) {
    checkChange(await backend.deleteTopic(params[0]!));
    return ok({ name: params[0] });
  },
};

/** IncrementalAlterConfigs on one topic config: `{ value }` sets the override, `{ value: null }` removes it. */
export const alterTopicConfigRoute: ApiRoute = {
  method: 'PUT',
  path: /^\/api\/topics\/([^/]+)\/configs\/([^/]+)$/,
  changes: true,
  async handle(backend, { params, body }) {
    const { value } = fields(body);
    if (value !== null && typeof value !== 'string')
      throw new ApiError(400, 'INVALID_REQUEST', 'value must be a string, or null to remove the override');
    const topic = topicOrThrow(backend, params[0]!);
    checkChange(await backend.alterTopicConfig(topic.name, params[1]!, value));
    return ok({ name: params[1], value });
  },
};
