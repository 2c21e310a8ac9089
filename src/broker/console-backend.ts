import type { TopicRecord } from '../cluster/topic-metadata.js';
import { ZERO_UUID } from '../cluster/topic-metadata.js';
import type { ChangeResult, ConsoleBackend, ConsoleBroker, ConsoleConfig } from '../console/console-backend.js';
import { ErrorCode } from '../protocol/errors.js';
import type { RequestHeader } from '../protocol/generated/messages/request-header.js';
import type { Connection } from '../server/connection.js';
import type { ApiHandler, BrokerServices, RequestContext } from './api-handler.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { ConfigResourceType, ConfigSource, describeTopicConfigs } from './config-describer.js';
import { createTopicsHandler } from './handlers/create-topics.js';
import { deleteTopicsHandler } from './handlers/delete-topics.js';
import { incrementalAlterConfigsHandler } from './handlers/incremental-alter-configs.js';

/** The client id the console's calls carry, as a Kafka client's would. */
const CONSOLE_CLIENT_ID = 'samsa-console';

/** How long the console's CreateTopics and DeleteTopics wait, as the admin client's default request timeout. */
const CONSOLE_TIMEOUT_MS = 30_000;

/** IncrementalAlterConfigs' operations (KIP-339). */
const SET = 0;
const DELETE = 1;

const SOURCE_NAMES = new Map<number, string>(Object.entries(ConfigSource).map(([name, code]) => [code, name]));

/** The principal the console's calls count as for client quotas: the unauthenticated one, as Kafka names it. */
const CONSOLE_PRINCIPAL = 'User:ANONYMOUS';

/**
 * The console's calls have no connection. The admin handlers they go to (CreateTopics, DeleteTopics,
 * IncrementalAlterConfigs) use it only for the controller mutation quota (KIP-599): its principal, and a throttle
 * that has no connection to mute here. Anything else would fail loudly rather than act on another client.
 */
const NO_CONNECTION = new Proxy(
  {},
  {
    get(_target, property) {
      if (property === 'principal') return CONSOLE_PRINCIPAL;
      if (property === 'throttle') return () => {};
      throw new Error(`a console call used the connection (${String(property)}); only admin handlers are called`);
    },
  },
) as Connection;

/** Runs one of the broker's API handlers in the process, with a typed request, as a client's request would. */
async function call<Req, Res>(
  handler: ApiHandler,
  services: BrokerServices,
  apiVersion: number,
  request: Req,
): Promise<Res> {
  const header: RequestHeader = {
    requestApiKey: handler.api.key,
    requestApiVersion: apiVersion,
    correlationId: 0,
    clientId: CONSOLE_CLIENT_ID,
  };
  const ctx: RequestContext = { header, apiVersion, connection: NO_CONNECTION, broker: services };
  return (await handler.handle(ctx, request)) as Res;
}

interface TopicResult {
  errorCode: number;
  errorMessage: string | null;
}

function first(results: TopicResult[]): ChangeResult {
  const r = results[0];
  return r
    ? { errorCode: r.errorCode, errorMessage: r.errorMessage }
    : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null };
}

/** The web console's view of a running broker: its services for reads, its handlers for changes. */
export function consoleBackend(
  services: BrokerServices,
  metrics: BrokerMetrics,
  info: { version: string; bootstrap: () => { host: string; port: number } },
): ConsoleBackend {
  const { settings } = services;
  return {
    settings,
    clusterId: services.clusterId,
    version: info.version,
    topics: services.topics,
    logs: services.logs,
    groups: services.groups,
    brokers(): ConsoleBroker[] {
      return [{ nodeId: settings.nodeId, ...info.bootstrap(), rack: settings.rack ?? null }];
    },
    topicConfigs(topic: TopicRecord): ConsoleConfig[] {
      return describeTopicConfigs(topic, settings, null).map((c) => ({
        name: c.name,
        value: c.sensitive ? null : c.value,
        source: SOURCE_NAMES.get(c.source) ?? 'UNKNOWN',
        readOnly: c.readOnly,
        sensitive: c.sensitive,
      }));
    },
    async createTopic(name, numPartitions, replicationFactor, configs) {
      const response = await call<unknown, { topics: TopicResult[] }>(createTopicsHandler, services, 7, {
        topics: [
          {
            name,
            numPartitions,
            replicationFactor,
            assignments: [],
            configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
          },
        ],
        timeoutMs: CONSOLE_TIMEOUT_MS,
        validateOnly: false,
      });
      return first(response.topics);
    },
    async deleteTopic(name) {
      const response = await call<unknown, { responses: TopicResult[] }>(deleteTopicsHandler, services, 6, {
        topics: [{ name, topicId: ZERO_UUID }],
        topicNames: [],
        timeoutMs: CONSOLE_TIMEOUT_MS,
      });
      return first(response.responses);
    },
    async alterTopicConfig(topic, name, value) {
      const response = await call<unknown, { responses: TopicResult[] }>(incrementalAlterConfigsHandler, services, 1, {
        resources: [
          {
            resourceType: ConfigResourceType.TOPIC,
            resourceName: topic,
            configs: [{ name, configOperation: value === null ? DELETE : SET, value }],
          },
        ],
        validateOnly: false,
      });
      return first(response.responses);
    },
    throughput: () => metrics.throughputTotals(),
  };
}
