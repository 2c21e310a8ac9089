import { alterConfigsApi } from '../../protocol/generated/apis/alter-configs.js';
import type { AlterConfigsRequest } from '../../protocol/generated/messages/alter-configs-request.js';
import type { AlterConfigsResponse } from '../../protocol/generated/messages/alter-configs-response.js';
import { defineHandler } from '../api-handler.js';
import { alterResources } from '../config-changes.js';

/**
 * AlterConfigs (the legacy, non-incremental form): the given configs replace all of a resource's overrides;
 * a config left out returns to its default.
 */
export const alterConfigsHandler = defineHandler<AlterConfigsRequest, AlterConfigsResponse>({
  api: alterConfigsApi,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker }, request) {
    const responses = await alterResources(broker, request.resources, request.validateOnly, (r) => {
      const configs: Record<string, string> = {};
      for (const c of r.configs) if (c.value !== null) configs[c.name] = c.value;
      return () => ({ ...configs });
    });
    return { throttleTimeMs: 0, responses };
  },
});
