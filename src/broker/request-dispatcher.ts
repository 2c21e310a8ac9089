import type { LogFields, Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiKey, requestHeaderVersion, responseHeaderVersion } from '../protocol/generated/api-keys.js';
import { encodeApiVersionsResponse } from '../protocol/generated/messages/api-versions-response.js';
import { decodeRequestHeader } from '../protocol/generated/messages/request-header.js';
import { encodeResponseHeader } from '../protocol/generated/messages/response-header.js';
import { DecodeError, Reader, Writer } from '../protocol/primitives/index.js';
import { type Connection, FramingError } from '../server/connection.js';
import type { ApiHandler, BrokerServices } from './api-handler.js';
import { BrokerMetrics } from './broker-metrics.js';
import { quotaUser, REQUEST_PERCENTAGE, requestTimeToPercentage } from './client-quota-manager.js';
import { advertisedApiVersions } from './handlers/api-versions.js';
import { evaluateSaslToken } from './sasl-exchange.js';

/** Bytes every request starts with: api key (int16) and api version (int16). */
const REQUEST_PREFIX_BYTES = 4;

/** What a SASL connection may send before it has authenticated (anything else closes it, as in Kafka). */
const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
]);

/**
 * Requests whose time no request quota counts, as Kafka exempts them: those between brokers (cluster actions).
 * Requests before authentication are exempt too: they are the authenticator's, not a client's.
 */
const REQUEST_QUOTA_EXEMPT: ReadonlySet<number> = new Set([ApiKey.WriteTxnMarkers]);

/** A misbehaving peer gets at most one WARN line per this interval; the rest go at DEBUG and are counted. */
export const CLIENT_ERROR_LOG_INTERVAL_MS = 60_000;
/**
 * Peers remembered by the rate limit. Past this the one remembered longest is forgotten, so that bad bytes
 * from many addresses cannot grow the table; it is also the one whose interval ends first.
 */
const MAX_PEERS_REMEMBERED = 10_000;

/**
 * WARN lines about what clients send, at most one per peer address per interval: a fuzzer or a
 * misconfigured client retrying in a loop must not flood the log. Lines over the limit go at DEBUG; the next
 * WARN for that peer says how many there were (`suppressed`).
 */
export class PeerRateLimitedLog {
  /** Per peer address: when its next WARN may be written, and how many lines were held back since the last. */
  private readonly peers = new Map<string, { nextWarnAt: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = CLIENT_ERROR_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  warn(peer: string, message: string, fields: LogFields): void {
    const now = this.now();
    const entry = this.peers.get(peer);
    if (entry && now < entry.nextWarnAt) {
      entry.suppressed++;
      this.logger.debug(message, fields);
      return;
    }
    // Re-inserted, so that the map's order stays the order in which the intervals end.
    this.peers.delete(peer);
    this.peers.set(peer, { nextWarnAt: now + this.intervalMs, suppressed: 0 });
    if (this.peers.size > MAX_PEERS_REMEMBERED) this.peers.delete(this.peers.keys().next().value!);
    const suppressed = entry?.suppressed ?? 0;
    this.logger.warn(message, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}

/** Raised for a request that ends its connection, as Kafka does for requests it cannot parse. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
}

/** Raised for a request a SASL connection may not send before it has authenticated: it ends the connection. */
export class UnauthenticatedRequestError extends Error {
  override readonly name = 'UnauthenticatedRequestError';
}

/**
 * Turns request frames into handler calls and handler results into response frames: parses the header,
 * checks that the API and version are implemented, decodes the body, and encodes the response with the
 * header version the API and version call for.
 */
export class RequestDispatcher {
  private readonly handlers = new Map<number, ApiHandler>();
  private readonly clientErrors: PeerRateLimitedLog;

  constructor(
    handlers: ApiHandler[],
    private readonly broker: BrokerServices,
    private readonly logger: Logger,
    private readonly metrics: BrokerMetrics = new BrokerMetrics(false),
  ) {
    for (const h of handlers) this.handlers.set(h.api.key, h);
    this.clientErrors = new PeerRateLimitedLog(logger);
  }

  get implemented(): ReadonlyMap<number, ApiHandler> {
    return this.handlers;
  }

  handleFrame = async (frame: Buffer, connection: Connection): Promise<Buffer[] | null> => {
    const sasl = connection.sasl;
    if (sasl !== null && sasl.state !== 'complete') {
      // A failed authentication's answer is on its way; what the client pipelined after it is not read.
      if (sasl.state === 'failed') return null;
      if (sasl.state === 'raw') return this.rawSaslToken(frame, connection);
    }
    const startedMs = this.metrics.requestStarted();
    const handlingStartedMs = performance.now();
    if (frame.length < REQUEST_PREFIX_BYTES) throw new InvalidRequestError(`request of ${frame.length} bytes`);
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    if (sasl?.sessionExpiresAtMs != null && sasl.state === 'complete') {
      // KIP-368: past its session a connection that has not authenticated again is closed at its next request
      // (clients re-authenticate before the end, as Kafka's do at 85 to 95% of the lifetime).
      if (Date.now() > sasl.sessionExpiresAtMs) {
        this.logger.debug('SASL session expired: connection closed', {
          client: `${connection.remoteAddress}:${connection.remotePort}`,
          principal: connection.principal,
        });
        connection.close();
        return null;
      }
    }
    const handler = this.handlers.get(apiKey);
    if (!handler) throw new InvalidRequestError(`unsupported API key ${apiKey}`);
    if (sasl !== null && sasl.state !== 'complete' && !BEFORE_AUTHENTICATION.has(apiKey))
      throw new UnauthenticatedRequestError(`${handler.api.name} request before authentication`);

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
    const handling = handler.handle({ header, apiVersion, connection, broker: this.broker }, request);
    // KIP-124's request time is the time a request holds a request-handling thread. Here that is the time the
    // event loop spends on it: decoding and the handler's synchronous run (up to its first wait, for the disk,
    // the store or a long poll), then encoding the answer. What runs after each of the handler's waits is not
    // attributed to the request.
    const handlerMs = performance.now() - handlingStartedMs;
    const response = await handling;
    this.metrics.requestCompleted(apiKey, handler.api.name, apiVersion, response, startedMs);
    const clientId = header.clientId ?? '';
    // Without any quota (the usual case) no principal is resolved per request, as in the produce and fetch paths.
    const quotasSet = !this.broker.quotas.isEmpty;
    const user = quotasSet ? quotaUser(connection.principal) : '';
    const requestQuota =
      quotasSet &&
      (sasl === null || sasl.state === 'complete') &&
      !REQUEST_QUOTA_EXEMPT.has(apiKey) &&
      this.broker.quotaManager.hasRequestQuota(user, clientId);
    if (requestQuota) {
      const nowMs = Date.now();
      const throttleMs = this.broker.quotaManager.record(
        REQUEST_PERCENTAGE,
        user,
        clientId,
        requestTimeToPercentage(handlerMs),
        nowMs,
      );
      if (throttleMs > 0) {
        // The answer says the larger of this and any byte-rate wait the handler found (Kafka's max of the two).
        const r = response as { throttleTimeMs?: number } | null;
        if (r !== null && typeof r.throttleTimeMs === 'number')
          r.throttleTimeMs = Math.max(r.throttleTimeMs, throttleMs);
        connection.throttle(throttleMs);
      }
    }
    if (response === null) return null;
    const encodingStartedMs = performance.now();
    const w = new Writer(256);
    encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), { correlationId: header.correlationId });
    handler.api.encodeResponse(w, apiVersion, response);
    if (requestQuota) {
      const encodingMs = performance.now() - encodingStartedMs;
      this.broker.quotaManager.recordNoThrottle(
        REQUEST_PERCENTAGE,
        user,
        clientId,
        requestTimeToPercentage(encodingMs),
        Date.now(),
      );
    }
    return w.chunks();
  };

  /**
   * A token of the exchange SaslHandshake v0 started: a bare frame, answered with the challenge as a bare frame.
   * A failure cannot be told to the client in this framing: the connection is closed, as Kafka does.
   */
  private rawSaslToken(frame: Buffer, connection: Connection): Buffer[] {
    const step = evaluateSaslToken(connection, frame, this.broker);
    if ('errorMessage' in step) {
      connection.close();
      return [];
    }
    return [step.challenge];
  }

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

  /**
   * Logs why a connection is being closed. What a client sends is the client's fault: a WARN without a stack
   * trace, rate-limited per peer. An exception from a handler is the broker's own fault and stays an ERROR.
   */
  onConnectionError = (error: unknown, connection: Connection): void => {
    const peer = connection.remoteAddress;
    const client = `${peer}:${connection.remotePort}`;
    if (error instanceof FramingError && error.protocol === 'HTTP') {
      this.clientErrors.warn(peer, "looks like HTTP; this port speaks Kafka's protocol", { client });
    } else if (error instanceof FramingError && error.protocol === 'TLS') {
      this.clientErrors.warn(peer, "looks like TLS; this port speaks Kafka's protocol in plaintext", { client });
    } else if (error instanceof UnauthenticatedRequestError) {
      this.clientErrors.warn(peer, 'closing connection: not authenticated', { client, reason: error.message });
    } else if (error instanceof FramingError || error instanceof InvalidRequestError || error instanceof DecodeError) {
      this.clientErrors.warn(peer, 'closing connection: request not understood', { client, reason: error.message });
    } else {
      this.logger.error('request failed, closing connection', { client, error: error as Error });
    }
  };
}
