import { connect, isIP, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { LiveBrokers } from '../cluster/live-brokers.js';
import type { InterBrokerSettings, ListenerSettings } from '../config/broker-settings.js';
import type { Logger } from '../observability/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { type ApiCodecs, requestHeaderVersion, responseHeaderVersion } from '../protocol/generated/api-keys.js';
import { saslAuthenticateApi } from '../protocol/generated/apis/sasl-authenticate.js';
import { saslHandshakeApi } from '../protocol/generated/apis/sasl-handshake.js';
import { encodeRequestHeader } from '../protocol/generated/messages/request-header.js';
import { decodeResponseHeader } from '../protocol/generated/messages/response-header.js';
import { Reader, Writer } from '../protocol/primitives/index.js';
import builtinRequire from '../security/builtin-require.cjs';
import { SaslAuthenticationError } from '../security/sasl-server.js';
import { ScramClient } from '../security/scram.js';

/** Kafka's request.timeout.ms default: an inter-broker request without an answer by then has failed. */
export const INTER_BROKER_REQUEST_TIMEOUT_MS = 30_000;
/**
 * The largest answer taken from a peer: markers' results are small, a replica fetch's bounded by
 * replica.fetch.response.max.bytes (10 MiB by default) and one batch; this only bounds a broken peer.
 */
const MAX_RESPONSE_BYTES = 128 * 1024 * 1024;
/** SaslHandshake v1: the exchange itself goes in SaslAuthenticate requests (KIP-152). */
const SASL_HANDSHAKE_VERSION = 1;
/** SaslAuthenticate v1+ carries the session lifetime (KIP-368). */
const SASL_AUTHENTICATE_VERSION = 2;
/**
 * A new session is opened once this share of the peer's session lifetime (connections.max.reauth.ms) has passed,
 * before the peer would close the connection at its next request; Kafka's client re-authenticates at 85 to 95%.
 */
const REAUTHENTICATE_AT = 0.85;

/**
 * This broker could not authenticate to a peer: a refused SASL exchange (wrong password, unknown user, mechanism
 * not enabled there) or a failed TLS handshake (untrusted certificate, wrong host name, no client certificate
 * where one is required). Retrying does not help until a configuration changes, so callers report it once.
 */
export class InterBrokerAuthenticationError extends Error {
  override readonly name = 'InterBrokerAuthenticationError';
}

/** Where and how to reach one peer: its endpoint on the inter-broker listener and that listener's security. */
interface PeerTarget {
  nodeId: number;
  host: string;
  port: number;
  /** node:tls options for SSL and SASL_SSL listeners. */
  tls: ConnectionOptions | null;
  sasl: InterBrokerSettings['sasl'] | null;
}

/**
 * Requests from this broker to another (replica fetches, WriteTxnMarkers), on the peer's advertised endpoint of
 * the inter-broker listener (inter.broker.listener.name, or security.inter.broker.protocol's listener), with that
 * listener's security on the client side, as Kafka's brokers use it: TLS trusting the listener's trust store and
 * presenting its key store (used when the peer requires client certificates), host names checked unless
 * ssl.endpoint.identification.algorithm is empty, and SASL with sasl.mechanism.inter.broker.protocol and the
 * credentials of the listener's JAAS entry. WriteTxnMarkers go one connection per request (one per transaction
 * end and broker); replica fetchers keep theirs.
 */
export class InterBrokerClient {
  private correlationId = 0;
  private readonly listener: ListenerSettings | null;
  /** Peers this broker failed to authenticate to on its last request (logged once, until one succeeds). */
  private readonly refusedBy = new Set<number>();

  constructor(
    private readonly nodeId: number,
    listeners: readonly ListenerSettings[],
    private readonly interBroker: InterBrokerSettings | null | undefined,
    private readonly cluster: LiveBrokers,
    private readonly logger?: Logger,
  ) {
    // Brokers built in code without inter-broker settings reach each other on their first plain listener.
    this.listener =
      interBroker === undefined
        ? (listeners.find((l) => !l.ssl && !l.sasl) ?? null)
        : interBroker === null
          ? null
          : (listeners.find((l) => l.name === interBroker.listenerName) ?? null);
  }

  /** Sends one request to broker `nodeId` and decodes its answer; rejects when it cannot be reached or answer. */
  async request<Req, Res>(nodeId: number, api: ApiCodecs<Req, Res>, version: number, body: Req): Promise<Res> {
    const connection = new InterBrokerConnection(this.targetOf(nodeId), `broker-${this.nodeId}`, ++this.correlationId);
    try {
      const response = await connection.request(api, version, body, INTER_BROKER_REQUEST_TIMEOUT_MS);
      this.refusedBy.delete(nodeId);
      return response;
    } catch (e) {
      // A configuration error, not an outage: said once, not at every retry of the same request.
      if (e instanceof InterBrokerAuthenticationError && !this.refusedBy.has(nodeId)) {
        this.refusedBy.add(nodeId);
        this.logger?.error('cannot authenticate to another broker (inter-broker listener security)', {
          broker: nodeId,
          api: api.key,
          error: e.message,
        });
      }
      throw e;
    } finally {
      connection.close();
    }
  }

  /**
   * A connection to broker `nodeId` kept open for many requests, one at a time (a replica fetcher's: one per
   * leader, as Kafka's fetcher threads keep theirs).
   */
  connect(nodeId: number, clientId: string): InterBrokerConnection {
    return new InterBrokerConnection(this.targetOf(nodeId), clientId);
  }

  private targetOf(nodeId: number): PeerTarget {
    const listener = this.listener;
    if (!listener) throw new Error('this broker has no inter-broker listener (inter.broker.listener.name)');
    const endpoint = this.cluster.endpoint(nodeId, listener.name);
    if (!endpoint) throw new Error(`broker ${nodeId} is not live or has no ${listener.name} listener`);
    let tls: ConnectionOptions | null = null;
    if (listener.ssl) {
      // The listener's context options as they are now: a key store renewed at run time is presented at once.
      tls = { ...listener.ssl.contextOptions, rejectUnauthorized: true };
      if (this.interBroker?.tls?.checkHostName === false) tls.checkServerIdentity = () => undefined;
      // SNI takes host names only; an IP address is checked against the certificate's IP addresses.
      if (isIP(endpoint.host) === 0) tls.servername = endpoint.host;
    }
    return { nodeId, host: endpoint.host, port: endpoint.port, tls, sasl: this.interBroker?.sasl ?? null };
  }
}

function encodeFrame<Req, Res>(
  api: ApiCodecs<Req, Res>,
  version: number,
  body: Req,
  correlationId: number,
  clientId: string,
): Buffer {
  const w = new Writer();
  encodeRequestHeader(w, requestHeaderVersion(api.key, version), {
    requestApiKey: api.key,
    requestApiVersion: version,
    correlationId,
    clientId,
  });
  api.encodeRequest(w, version, body);
  const payload = w.toBuffer();
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(payload.length);
  return Buffer.concat([prefix, payload]);
}

function decodeFrame<Req, Res>(
  frame: Buffer,
  api: ApiCodecs<Req, Res>,
  version: number,
  correlationId: number,
  nodeId: number,
): Res {
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(api.key, version));
  if (header.correlationId !== correlationId) throw new Error(`broker ${nodeId} answered another request`);
  return api.decodeResponse(r, version);
}

type Pending = { resolve: (frame: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/**
 * One open connection to another broker, requests sent one at a time. It is opened (TLS handshake, SASL
 * exchange) by its first request. It fails as a whole: after an error, a timeout or the peer closing it, every
 * later request rejects and the owner opens a new one. A SASL session the peer bounds (connections.max.reauth.ms)
 * is replaced by a new connection before it ends.
 */
export class InterBrokerConnection {
  readonly nodeId: number;
  private socket: Socket | null = null;
  private opened: Promise<void> | null = null;
  private sessionEndsAt = Number.POSITIVE_INFINITY;
  private failure: Error | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private busy = false;
  /** A frame came back on the current socket: its TLS session was accepted by the peer. */
  private answered = false;

  constructor(
    private readonly target: PeerTarget,
    private readonly clientId: string,
    private correlationId = 0,
  ) {
    this.nodeId = target.nodeId;
  }

  /** Sends a request and decodes its answer; `timeoutMs` bounds the wait (a long-polling fetch's included). */
  async request<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req, timeoutMs: number): Promise<Res> {
    if (this.failure) throw this.failure;
    if (this.busy) throw new Error('one request at a time on an inter-broker connection');
    this.busy = true;
    try {
      if (this.socket && Date.now() >= this.sessionEndsAt) this.replaceSocket();
      this.opened ??= this.open(INTER_BROKER_REQUEST_TIMEOUT_MS);
      await this.opened;
      return await this.send(api, version, body, timeoutMs);
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    this.fail(new Error(`connection to broker ${this.nodeId} closed`));
  }

  private async send<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req, timeoutMs: number): Promise<Res> {
    const socket = this.socket;
    if (this.failure) throw this.failure;
    if (!socket) throw new Error(`connection to broker ${this.nodeId} is not open`);
    const correlationId = ++this.correlationId;
    const frame = await this.wait(timeoutMs, `no answer from broker ${this.nodeId} within ${timeoutMs} ms`, () =>
      socket.write(encodeFrame(api, version, body, correlationId, this.clientId)),
    );
    return decodeFrame(frame, api, version, correlationId, this.nodeId);
  }

  /** Waits for the next frame (or the connection's readiness), failing the connection after `timeoutMs`. */
  private wait(timeoutMs: number, timeoutMessage: string, start: () => void): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(timeoutMessage)), timeoutMs);
      this.pending = { resolve, reject, timer };
      start();
    });
  }

  /** Connects (and completes the TLS handshake), then authenticates when the listener is SASL. */
  private async open(timeoutMs: number): Promise<void> {
    const { host, port, tls, nodeId } = this.target;
    let tcpUp = false;
    let secured = false;
    const socket: Socket = tls
      ? (builtinRequire('node:tls') as typeof import('node:tls')).connect({ ...tls, host, port })
      : connect(port, host);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once('connect', () => {
      tcpUp = true;
    });
    socket.once('secureConnect', () => {
      secured = true;
    });
    // Connected, but the TLS handshake failed: the peer's certificate is not trusted here, or this broker's there.
    // Under TLS 1.3 the peer checks this broker's certificate after the client's side of the handshake is done:
    // its refusal comes as an alert, or only as the connection closed before the first answer.
    const handshakeFailed = (e?: Error & { code?: string }) =>
      tls !== null && tcpUp && (!secured || !this.answered || /^ERR_SSL_.*ALERT/.test(e?.code ?? ''));
    socket.on('error', (e: Error & { code?: string }) => {
      if (this.socket !== socket) return;
      this.fail(
        handshakeFailed(e)
          ? new InterBrokerAuthenticationError(`SSL handshake with broker ${nodeId} failed: ${e.message}`)
          : e,
      );
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.fail(
        handshakeFailed()
          ? new InterBrokerAuthenticationError(
              `SSL handshake with broker ${nodeId} failed: it closed the connection before answering (does it accept this broker's certificate?)`,
            )
          : new Error(`broker ${nodeId} closed the connection`),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.onData(chunk);
    });
    await this.wait(timeoutMs, `cannot connect to broker ${nodeId} at ${host}:${port} within ${timeoutMs} ms`, () =>
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        const pending = this.pending;
        this.pending = null;
        if (!pending) return;
        clearTimeout(pending.timer);
        pending.resolve(Buffer.alloc(0));
      }),
    );
    if (this.target.sasl) await this.authenticate(this.target.sasl, timeoutMs);
  }

  /** SaslHandshake, then the mechanism's exchange in SaslAuthenticate requests (Kafka's SaslClientAuthenticator). */
  private async authenticate(sasl: NonNullable<InterBrokerSettings['sasl']>, timeoutMs: number): Promise<void> {
    const nodeId = this.nodeId;
    const refused = (why: string) =>
      new InterBrokerAuthenticationError(`authentication with broker ${nodeId} (${sasl.mechanism}) failed: ${why}`);
    const handshake = await this.send(
      saslHandshakeApi,
      SASL_HANDSHAKE_VERSION,
      { mechanism: sasl.mechanism },
      timeoutMs,
    );
    if (handshake.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM)
      throw this.failWith(
        refused(`the listener there enables ${handshake.mechanisms.join(', ') || 'other mechanisms'}`),
      );
    if (handshake.errorCode !== ErrorCode.NONE)
      throw this.failWith(refused(`SaslHandshake error ${handshake.errorCode}`));
    const scram = sasl.mechanism === 'PLAIN' ? null : new ScramClient(sasl.mechanism, sasl.username, sasl.password);
    let message = scram ? scram.initialResponse() : Buffer.from(`\u0000${sasl.username}\u0000${sasl.password}`, 'utf8');
    for (;;) {
      const answer = await this.send(saslAuthenticateApi, SASL_AUTHENTICATE_VERSION, { authBytes: message }, timeoutMs);
      if (answer.errorCode !== ErrorCode.NONE)
        throw this.failWith(refused(answer.errorMessage ?? `SaslAuthenticate error ${answer.errorCode}`));
      if (answer.sessionLifetimeMs > 0n)
        this.sessionEndsAt = Date.now() + Number(answer.sessionLifetimeMs) * REAUTHENTICATE_AT;
      if (!scram) return;
      try {
        message = scram.evaluate(answer.authBytes);
      } catch (e) {
        if (e instanceof SaslAuthenticationError) throw this.failWith(refused(e.message));
        throw e;
      }
      if (scram.complete) return;
    }
  }

  private failWith(error: Error): Error {
    this.fail(error);
    return this.failure ?? error;
  }

  /** Drops the open socket without failing the connection: the next request opens and authenticates anew. */
  private replaceSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.opened = null;
    this.answered = false;
    this.buffered = Buffer.alloc(0);
    this.sessionEndsAt = Number.POSITIVE_INFINITY;
    socket?.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.buffered.length < 4) return;
    const size = this.buffered.readInt32BE(0);
    if (size < 0 || size > MAX_RESPONSE_BYTES) {
      this.fail(new Error(`broker ${this.nodeId} sent a frame of ${size} bytes`));
      return;
    }
    if (this.buffered.length < 4 + size) return;
    const frame = this.buffered.subarray(4, 4 + size);
    this.buffered = this.buffered.subarray(4 + size);
    this.answered = true;
    const pending = this.pending;
    this.pending = null;
    if (!pending) {
      this.fail(new Error(`broker ${this.nodeId} answered a request not sent`));
      return;
    }
    clearTimeout(pending.timer);
    pending.resolve(frame);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.socket?.destroy();
    const pending = this.pending;
    this.pending = null;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(this.failure);
    }
  }
}
