import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiKey, requestHeaderVersion, responseHeaderVersion } from '../protocol/generated/api-keys.js';
import { encodeApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.js';
import { decodeRequestHeader } from '../protocol/generated/messages/request-header.js';
import { encodeResponseHeader } from '../protocol/generated/messages/response-header.js';
import { DecodeError, Reader, Writer } from '../protocol/primitives/index.js';
import type { Connection } from '../server/connection.js';
import type { ApiHandler, BrokerServices } from './api-handler.js';
import { advertisedApiVersions } from './handlers/api-versions.js';

/** Bytes every request starts with: api key (int16) and api version (int16). */
const REQUEST_PREFIX_BYTES = 4;

/** Raised for a request that ends its connection, as Kafka does for requests it cannot parse. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
}

/**
 * Turns request frames into handler calls and handler results into response frames: parses the header,
 * checks that the API and version are implemented, decodes the body, and encodes the response with the
 * header version the API and version call for.
 */
export class RequestDispatcher {
  private readonly handlers = new Map<number, ApiHandler>();

  constructor(
    handlers: ApiHandler[],
    private readonly broker: BrokerServices,
    private readonly logger: Logger,
  ) {
    for (const h of handlers) this.handlers.set(h.api.key, h);
  }

  get implemented(): ReadonlyMap<number, ApiHandler> {
    return this.handlers;
  }

  handleFrame = async (frame: Buffer, connection: Connection): Promise<Buffer[] | null> => {
    if (frame.length < REQUEST_PREFIX_BYTES) throw new InvalidRequestError(`request of ${frame.length} bytes`);
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const handler = this.handlers.get(apiKey);
    if (!handler) throw new InvalidRequestError(`unsupported API key ${apiKey}`);

    const r = new Reader(frame);
    const header = decodeRequestHeader(r, requestHeaderVersion(apiKey, apiVersion));
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      // KIP-511: an ApiVersions request of a version the broker does not know is answered with
      // UNSUPPORTED_VERSION and the supported ranges, in version 0, so the client can pick one.
      if (apiKey === ApiKey.ApiVersions) return this.unsupportedApiVersions(header.correlationId);
      throw new InvalidRequestError(`${handler.api.name} version ${apiVersion} is not supported`);
    }
    let request: unknown;
    try {
      request = handler.api.decodeRequest(r, apiVersion);
    } catch (e) {
      if (e instanceof DecodeError)
        throw new InvalidRequestError(`malformed ${handler.api.name} v${apiVersion}: ${e.message}`);
      throw e;
    }
    const response = await handler.handle({ header, apiVersion, connection, broker: this.broker }, request);
    if (response === null) return null;
    const w = new Writer(256);
    encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), { correlationId: header.correlationId });
    handler.api.encodeResponse(w, apiVersion, response);
    return w.chunks();
  };

  private unsupportedApiVersions(correlationId: number): Buffer[] {
    const w = new Writer(256);
    encodeResponseHeader(w, 0, { correlationId });
    encodeApiVersionsResponse(w, 0, {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: advertisedApiVersions(this.handlers),
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    });
    return w.chunks();
  }

  /** Logs why a connection is being closed. Client mistakes are not broker errors. */
  onConnectionError = (error: unknown, connection: Connection): void => {
    const fields = { client: `${connection.remoteAddress}:${connection.remotePort}`, reason: String(error) };
    if (error instanceof InvalidRequestError || error instanceof DecodeError)
      this.logger.info('closing connection', fields);
    else this.logger.error('request failed, closing connection', { ...fields, error: error as Error });
  };
}
