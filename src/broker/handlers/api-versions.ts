import { ErrorCode } from '../../protocol/errors.js';
import { apiVersionsApi } from '../../protocol/generated/apis/api-versions.js';
import type { ApiVersionsResponseApiVersion } from '../../protocol/generated/messages/api-versions-response.js';
import { type ApiHandler, defineHandler } from '../api-handler.js';

/** The version ranges advertised: exactly the implemented handlers', in key order. */
export function advertisedApiVersions(handlers: ReadonlyMap<number, ApiHandler>): ApiVersionsResponseApiVersion[] {
  return [...handlers.values()]
    .sort((a, b) => a.api.key - b.api.key)
    .map((h) => ({ apiKey: h.api.key, minVersion: h.minVersion, maxVersion: h.maxVersion }));
}

/** ApiVersions: tells the client which APIs and versions this broker implements. */
export function apiVersionsHandler(handlers: () => ReadonlyMap<number, ApiHandler>): ApiHandler {
  return defineHandler({
    api: apiVersionsApi,
    minVersion: 0,
    maxVersion: 4,
    handle: () => ({
      errorCode: ErrorCode.NONE,
      apiKeys: advertisedApiVersions(handlers()),
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    }),
  });
}
