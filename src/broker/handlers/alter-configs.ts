import { ErrorCode } from '../../protocol/errors.js';
import {
  type AlterConfigsRequest,
  type AlterConfigsResponse,
  type AlterConfigsResponseAlterConfigsResourceResponse,
  apis,
} from '../../protocol/generated/index.js';
import { defineHandler } from '../api-handler.js';
import { changeResourceConfigs, resourceKey } from '../config-changes.js';

/**
 * AlterConfigs (the legacy, non-incremental form): the given configs replace all of a resource's overrides;
 * a config left out returns to its default.
 */
export const alterConfigsHandler = defineHandler<AlterConfigsRequest, AlterConfigsResponse>({
  api: apis.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker }, request) {
    const seen = new Map<string, number>();
    for (const r of request.resources) {
      const key = resourceKey(r.resourceType, r.resourceName);
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const responses: AlterConfigsResponseAlterConfigsResourceResponse[] = [];
    for (const r of request.resources) {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      if ((seen.get(resourceKey(r.resourceType, r.resourceName)) ?? 0) > 1) {
        responses.push({
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'Duplicate resource in request',
        });
        continue;
      }
      const configs: Record<string, string> = {};
      for (const c of r.configs) if (c.value !== null) configs[c.name] = c.value;
      const result = await changeResourceConfigs(broker, r.resourceType, r.resourceName, request.validateOnly, () => ({
        ...configs,
      }));
      responses.push({ ...base, ...result });
    }
    return { throttleTimeMs: 0, responses };
  },
});
