import { ErrorCode } from '../../protocol/errors.js';
import { alterConfigsApi } from '../../protocol/generated/apis/alter-configs.js';
import type { AlterConfigsRequest } from '../../protocol/generated/messages/alter-configs-request.js';
import type { AlterConfigsResponse } from '../../protocol/generated/messages/alter-configs-response.js';
import { defineHandler } from '../api-handler.js';
import { AclOperation, configResourceError } from '../authorization.js';
import { alterResources } from '../config-changes.js';
import { ConfigResourceType } from '../config-describer.js';

/**
 * AlterConfigs (the legacy, non-incremental form): the given configs replace all of a resource's overrides (a
 * topic's, or a broker's dynamic configs); a config left out returns to the next source (server.properties or
 * the default).
 */
export const alterConfigsHandler = defineHandler<AlterConfigsRequest, AlterConfigsResponse>({
  api: alterConfigsApi,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, request) {
    const { broker } = ctx;
    const responses = await alterResources(broker, request.resources, request.validateOnly, (r) => {
      // Kafka's check: ALTER_CONFIGS on the topic, or on the cluster for the broker.
      const refused = configResourceError(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
      if (refused !== ErrorCode.NONE) return { errorCode: refused, errorMessage: null };
      const nulls = r.configs.filter((c) => c.value === null).map((c) => c.name);
      // Kafka refuses null values for brokers; for topics a null is taken as "not given", as it has been here.
      if (r.resourceType === ConfigResourceType.BROKER && nulls.length > 0)
        return {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Null value not supported for : ${nulls.join(', ')}`,
        };
      const configs: Record<string, string> = {};
      for (const c of r.configs) if (c.value !== null) configs[c.name] = c.value;
      return () => ({ ...configs });
    });
    return { throttleTimeMs: 0, responses };
  },
});
