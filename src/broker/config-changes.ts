import { topicNameError } from '../cluster/topic-name.js';
import { dynamicBrokerConfigsError, RELOADABLE_LISTENER_SSL_KEY } from '../config/dynamic-broker-config.js';
import { topicConfigsError } from '../config/topic-config.js';
import { ErrorCode } from '../protocol/errors.js';
import { type BrokerServices, repeatedNames } from './api-handler.js';
import { ConfigResourceType } from './config-describer.js';
import { ListenerTls } from './listener-tls.js';
import { metadataStoreError } from './metadata-errors.js';

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
 * topics get their overrides validated then stored (unless validateOnly); brokers their dynamic configs (see
 * `changeBrokerConfigs`); other resource types are not supported.
 */
export async function changeResourceConfigs(
  broker: BrokerServices,
  resourceType: number,
  resourceName: string,
  validateOnly: boolean,
  change: (current: Record<string, string>) => Record<string, string>,
): Promise<ConfigChangeResult> {
  try {
    if (resourceType === ConfigResourceType.BROKER)
      return await changeBrokerConfigs(broker, resourceName, validateOnly, change);
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
    const unreachable = metadataStoreError(e);
    if (unreachable) return fail(unreachable.errorCode, unreachable.errorMessage);
    throw e;
  }
}

/**
 * Kafka's dynamic broker configs: on this broker's id (per-broker) or "" (the cluster-wide default). The resulting
 * set is checked as Kafka checks it (read-only names and bad values answer INVALID_REQUEST, KAFKA-13609), then
 * stored in the metadata store unless validateOnly; the broker applies it before this answers.
 */
async function changeBrokerConfigs(
  broker: BrokerServices,
  resourceName: string,
  validateOnly: boolean,
  change: (current: Record<string, string>) => Record<string, string>,
): Promise<ConfigChangeResult> {
  const nodeId = broker.settings.nodeId;
  if (resourceName !== '') {
    if (!/^-?\d+$/.test(resourceName))
      return fail(ErrorCode.INVALID_REQUEST, `Node id must be an integer, but it is: ${resourceName}`);
    if (Number(resourceName) !== nodeId)
      return fail(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId}, but received ${resourceName}`);
  }
  let invalid: string | null = null;
  let stored: Record<string, string> = {};
  const outcome = await broker.brokerConfigs.modify(resourceName, (current) => {
    const next = change(current);
    invalid = dynamicBrokerConfigsError(next, resourceName !== '');
    // A listener's new key or trust store must load and name the broker as before (checked here, before storing).
    if (!invalid && ListenerTls.touches(next)) invalid = broker.listenerTls.check(next);
    stored = next;
    return invalid || validateOnly ? null : next;
  });
  if (invalid) return fail(ErrorCode.INVALID_REQUEST, invalid);
  if (outcome === 'busy')
    return fail(ErrorCode.UNKNOWN_SERVER_ERROR, `Broker configs of ${resourceName || '<default>'} kept changing`);
  if (outcome === 'updated')
    broker.logger.info('dynamic broker configs changed', { resource: resourceName || '<default>' });
  if (!validateOnly && resourceName !== '') {
    // Served before the answer; a store location set again to the same path reads its file again (renewed in place).
    const requested = Object.keys(change({})).filter((k) => RELOADABLE_LISTENER_SSL_KEY.test(k));
    const reread = new Set(requested.map((k) => k.split('.')[2]!));
    if (requested.length > 0 || ListenerTls.touches(stored)) broker.listenerTls.apply(stored, reread);
  }
  return OK;
}
