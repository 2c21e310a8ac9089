import { connect, type Socket } from 'node:net';
import type { LiveBrokers } from '../cluster/live-brokers.js';
import type { ListenerSettings } from '../config/broker-settings.js';
import { type ApiCodecs, requestHeaderVersion, responseHeaderVersion } from '../protocol/generated/api-keys.js';
import { encodeRequestHeader } from '../protocol/generated/messages/request-header.js';
import { decodeResponseHeader } from '../protocol/generated/messages/response-header.js';
import { Reader, Writer } from '../protocol/primitives/index.js';

/** Kafka's request.timeout.ms default: an inter-broker request without an answer by then has failed. */
const INTER_BROKER_REQUEST_TIMEOUT_MS = 30_000;
/**
 * The largest answer taken from a peer: markers' results are small, a replica fetch's bounded by
 * replica.fetch.response.max.bytes (10 MiB by default) and one batch; this only bounds a broken peer.
 */
const MAX_RESPONSE_BYTES = 128 * 1024 * 1024;

/**
 * Requests from this broker to another (WriteTxnMarkers), on the other broker's endpoint of this broker's first
 * PLAINTEXT listener (Kafka's default inter-broker listener: security.inter.broker.protocol=PLAINTEXT). One
 * connection per request: these requests are few (one per transaction end and broker), and a connection that
 * fails takes nothing else down with it. TLS and SASL between brokers are not supported yet.
 */
export class InterBrokerClient {
  private correlationId = 0;

  constructor(
    private readonly nodeId: number,
    private readonly listeners: readonly ListenerSettings[],
    private readonly cluster: LiveBrokers,
  ) {}

  /** Sends one request to broker `nodeId` and decodes its answer; rejects when it cannot be reached or answer. */
  async request<Req, Res>(nodeId: number, api: ApiCodecs<Req, Res>, version: number, body: Req): Promise<Res> {
    const endpoint = this.endpointOf(nodeId);
    const correlationId = ++this.correlationId;
    const frame = await exchange(
      endpoint.host,
      endpoint.port,
      encodeFrame(api, version, body, correlationId, `broker-${this.nodeId}`),
    );
    return decodeFrame(frame, api, version, correlationId, nodeId);
  }

  /**
   * A connection to broker `nodeId` kept open for many requests, one at a time (a replica fetcher's: one per
   * leader, as Kafka's fetcher threads keep theirs).
   */
  connect(nodeId: number, clientId: string): InterBrokerConnection {
    const endpoint = this.endpointOf(nodeId);
    return new InterBrokerConnection(nodeId, endpoint.host, endpoint.port, clientId);
  }

  private endpointOf(nodeId: number): { host: string; port: number } {
    const listener = this.listeners.find((l) => !l.ssl && !l.sasl);
    if (!listener) throw new Error('inter-broker requests need a PLAINTEXT listener on every broker');
    const endpoint = this.cluster.endpoint(nodeId, listener.name);
    if (!endpoint) throw new Error(`broker ${nodeId} is not live or has no ${listener.name} listener`);
    return endpoint;
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

/**
 * One open connection to another broker, requests sent one at a time. It fails as a whole: after an error, a
 * timeout or the peer closing it, every later request rejects and the owner opens a new one.
 */
export class InterBrokerConnection {
  private socket: Socket | null = null;
  private failure: Error | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: { resolve: (frame: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null =
    null;
  private correlationId = 0;

  constructor(
    readonly nodeId: number,
    private readonly host: string,
    private readonly port: number,
    private readonly clientId: string,
  ) {}

  /** Sends a request and decodes its answer; `timeoutMs` bounds the wait (a long-polling fetch's included). */
  async request<Req, Res>(api: ApiCodecs<Req, Res>, version: number, body: Req, timeoutMs: number): Promise<Res> {
    if (this.failure) throw this.failure;
    if (this.pending) throw new Error('one request at a time on an inter-broker connection');
    const socket = this.socket ?? this.open();
    const correlationId = ++this.correlationId;
    const frame = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`no answer from broker ${this.nodeId} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending = { resolve, reject, timer };
      socket.write(encodeFrame(api, version, body, correlationId, this.clientId));
    });
    return decodeFrame(frame, api, version, correlationId, this.nodeId);
  }

  close(): void {
    this.fail(new Error(`connection to broker ${this.nodeId} closed`));
  }

  private open(): Socket {
    const socket = connect(this.port, this.host);
    socket.setNoDelay(true);
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error(`broker ${this.nodeId} closed the connection`)));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket = socket;
    return socket;
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

/** Writes `request` on a new connection and resolves with the first response frame (without its size). */
function exchange(host: string, port: number, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let buffered: Buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(INTER_BROKER_REQUEST_TIMEOUT_MS, () =>
      fail(new Error(`no answer from ${host}:${port} within ${INTER_BROKER_REQUEST_TIMEOUT_MS} ms`)),
    );
    socket.once('error', fail);
    socket.once('close', () => reject(new Error(`${host}:${port} closed the connection before answering`)));
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const size = buffered.readInt32BE(0);
      if (size < 0 || size > MAX_RESPONSE_BYTES)
        return fail(new Error(`${host}:${port} sent a frame of ${size} bytes`));
      if (buffered.length < 4 + size) return;
      resolve(buffered.subarray(4, 4 + size));
      socket.destroy();
    });
    socket.write(request);
  });
}
