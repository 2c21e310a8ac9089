import { topicNameError } from '../cluster/topic-name.js';
import { topicConfigsError } from '../config/topic-config.js';
import { ErrorCode } from '../protocol/errors.js';
import { type BrokerServices, repeatedNames } from './api-handler.js';
import { ConfigResourceType } from './config-describer.js';

export interface ConfigChangeResult {
  errorCode: number;
  errorMessage: string | null;
}

const OK: ConfigChangeResult = { errorCode: ErrorCode.NONE, errorMessage: null };

function fail(errorCode: number, errorMessage: string): ConfigChangeResult {
  return { errorCode, errorMessage };
}

/** Thrown by a change function to reject an operation with Kafka's error code. */
export class ConfigChangeRejected extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface ConfigResource {
  resourceType: number;
  resourceName: string;
}

/**
 * The loop AlterConfigs and IncrementalAlterConfigs share: a resource named twice in the request gets
 * INVALID_REQUEST (every occurrence); each other resource gets the outcome of its change, applied in order.
 * `changeFor` gives the change of a resource, or a result to answer with instead (a request-level problem).
 */
export async function alterResources<R extends ConfigResource>(
  broker: BrokerServices,
  resources: readonly R[],
  validateOnly: boolean,
  changeFor: (resource: R) => ((current: Record<string, string>) => Record<string, string>) | ConfigChangeResult,
): Promise<Array<ConfigResource & ConfigChangeResult>> {
  const key = (r: R) => `${r.resourceType}:${r.resourceName}`;
  const repeated = repeatedNames(resources, key);
  const responses: Array<ConfigResource & ConfigChangeResult> = [];
  for (const r of resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    if (repeated.has(key(r))) {
      responses.push({ ...base, ...fail(ErrorCode.INVALID_REQUEST, 'Duplicate resource in request') });
      continue;
    }
    const change = changeFor(r);
    const result =
      typeof change === 'function'
        ? await changeResourceConfigs(broker, r.resourceType, r.resourceName, validateOnly, change)
        : change;
    responses.push({ ...base, ...result });
  }
  return responses;
}

/**
 * Applies a change to the config overrides of one resource, as AlterConfigs and IncrementalAlterConfigs do:
 * topics get their overrides validated then stored (unless validateOnly); broker configs come from
 * server.properties and cannot change at run time; other resource types are not supported.
 */
export async function changeResourceConfigs(
  broker: BrokerServices,
  resourceType: number,
  resourceName: string,
  validateOnly: boolean,
  change: (current: Record<string, string>) => Record<string, string>,
): Promise<ConfigChangeResult> {
  try {
    if (resourceType === ConfigResourceType.BROKER) {
      if (resourceName !== '' && resourceName !== String(broker.settings.nodeId))
        return fail(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${broker.settings.nodeId}`);
      const attempted = Object.keys(change({}));
      return fail(
        ErrorCode.INVALID_CONFIG,
        `Cannot update these configs dynamically: ${attempted.join(', ')} (broker configs come from server.properties)`,
      );
    }
    if (resourceType !== ConfigResourceType.TOPIC)
      return fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${resourceType}`);
    const nameError = topicNameError(resourceName);
    if (nameError) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameError);
    let invalid: string | null = null;
    const outcome = await broker.topics.modify(resourceName, (topic) => {
      const next = change(topic.configs);
      invalid = topicConfigsError(next);
      return invalid || validateOnly ? null : { ...topic, configs: next };
    });
    if (outcome === 'missing' || outcome === 'busy')
      return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${resourceName} does not exist`);
    if (invalid) return fail(ErrorCode.INVALID_CONFIG, invalid);
    if (outcome === 'skipped') return OK;
    await broker.replicas.settled();
    broker.logger.info('topic configs changed', { topic: resourceName });
    return OK;
  } catch (e) {
    if (e instanceof ConfigChangeRejected) return fail(e.errorCode, e.message);
    throw e;
  }
}
